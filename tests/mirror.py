"""A loopback HTTP mirror for tests of the model zoo: serves in-memory files on 127.0.0.1.

``Mirror.files`` maps a file name to its bytes; ``Mirror.faults`` makes a file misbehave
(``"corrupt"``: one byte flipped, ``"drop"``: the connection closes half-way through the body,
``"together"``: no byte is sent before two requests for the file are in flight, then the body
goes out in small pieces with pauses, so that both downloads overlap). A name not in ``files`` is a 404.
``Mirror.requests`` counts the GET requests per name.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Mirror:
    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        self.faults: dict[str, str] = {}
        self.requests: Counter[str] = Counter()
        self.barrier = threading.Barrier(2, timeout=60)
        mirror = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                name = self.path.lstrip("/")
                mirror.requests[name] += 1
                data = mirror.files.get(name)
                if data is None:
                    self.send_error(404, "Not Found")
                    return
                fault = mirror.faults.get(name)
                if fault == "corrupt":
                    data = bytes([data[0] ^ 0xFF]) + data[1:]
                self.send_response(200)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if fault == "drop":
                    self.wfile.write(data[: len(data) // 2])
                    self.wfile.flush()
                    self.close_connection = True
                    return
                if fault == "together":
                    mirror.barrier.wait()
                    step = max(1, len(data) // 20)
                    for i in range(0, len(data), step):
                        self.wfile.write(data[i : i + step])
                        self.wfile.flush()
                        time.sleep(0.02)
                    return
                self.wfile.write(data)

            def log_message(self, *args: object) -> None:  # keep the test output clean
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
