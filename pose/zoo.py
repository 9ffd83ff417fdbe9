"""The model zoo: named pose models, person detectors and backbones, fetched on first use.

The table :data:`ZOO` is plain data. Each entry names its upstream URL, the file name it is cached
under and its sha256: the full hash where it is known, else the prefix that upstream publishes
(mmpose's file names carry the first 8 hex digits of the file's sha256, computed by its publishing
script). :func:`fetch` streams a download with a progress bar into a temp file beside the cache
entry, checks the hash and renames it into place, so a failed, corrupt or interrupted download
leaves nothing in the cache and two processes fetching the same file end with one good file.

Environment:

* ``HRTRACK_HOME`` (default ``~/.cache/hrtrack``): the cache is ``$HRTRACK_HOME/models/<file>``;
* ``HRTRACK_MIRROR=BASE_URL``: fetch ``BASE_URL/<file>`` instead of the upstream URL (air-gapped
  sites, and the tests, which serve files from a loopback server);
* ``HRTRACK_OFFLINE=1``: never touch the network; a model that is not cached is an error;
* ``HRTRACK_ZOO=FILE.json``: extra entries (a list of objects with :class:`ModelEntry`'s fields),
  added to the table or replacing entries of the same name: your own models, or test models.
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import urllib.error
import urllib.request
import zipfile
from dataclasses import dataclass, fields
from pathlib import Path

from tqdm import tqdm

from pose.errors import HrtrackError
from pose.files import file_sha256, hrtrack_home, sweep_stale, temp_name, writable_home

#: The bundled demo model (no download).
DEMO_FILE = Path(__file__).resolve().parent / "assets" / "demo_hrnet_w16_128x96_synth.pth"
_MMPOSE = "https://download.openmmlab.com/mmpose"
_MMPOSE_LICENCE = "Apache-2.0 (mmpose model zoo)"
_YOLOX_ZIP = f"{_MMPOSE}/v1/projects/rtmposev1/onnx_sdk"
_RTMDET_URL = (
    "https://github.com/open-mmlab/mmpose/raw/50ad8ce5fda5430b323877559daf746546b64408/projects/rtmpose/examples/"
    "RTMPose-Deploy/Windows/OnnxRumtime-CPU/resource/model/rtmpose-cpu/rtmpose-ort/rtmdet-nano/end2end.onnx"
)


class ZooError(HrtrackError):
    """A zoo model that cannot be found, fetched or verified; the message is one line."""


@dataclass(frozen=True)
class ModelEntry:
    """One named model. ``sha256`` is the full hash or the published prefix of it.

    ``archive_member``: for a zip download, the member (its name's ending) extracted as the model
    file ``file``; the zip itself is cached as ``archive`` (default: the URL's last part). Pose
    entries also carry ``arch``, ``input_size`` (H, W) and ``layout``; detectors ``input_size`` and
    ``normalize`` (mmdet's mean/std on the BGR input, as RTMDet needs; YOLOX takes raw 0-255).
    """

    name: str
    kind: str  # "pose", "detector" or "backbone"
    url: str | None  # None: bundled with hrtrack, at ``file`` (an absolute path)
    sha256: str
    file: str = ""  # the cached file name; default: the URL's last part
    size: int | None = None
    licence: str = ""
    source: str = ""
    arch: str | None = None
    input_size: tuple[int, int] | None = None
    layout: str | None = None
    accuracy: str = ""
    archive: str | None = None
    archive_member: str | None = None
    normalize: bool = True

    def __post_init__(self) -> None:
        if self.url is None:
            return
        base = self.url.rsplit("/", 1)[-1]
        if self.archive_member and not self.archive:  # a zip: cached under its URL name, the member extracted
            object.__setattr__(self, "archive", base)
        if not self.file:
            object.__setattr__(self, "file", base)

    @property
    def full_hash(self) -> bool:
        return len(self.sha256) == 64

    @property
    def download_name(self) -> str:
        """The file fetched from the URL (or the mirror): the archive for zip entries."""
        return self.archive or self.file


_ENTRIES = (
    ModelEntry(
        "hrnet_w32_coco_256x192",
        "pose",
        f"{_MMPOSE}/top_down/hrnet/hrnet_w32_coco_256x192-c78dce93_20200708.pth",
        "c78dce93",
        licence=_MMPOSE_LICENCE,
        source="mmpose (HRNet, Sun et al. 2019), trained on COCO train2017",
        arch="hrnet_w32",
        input_size=(256, 192),
        layout="coco",
        accuracy="COCO val2017 AP 74.6 (person detector AP 56.4)",
    ),
    ModelEntry(
        "hrnet_w48_coco_384x288",
        "pose",
        f"{_MMPOSE}/top_down/hrnet/hrnet_w48_coco_384x288-314c8528_20200708.pth",
        "314c8528",
        licence=_MMPOSE_LICENCE,
        source="mmpose (HRNet, Sun et al. 2019), trained on COCO train2017",
        arch="hrnet_w48",
        input_size=(384, 288),
        layout="coco",
        accuracy="COCO val2017 AP 78.1 (person detector AP 56.4)",
    ),
    ModelEntry(
        "hrnet_w32_posetrack18_256x192",
        "pose",
        f"{_MMPOSE}/top_down/hrnet/hrnet_w32_posetrack18_256x192-1ee951c4_20201028.pth",
        "1ee951c4",
        licence=_MMPOSE_LICENCE + "; trained on PoseTrack18 (research-only data terms)",
        source="mmpose: COCO pre-trained, fine-tuned on PoseTrack18",
        arch="hrnet_w32",
        input_size=(256, 192),
        layout="posetrack18",
        accuracy="PoseTrack18 val mAP 83.4 (GT boxes)",
    ),
    ModelEntry(
        "hrnet_w48_posetrack18_384x288",
        "pose",
        f"{_MMPOSE}/top_down/hrnet/hrnet_w48_posetrack18_384x288-5fd6d3ff_20211130.pth",
        "5fd6d3ff",
        licence=_MMPOSE_LICENCE + "; trained on PoseTrack18 (research-only data terms)",
        source="mmpose: COCO pre-trained, fine-tuned on PoseTrack18 (the HRNet paper's setting)",
        arch="hrnet_w48",
        input_size=(384, 288),
        layout="posetrack18",
        accuracy="PoseTrack18 val mAP 84.6 (GT boxes)",
    ),
    ModelEntry(
        "demo_synth_w16",
        "pose",
        None,
        "",
        file=str(DEMO_FILE),
        licence="MIT (this project)",
        source="hrtrack: trained on the synthetic world only (scripts/train_demo_model.sh)",
        arch="hrnet_w16",
        input_size=(128, 96),
        layout="posetrack18",
        accuracy="synthetic PoseTrack mAP 83.2 (GT boxes, bench synth)",
    ),
    ModelEntry(
        "hrnet_w32_imagenet",
        "backbone",
        f"{_MMPOSE}/pretrain_models/hrnet_w32-36af842e.pth",
        "36af842e",
        licence="MIT (HRNet-Image-Classification), mirrored by mmpose",
        source="ImageNet-pretrained HRNet-W32 backbone for hrtrack train",
        arch="hrnet_w32",
    ),
    ModelEntry(
        "hrnet_w48_imagenet",
        "backbone",
        f"{_MMPOSE}/pretrain_models/hrnet_w48-8ef0771d.pth",
        "8ef0771d",
        licence="MIT (HRNet-Image-Classification), mirrored by mmpose",
        source="ImageNet-pretrained HRNet-W48 backbone for hrtrack train",
        arch="hrnet_w48",
    ),
    ModelEntry(
        "rtmdet_nano_person",
        "detector",
        _RTMDET_URL,
        "b8585adb6d1352796f6e86337e09c3459b830645a7e7192d9381670bea2facbd",
        file="rtmdet_nano_person.onnx",
        size=4_012_393,
        licence="Apache-2.0",
        source="mmpose RTMPose deploy example (mmdeploy end2end export of RTMDet-nano, person)",
        input_size=(320, 320),
    ),
    ModelEntry(
        "yolox_tiny_humanart",
        "detector",
        f"{_YOLOX_ZIP}/yolox_tiny_8xb8-300e_humanart-6f3252f9.zip",
        "6f3252f9",
        file="yolox_tiny_humanart.onnx",
        licence="Apache-2.0",
        source="mmpose RTMPose ONNX SDK: YOLOX-tiny trained on HumanArt (mmdeploy end2end)",
        input_size=(416, 416),
        archive_member="end2end.onnx",
        normalize=False,
    ),
    ModelEntry(
        "yolox_m_humanart",
        "detector",
        f"{_YOLOX_ZIP}/yolox_m_8xb8-300e_humanart-c2c7a14a.zip",
        "c2c7a14a",
        file="yolox_m_humanart.onnx",
        licence="Apache-2.0",
        source="mmpose RTMPose ONNX SDK: YOLOX-m trained on HumanArt (mmdeploy end2end)",
        input_size=(640, 640),
        archive_member="end2end.onnx",
        normalize=False,
    ),
    ModelEntry(
        "yolox_x_humanart",
        "detector",
        f"{_YOLOX_ZIP}/yolox_x_8xb8-300e_humanart-a39d44ed.zip",
        "a39d44ed",
        file="yolox_x_humanart.onnx",
        licence="Apache-2.0",
        source="mmpose RTMPose ONNX SDK: YOLOX-x trained on HumanArt (mmdeploy end2end)",
        input_size=(640, 640),
        archive_member="end2end.onnx",
        normalize=False,
    ),
)

#: The built-in table, by name (``HRTRACK_ZOO`` entries are added by :func:`zoo`).
ZOO: dict[str, ModelEntry] = {e.name: e for e in _ENTRIES}

#: Defaults of ``hrtrack track``: the detector, and the pose model on a GPU and on the CPU.
DEFAULT_DETECTOR = "rtmdet_nano_person"
DEFAULT_POSE_GPU = "hrnet_w48_posetrack18_384x288"
DEFAULT_POSE_CPU = "hrnet_w32_posetrack18_256x192"


home = hrtrack_home


def offline() -> bool:
    return os.environ.get("HRTRACK_OFFLINE", "").strip().lower() not in ("", "0", "false", "no")


def _entry_from_json(obj: object, source: str) -> ModelEntry:
    known = {f.name for f in fields(ModelEntry)}
    if (
        not isinstance(obj, dict)
        or not {"name", "kind", "sha256"} <= obj.keys()
        or not (obj.get("url") or obj.get("file"))
    ):
        raise ZooError(f"{source}: each entry needs at least name, kind, sha256, and a url or a file")
    unknown = set(obj) - known
    if unknown:
        raise ZooError(f"{source}: entry {obj['name']!r}: unknown field {sorted(unknown)[0]!r}")
    values = dict(obj)
    values.setdefault("url", None)
    if values.get("input_size") is not None:
        values["input_size"] = tuple(int(v) for v in values["input_size"])
    return ModelEntry(**values)


def zoo() -> dict[str, ModelEntry]:
    """The zoo table: the built-in entries plus those of ``$HRTRACK_ZOO`` (which win by name)."""
    table = dict(ZOO)
    extra = os.environ.get("HRTRACK_ZOO")
    if extra:
        try:
            items = json.loads(Path(extra).read_text())
        except (OSError, ValueError) as exc:
            raise ZooError(f"{extra} (HRTRACK_ZOO): cannot read the extra zoo entries ({exc})") from None
        for item in items if isinstance(items, list) else [items]:
            entry = _entry_from_json(item, extra)
            table[entry.name] = entry
    return table


def lookup(name: str, kind: str | None = None) -> ModelEntry | None:
    """The entry called ``name`` of ``kind``, or None (a path or a spec, not a zoo name)."""
    entry = zoo().get(name)
    return entry if entry is not None and (kind is None or entry.kind == kind) else None


def get(name: str, kind: str | None = None) -> ModelEntry:
    """The entry called ``name`` (of ``kind``, if given); a one-line error listing the names otherwise."""
    entry = lookup(name, kind)
    if entry is None:
        names = ", ".join(n for n, e in zoo().items() if kind is None or e.kind == kind)
        raise ZooError(f"{name}: not a model{'' if kind is None else ' of kind ' + kind} in the zoo ({names})")
    return entry


def match_file(path: str | os.PathLike[str], kind: str | None = None) -> ModelEntry | None:
    """The entry whose cached file name is ``path``'s name (a zoo file placed by hand), or None."""
    name = Path(path).name
    for entry in zoo().values():
        if Path(entry.file).name == name and (kind is None or entry.kind == kind):
            return entry
    return None


def cached_path(entry: ModelEntry) -> Path:
    """Where the model file of ``entry`` lives (the bundled path for bundled entries)."""
    return Path(entry.file) if entry.url is None else home() / "models" / entry.file


def is_cached(entry: ModelEntry) -> bool:
    return cached_path(entry).is_file()


def url_of(entry: ModelEntry) -> str:
    """The URL a fetch reads: ``$HRTRACK_MIRROR/<file>`` when a mirror is set, else upstream."""
    mirror = os.environ.get("HRTRACK_MIRROR", "").strip()
    if mirror:
        return mirror.rstrip("/") + "/" + entry.download_name
    return str(entry.url)


def hash_note(entry: ModelEntry) -> str:
    return f"sha256 {entry.sha256}" if entry.full_hash else f"sha256 starting {entry.sha256}"


def _fail(entry: ModelEntry, url: str, reason: str) -> ZooError:
    return ZooError(
        f"cannot fetch {entry.name} from {url} ({reason}); download it and place it at "
        f"{home() / 'models' / entry.download_name} ({hash_note(entry)})"
    )


def _download(url: str, dest: Path, label: str, progress: bool, timeout: float = 60.0) -> None:
    """Stream ``url`` into ``dest`` with a progress bar; raises on HTTP errors or a short body."""
    request = urllib.request.Request(url, headers={"User-Agent": "hrtrack"})
    with urllib.request.urlopen(request, timeout=timeout) as response, open(dest, "wb") as f:
        total = response.headers.get("Content-Length")
        total = int(total) if total and total.isdigit() else None
        got = 0
        with tqdm(
            total=total, unit="B", unit_scale=True, desc=label, disable=None if progress else True, leave=False
        ) as bar:
            while block := response.read(1 << 16):
                f.write(block)
                got += len(block)
                bar.update(len(block))
        if total is not None and got != total:
            raise ConnectionError(f"connection closed after {got} of {total} bytes")


def _verify(entry: ModelEntry, path: Path) -> None:
    digest = file_sha256(path)
    if not digest.startswith(entry.sha256.lower()):
        raise HrtrackError(f"sha256 mismatch: got {digest[: max(8, len(entry.sha256))]}, expected {entry.sha256}")
    if entry.size is not None and not entry.archive and path.stat().st_size != entry.size:
        raise HrtrackError(f"size mismatch: got {path.stat().st_size} bytes, expected {entry.size}")


def _extract(entry: ModelEntry, archive: Path, dest: Path) -> None:
    """Copy the member of ``archive`` ending with ``entry.archive_member`` to ``dest``."""
    with zipfile.ZipFile(archive) as z:
        members = [m for m in z.namelist() if m.endswith(str(entry.archive_member))]
        if len(members) != 1:
            raise HrtrackError(f"the archive holds {len(members)} files named {entry.archive_member}")
        with z.open(members[0]) as src, open(dest, "wb") as out:
            shutil.copyfileobj(src, out)


def fetch(name_or_entry: str | ModelEntry, progress: bool = True, again: bool = False) -> Path:
    """The local file of a zoo model, downloaded, verified and cached on first use.

    A second use reads the cache (its hash checked, see :func:`verify_cached`) and makes no
    request; a cached file that does not match its hash is an error, or with ``again`` (``models
    fetch``) downloaded anew. Errors (no network, HTTP error, hash
    mismatch, offline without a cached file) are :class:`ZooError` naming the URL and the path
    to place the file at by hand.
    """
    entry = name_or_entry if isinstance(name_or_entry, ModelEntry) else get(name_or_entry)
    path = cached_path(entry)
    stale = False
    if path.is_file():
        if entry.url is None or verify_cached(entry):
            return path
        if not again:
            raise ZooError(mismatch_message(entry))
        stale = True  # fetched again below: the download replaces it only once its own hash matches
    if entry.url is None:
        raise ZooError(f"{entry.name}: the bundled file {path} is missing (reinstall hrtrack)")
    url = url_of(entry)
    folder = path.parent
    if offline():
        if stale:
            raise ZooError(mismatch_message(entry) + "; HRTRACK_OFFLINE is set, so it is left as it is")
        raise ZooError(
            f"{entry.name}: not in the cache and HRTRACK_OFFLINE is set; download {url} and place it at "
            f"{folder / entry.download_name} ({hash_note(entry)})"
        )
    writable_home(f"to download {entry.name}")
    folder.mkdir(parents=True, exist_ok=True)
    archive = folder / entry.archive if entry.archive else None
    temps: list[Path] = []
    try:
        if archive is not None and archive.is_file() and not stale:
            downloaded = archive  # fetched before (e.g. placed by hand): only extract it
        else:
            downloaded = temp_name(folder / entry.download_name, ".part")  # swept if this fetch is killed
            downloaded.touch(0o600, exist_ok=False)
            temps.append(downloaded)
            _download(url, downloaded, entry.name, progress)
        _verify(entry, downloaded)
        if archive is not None:
            tmp = temp_name(path, ".part")
            tmp.touch(0o600, exist_ok=False)
            temps.append(tmp)
            _extract(entry, downloaded, tmp)
            if downloaded != archive:
                os.replace(downloaded, archive)
            os.replace(tmp, path)
        else:
            os.replace(downloaded, path)
        for done in (path, archive):
            if done is not None:
                sweep_stale(done)
    except urllib.error.HTTPError as exc:
        raise _fail(entry, url, f"HTTP {exc.code} {exc.reason}") from None
    except urllib.error.URLError as exc:
        raise _fail(entry, url, str(exc.reason)) from None
    except (OSError, ValueError, zipfile.BadZipFile) as exc:
        raise _fail(entry, url, str(exc) or type(exc).__name__) from None
    finally:
        for tmp in temps:
            tmp.unlink(missing_ok=True)
    return path


def verify_cached(entry: ModelEntry) -> bool:
    """Whether the cached download of ``entry`` matches its hash (False if not cached). Checked at
    every use, hashed once per process for each state of the file (its size and time): a file
    replaced in the cache is never used under a zoo name (about 0.3 s for 115 MB)."""
    if entry.url is None:
        return cached_path(entry).is_file()
    target = home() / "models" / entry.download_name
    if not target.is_file():
        return False
    st = target.stat()
    return _matches(entry, str(target), st.st_size, st.st_mtime_ns)


@functools.lru_cache(maxsize=64)
def _matches(entry: ModelEntry, target: str, size: int, mtime_ns: int) -> bool:
    """The hash check of one state of a file (its size and time in the key): once per process."""
    try:
        _verify(entry, Path(target))
    except ValueError:
        return False
    return True


def mismatch_message(entry: ModelEntry) -> str:
    """The error of a cached file that is not the file its hash says."""
    target = home() / "models" / entry.download_name
    got = file_sha256(target) if target.is_file() else "missing"
    return (
        f"{target}: cached as {entry.name}, but its sha256 is {got[:16]}…, not {entry.sha256}: "
        f"remove it, or run hrtrack models fetch {entry.name} to download it again"
    )


def describe(entries: list[ModelEntry] | None = None) -> str:
    """The zoo as a text table: name, kind, size, layout, cached, licence, source, accuracy."""
    rows = [("name", "kind", "size", "layout/input", "cached", "sha256", "licence", "source", "accuracy")]
    for e in entries if entries is not None else list(zoo().values()):
        size = e.size if e.size is not None else (cached_path(e).stat().st_size if is_cached(e) else None)
        layout = " ".join(str(x) for x in (e.layout, "x".join(map(str, e.input_size or ())) or None) if x)
        rows.append(
            (
                e.name,
                e.kind,
                f"{size / 1e6:.1f} MB" if size else "?",
                layout or "-",
                _cache_state(e),
                "-" if e.url is None else (e.sha256[:12] + "…" if e.full_hash else e.sha256 + " (prefix only)"),
                e.licence,
                e.source,
                e.accuracy or "-",
            )
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]) - 1)]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=False)) + "  " + r[-1] for r in rows)


def _cache_state(entry: ModelEntry) -> str:
    if entry.url is None:
        return "bundled"
    if not is_cached(entry):
        return "no"
    return "yes" if verify_cached(entry) else "HASH MISMATCH"


@dataclass(frozen=True)
class PoseChoice:
    """The pose model a run uses: its file and what it implies (architecture, input size, layout)."""

    path: Path | None  # None: random weights (benchmarks)
    arch: str
    input_size: tuple[int, int]
    layout: str
    label: str  # the zoo name, or the path as given


def resolve_pose(
    weights: str | None,
    device: str = "cpu",
    arch: str | None = None,
    input_size: tuple[int, int] | None = None,
    layout: str | None = None,
    progress: bool = True,
) -> PoseChoice:
    """Which pose model ``--weights`` means, fetching zoo models on first use.

    ``weights`` is a zoo name, a path, or None (the default by device: W48 384x288 PoseTrack on
    a GPU, W32 256x192 PoseTrack on the CPU). A zoo name, or a path whose file name is a zoo
    entry's cached file name, implies the architecture, input size and keypoint layout; an explicit
    ``arch`` or ``layout`` that contradicts it is an error (a different ``input_size`` is allowed:
    the network is fully convolutional). A plain path defaults to hrnet_w32, 256x192, COCO layout.
    """
    if weights is None:
        weights = DEFAULT_POSE_GPU if device.startswith("cuda") else DEFAULT_POSE_CPU
    entry = lookup(weights, "pose")
    path: Path
    if entry is not None:
        path = fetch(entry, progress)
        label = entry.name
    else:
        path = Path(weights)
        if not path.is_file():
            if os.sep not in weights and not path.suffix:
                raise ZooError(
                    f"--weights {weights}: neither a file nor a pose model of the zoo "
                    f"({', '.join(n for n, e in zoo().items() if e.kind == 'pose')})"
                )
            raise ZooError(f"{path}: checkpoint file not found")
        entry = match_file(path, "pose")
        label = str(weights) if entry is None else f"{weights} ({entry.name})"
    if entry is None:
        return PoseChoice(path, arch or "hrnet_w32", input_size or (256, 192), layout or "coco", label)
    for option, given, implied in (("--arch", arch, entry.arch), ("--keypoint-layout", layout, entry.layout)):
        if given is not None and given != implied:
            raise ZooError(f"{option} {given}: the zoo model {entry.name} is {implied}")
    return PoseChoice(
        path, str(entry.arch), tuple(input_size or entry.input_size or (256, 192)), str(entry.layout), label
    )
