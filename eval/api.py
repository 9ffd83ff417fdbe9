"""Public entry points of the PoseTrack evaluator (``hrtrack eval``)."""

from __future__ import annotations

import math
import os
import sys
from pathlib import Path
from typing import Any

from pose.files import atomic_write_json

from .metrics import compute_metrics, prepare_frames
from .posetrack import Frame, PoseTrackError, Sequence, gc_paused, read_sequence

GROUP_ORDER = ("head", "shoulder", "elbow", "wrist", "hip", "knee", "ankle", "total")


class EvalError(PoseTrackError):
    """Evaluation input problem (missing file, frame-count mismatch, ...); one-line message."""


def _gt_files(gt: Path) -> list[Path]:
    if gt.is_file():
        return [gt]
    if not gt.is_dir():
        raise EvalError(f"ground truth {gt} does not exist")
    files = sorted(p for p in gt.glob("*.json") if p.is_file())
    if not files:
        raise EvalError(f"no .json files in ground-truth folder {gt}")
    return files


def _pred_file(gt_file: Path, pred: Path, single: bool) -> Path:
    if pred.is_file():
        if single:
            return pred
        raise EvalError(
            f"{pred}: one prediction file for a ground-truth folder of several sequences; give the folder of "
            "prediction files (one per sequence, same names)"
        )
    return pred / gt_file.name


def _refuse_gt_as_predictions(gt: Path, pred: Path) -> None:
    """A ground-truth file given as its own prediction would score 100: refused (the Python API
    allows it, for cross-checks)."""
    files = _gt_files(gt)
    for gf in files:
        pf = _pred_file(gf, pred, gt.is_file() or len(files) == 1)  # paired as load_pairs pairs them
        if pf.is_file() and os.path.samefile(pf, gf):
            raise EvalError(f"{pf}: the ground truth itself given as the predictions (it would score 100)")


def unscored_predictions(gt: str | os.PathLike, pred: str | os.PathLike) -> list[str]:
    """The prediction files of a folder whose sequence has no ground truth (they are not scored)."""
    gt, pred = Path(gt), Path(pred)
    if not (gt.is_dir() and pred.is_dir()):
        return []
    names = {p.name for p in gt.glob("*.json")}
    return sorted(p.name for p in pred.glob("*.json") if p.is_file() and p.name not in names)


def warn_unscored(gt: str | os.PathLike, pred: str | os.PathLike) -> None:
    """One warning line when prediction files have no ground truth."""
    names = unscored_predictions(gt, pred)
    if names:
        print(
            f"hrtrack: warning: {pred}: {len(names)} prediction file(s) have no ground truth in {gt} and are not "
            f"scored (e.g. {names[0]})",
            file=sys.stderr,
        )


def _check_frame_names(gt: Sequence, pred: Sequence, path: Path) -> None:
    """Frames are paired by position (as poseval does); a prediction frame whose image is another
    file than the GT frame's at that position (compared by file name, folders aside) is an error."""
    for k, (g, p) in enumerate(zip(gt.frames, pred.frames, strict=False)):
        if g.image and p.image and Path(g.image).name != Path(p.image).name:
            raise EvalError(
                f"{path}: frame {k} is image {p.image!r} but the ground truth's frame {k} is {g.image!r} "
                "(frames are paired by position)"
            )


def load_pairs(
    gt: str | os.PathLike, pred: str | os.PathLike, allow_missing: bool = False
) -> tuple[list[Sequence], list[Sequence], list[str]]:
    """Read every GT sequence and its same-named prediction file.

    Returns GT sequences, prediction sequences and the names of missing predictions
    (only non-empty with ``allow_missing``, where a missing file counts as empty)."""
    gt, pred = Path(gt), Path(pred)
    if not pred.exists():
        raise EvalError(f"prediction path {pred} does not exist")

    gt_files = _gt_files(gt)
    gts, prs, missing = [], [], []
    single = gt.is_file() or len(gt_files) == 1
    for gf in gt_files:
        seq = read_sequence(gf)
        if seq.frames and not any(f.is_labeled for f in seq.frames):
            raise EvalError(
                f"{gf}: no frame is labelled (is_labeled is false on all {len(seq.frames)}): not ground truth"
            )
        pf = _pred_file(gf, pred, single)
        if pf.is_file():
            pseq = read_sequence(pf, prediction=True)
            _check_frame_names(seq, pseq, pf)
        elif allow_missing:
            missing.append(gf.name)
            pseq = Sequence(name=seq.name, frames=[Frame(image=f.image, is_labeled=f.is_labeled) for f in seq.frames])
        else:
            raise EvalError(f"prediction file {pf} missing for ground-truth sequence {gf.name}")
        if len(pseq.frames) != len(seq.frames):
            raise EvalError(f"{pf}: {len(pseq.frames)} prediction frames but {len(seq.frames)} ground-truth frames")
        gts.append(seq)
        prs.append(pseq)
    return gts, prs, missing


def evaluate(
    gt_dir: str | os.PathLike,
    pred_dir: str | os.PathLike,
    allow_missing: bool = False,
    per_sequence: bool = False,
) -> dict[str, Any]:
    """Score predictions against PoseTrack ground truth with poseval's semantics.

    ``gt_dir`` holds one json per sequence (2017 or 2018 format); ``pred_dir`` holds files of
    the same names (a single GT file and a single prediction file also work). Returns
    ``{"ap": {group: %}, "mota": {group: %}, "motp"/"precision"/"recall": {"total": %},
    "idf1": {group: %}, "idp"/"idr": {"total": %}, "id_switches": {"total": n},
    "per_joint": {...15 values in poseval joint order...}, "counts": {...},
    "num_sequences", "num_frames", "missing_predictions"}`` plus ``"sequences": {name: ...}``
    when ``per_sequence``. Undefined values are NaN. The identity keys are not poseval's: IDF1,
    IDP and IDR of ``motmetrics`` over poseval's per-joint accumulator inputs (see
    :func:`format_identity_table`), and the ID switches summed over joints.
    """
    with gc_paused():
        gts, prs, missing = load_pairs(gt_dir, pred_dir, allow_missing)
        frames = prepare_frames(gts, prs)
        result = compute_metrics(frames)
        result["num_sequences"] = len(gts)
        result["num_frames"] = len(frames)
        result["missing_predictions"] = missing
        if per_sequence:
            result["sequences"] = {
                seq.name: compute_metrics([f for f in frames if f.seq == si]) for si, seq in enumerate(gts)
            }
    return result


def _cell(v: float | None) -> str:
    v = float("nan") if v is None else v
    return f"{f'{v:1.1f}':>5}"


def _row(values: list[float | None]) -> str:
    return "&" + "".join(_cell(v) + " &" for v in values[:-1]) + _cell(values[-1]) + " \\\\"


#: poseval's column labels of the joint groups (GROUP_ORDER), as its tables print them.
LABELS = ["Head", "Shou", "Elb ", "Wri ", "Hip ", "Knee", "Ankl", "Total"]


def format_tables(result: dict[str, Any]) -> str:
    """The two tables poseval prints: AP per group and MOTA per group + MOTP/Prec/Rec totals."""
    ap_header = "&" + "".join(f" {name} &" for name in LABELS[:-1]) + " Total\\\\"
    mot_header = (
        "&" + " MOTA &" * 8 + " MOTP &" + " Prec &" + " Rec  \\\\\n"
        "&" + "".join(f" {name} &" for name in LABELS[:-1]) + " Total&" * 3 + " Total\\\\"
    )
    ap_row = _row([result["ap"][k] for k in GROUP_ORDER])
    mot_row = _row(
        [result["mota"][k] for k in GROUP_ORDER]
        + [result["motp"]["total"], result["precision"]["total"], result["recall"]["total"]]
    )
    return "\n".join(
        [
            "Average Precision (AP) metric:",
            ap_header,
            ap_row,
            "",
            "Multiple Object Tracking (MOT) metrics:",
            mot_header,
            mot_row,
        ]
    )


IDENTITY_TITLE = "Identity metrics (not poseval: IDF1 of py-motmetrics over poseval's per-joint matching):"


def format_identity_table(result: dict[str, Any]) -> str:
    """A third table beside poseval's two, in their style: IDF1 per group (each joint's IDF1 from one
    global id mapping per sequence), IDP and IDR totals and the ID switches summed over joints."""
    header = (
        "&" + " IDF1 &" * 8 + " IDP  &" + " IDR  &" + " IDsw \\\\\n"
        "&" + "".join(f" {name} &" for name in LABELS[:-1]) + " Total&" * 3 + " Total\\\\"
    )
    cells = [_cell(result["idf1"][k]) for k in GROUP_ORDER]
    cells += [_cell(result["idp"]["total"]), _cell(result["idr"]["total"]), f"{result['id_switches']['total']:>5}"]
    row = "&" + "".join(c + " &" for c in cells[:-1]) + cells[-1] + " \\\\"
    return "\n".join([IDENTITY_TITLE, header, row])


def to_jsonable(obj: Any) -> Any:
    """NaN/inf -> None, numpy scalars -> Python numbers, recursively."""
    if isinstance(obj, dict):
        return {k: to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [to_jsonable(v) for v in obj]
    if hasattr(obj, "item") and not isinstance(obj, str):
        obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


def run_eval_cli(
    gt: str | os.PathLike,
    pred: str | os.PathLike,
    json_out: str | os.PathLike | None = None,
    per_sequence: bool = False,
    allow_missing: bool = False,
) -> int:
    """``hrtrack eval``: evaluate, print poseval's tables and the identity table, optionally write the
    json; returns 0.

    Input problems raise :class:`PoseTrackError` (a ``ValueError``) with a one-line message."""
    _refuse_gt_as_predictions(Path(gt), Path(pred))
    result = evaluate(gt, pred, allow_missing=allow_missing, per_sequence=per_sequence)
    warn_unscored(gt, pred)
    if result["missing_predictions"]:
        print(
            f"hrtrack: warning: {len(result['missing_predictions'])} prediction file(s) missing, counted as empty "
            f"(e.g. {result['missing_predictions'][0]})",
            file=sys.stderr,
        )
    print(format_tables(result))
    print()
    print(format_identity_table(result))
    if per_sequence:
        for name, r in result["sequences"].items():
            print(
                f"{name}: AP {_cell(r['ap']['total']).strip()}  MOTA {_cell(r['mota']['total']).strip()}"
                f"  IDF1 {_cell(r['idf1']['total']).strip()}"
            )
    if json_out is not None:
        atomic_write_json(to_jsonable(result), json_out)
    return 0
