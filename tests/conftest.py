"""Shared test helpers: the real-data folder (../shared/data) and small models."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

# FFmpeg (inside OpenCV) reads its log level once per process, at its first use: set it as
# ``hrtrack`` does before any test uses it, so that in-process runs are as quiet as the command.
os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


@pytest.fixture
def shared_data() -> Path:
    """The real test material beside the checkout; skips the test when it is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip("../shared/data is not present")
    return SHARED_DATA


@pytest.fixture(autouse=True)
def _no_downloads(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests never reach outside: the model zoo is offline with an empty cache unless a test serves
    files from a loopback mirror (tests/mirror.py) and turns this off."""
    monkeypatch.setenv("HRTRACK_OFFLINE", "1")
    monkeypatch.setenv("HRTRACK_HOME", str(tmp_path_factory.getbasetemp() / "hrtrack_home"))
    monkeypatch.delenv("HRTRACK_MIRROR", raising=False)
    monkeypatch.delenv("HRTRACK_ZOO", raising=False)
