"""``hrtrack track SRC...``: a corpus of tiny synthetic sequences, serial, ``--workers 2`` and
``--ray``, resumed, with a failing sequence, a lost Ray worker; and flat memory in video length."""

from __future__ import annotations

import gc
import importlib.util
import shutil
import weakref
from pathlib import Path

import pytest

from tracker.cli import main
from tracker.synth import SynthConfig, generate

#: One torch thread per sequence in every run: oneDNN's sums depend on the thread count.
TRACK = ["track", "--detector", "gt", "--weights", "demo_synth_w16", "--quiet", "--threads", "1"]
NAMES = ["000001_synth", "000002_synth", "000003_synth"]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three tiny sequences (frames, PoseTrack 2017 and 2018 GT) and a serial run's outputs."""
    root = tmp_path_factory.mktemp("corpus")
    generate(SynthConfig(sequences=3, frames=8, width=192, height=128, people=2, seed=21, write_video=False), root)
    return root


def _files(out: Path) -> dict[str, bytes]:
    return {str(p.relative_to(out)): p.read_bytes() for p in sorted(out.rglob("*.json"))}


@pytest.fixture(scope="module")
def serial(corpus: Path) -> dict[str, bytes]:
    out = corpus / "out_serial"
    assert main([*TRACK, str(corpus / "posetrack18"), "--images-root", str(corpus), "--out", str(out)]) == 0
    files = _files(out)
    assert sorted(files) == sorted(f"{k}/{n}.json" for k in ("posetrack17", "posetrack18", "tracks") for n in NAMES)
    return files


def test_a_folder_of_annotations_is_tracked_and_evaluated(
    corpus: Path, serial: dict[str, bytes], capsys: pytest.CaptureFixture[str]
) -> None:
    """The paper's protocol in one command: the folder tracked (here resumed: all complete) and scored."""
    out = corpus / "out_serial"
    argv = [*TRACK, str(corpus / "posetrack18"), "--images-root", str(corpus), "--out", str(out)]
    assert main([*argv, "--eval", str(corpus / "posetrack17")]) == 0
    printed = capsys.readouterr().out
    assert printed.count("skipped: outputs complete") == 3  # a rerun skips everything
    assert "Average Precision (AP) metric" in printed and "MOTA" in printed
    assert _files(out) == serial  # and touches nothing


def test_workers_give_byte_identical_outputs(corpus: Path, serial: dict[str, bytes], tmp_path: Path) -> None:
    out = tmp_path / "out"
    sources = [str(corpus / "posetrack18" / f"{n}.json") for n in NAMES]
    assert main([*TRACK, *sources, "--images-root", str(corpus), "--out", str(out), "--workers", "2"]) == 0
    assert _files(out) == serial


def test_a_glob_and_a_partial_run(corpus: Path, serial: dict[str, bytes], tmp_path: Path) -> None:
    """A sequence with only some of its outputs (cut short) is tracked again; a complete one is not."""
    out = tmp_path / "out"
    shutil.copytree(corpus / "out_serial", out)
    (out / "tracks" / f"{NAMES[1]}.json").unlink()
    (out / "posetrack17" / f"{NAMES[1]}.json").write_text("half a file")
    kept = (out / "posetrack17" / f"{NAMES[0]}.json").stat().st_mtime_ns
    argv = [*TRACK, str(corpus / "posetrack18" / "*.json"), "--images-root", str(corpus), "--out", str(out)]
    assert main(argv) == 0
    assert _files(out) == serial
    assert (out / "posetrack17" / f"{NAMES[0]}.json").stat().st_mtime_ns == kept


def test_a_failing_sequence_fails_alone(
    corpus: Path, serial: dict[str, bytes], tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    gt = tmp_path / "gt"
    shutil.copytree(corpus / "posetrack18", gt)
    (gt / f"{NAMES[1]}.json").write_text('{"images": [')  # corrupt
    out = tmp_path / "out"
    assert main([*TRACK, str(gt), "--images-root", str(corpus), "--out", str(out)]) == 2
    captured = capfd.readouterr()
    assert f"{NAMES[1]}" in captured.err.splitlines()[-1] and "1 of 3 sequences failed" in captured.err
    row = next(line for line in captured.out.splitlines() if line.startswith(NAMES[1]))
    assert "failed" in row and "malformed JSON" in row
    good = {k: v for k, v in serial.items() if NAMES[1] not in k}
    assert _files(out) == good  # the others written, nothing of the failed one


ray_missing = importlib.util.find_spec("ray") is None


@pytest.mark.skipif(ray_missing, reason="the optional ray extra is not installed")
def test_ray_local_instance_gives_identical_outputs_even_when_a_worker_is_lost(
    corpus: Path, serial: dict[str, bytes], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each sequence a Ray task on a local instance; the first attempt of every task exits at its
    third frame (a lost worker), Ray retries it, and the output is complete and identical."""
    crashes = tmp_path / "crashes"
    crashes.mkdir()
    monkeypatch.setenv("HRTRACK_TEST_CRASH_ONCE", str(crashes))
    out = tmp_path / "out"
    argv = [*TRACK, str(corpus / "posetrack18"), "--images-root", str(corpus), "--out", str(out), "--ray"]
    assert main(argv) == 0
    assert sorted(p.name for p in crashes.iterdir()) == [f"{n}.crashed" for n in NAMES]
    assert _files(out) == serial
    assert not [p for p in out.rglob(".*")], "temp files of the lost attempts were left"


def test_without_ray_the_option_names_the_extra(
    corpus: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import builtins

    real_import = builtins.__import__

    def no_ray(name: str, *args: object, **kwargs: object) -> object:
        if name == "ray" or name.startswith("ray."):
            raise ImportError("No module named 'ray'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_ray)
    argv = [*TRACK, str(corpus / "posetrack18"), "--images-root", str(corpus), "--out", str(corpus / "x"), "--ray"]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["hrtrack: error: --ray needs the optional extra: pip install 'hrtrack[ray]'"]
    assert not (corpus / "x").exists()


def test_per_frame_results_are_not_retained(corpus: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Memory flat in video length: after every frame, at most the current frame's result (and
    the frame) are alive; the sinks keep no per-frame objects."""
    import tracker.api as app

    alive: list[weakref.ref] = []
    counts: list[int] = []
    real = app.track

    def watched(*args: object, **kwargs: object):
        for frame, result in real(*args, **kwargs):
            gc.collect()
            counts.append(sum(r() is not None for r in alive))
            alive.append(weakref.ref(result))
            alive.append(weakref.ref(frame))
            yield frame, result

    monkeypatch.setattr(app, "track", watched)
    seq = corpus / "posetrack18" / f"{NAMES[0]}.json"
    argv = [*TRACK, str(seq), "--images-root", str(corpus), "--out", str(tmp_path), "--render", str(tmp_path / "v.mp4")]
    assert main(argv) == 0
    assert len(counts) == 8 and max(counts) <= 2, counts  # only the previous frame's pair, never a growing list


def test_a_lost_local_worker_takes_only_its_sequences(
    corpus: Path,
    serial: dict[str, bytes],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """``--workers 2``: the first sequence's worker dies; the sequences running with it fail
    ("worker lost"), the ones not started yet run in a new pool, and the run ends with exit 2."""
    crashes = tmp_path / "crashes"
    crashes.mkdir()
    for name in NAMES[1:]:  # a marker means "already crashed once": only the first sequence's worker dies
        (crashes / f"{name}.crashed").write_text("")
    monkeypatch.setenv("HRTRACK_TEST_CRASH_ONCE", str(crashes))
    out = tmp_path / "out"
    sources = [str(corpus / "posetrack18" / f"{n}.json") for n in NAMES]
    argv = [*TRACK, *sources, "--images-root", str(corpus), "--out", str(out), "--workers", "2"]
    assert main(argv) == 2
    rows = {line.split()[0]: line for line in capsys.readouterr().out.splitlines()[1:]}
    assert "worker lost" in rows[NAMES[0]]
    assert "done" in rows[NAMES[2]]  # started after the loss, in a fresh pool
    assert _files(out) == {k: v for k, v in serial.items() if any(n in k for n in NAMES if "done" in rows[n])}
    assert not [p for p in out.rglob(".*")]
