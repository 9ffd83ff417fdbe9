"""The accuracy evidence for bfloat16 (README, "Precision"): PP-TinyPose in float32 and bfloat16 on

* the COCO fixture (14 people in their GT boxes, COCO keypoint AP, flip test);
* Bonn 060470979 (41 frames, RTMDet-nano + DIS, ``hrtrack track`` defaults), poseval mAP / MOTA.

On a CPU with native bfloat16 (AVX512-BF16, AMX) OpenVINO runs it. Elsewhere OpenVINO would run
float32 when asked for bf16, so bfloat16 is emulated: the operands of every convolution and matrix
product are rounded to bfloat16 (a Convert pair in the graph), accumulation in float32 as oneDNN
does. The demo model's row comes from ``hrtrack bench synth --precision f32|bf16`` (torch's own
bfloat16 arithmetic, on any CPU).

    .venv/bin/python scripts/precision_evidence.py ../shared/data [--emulate]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import sys
import tempfile
from pathlib import Path

import cv2
import numpy as np

from pose import backends
from pose.estimator import PoseEstimator
from pose.precision import cpu_flags, native_bf16

ROUNDED_OPS = ("Convolution", "GroupConvolution", "MatMul")


def emulate_bf16(model) -> int:
    """Round the float32 operands of every convolution and matrix product of the OpenVINO model to
    bfloat16 (Convert to bf16 and back); returns how many operands were rounded."""
    import openvino as ov
    from openvino import opset13 as ops

    count = 0
    for node in model.get_ordered_ops():
        if node.get_type_name() not in ROUNDED_OPS:
            continue
        for port in node.inputs():
            source = port.get_source_output()
            if source.get_element_type() == ov.Type.f32:
                port.replace_source_output(ops.convert(ops.convert(source, "bf16"), "f32").output(0))
                count += 1
    model.validate_nodes_and_infer_types()
    return count


def emulating_compile(real):
    """``pose.backends.ov_compile`` with bfloat16 emulated where it is asked for."""

    def compile_model(core, model, threads: int, bf16: bool = False):
        if bf16:
            model = core.read_model(model) if isinstance(model, str) else model
            emulate_bf16(model)
        return real(core, model, threads, False)

    return compile_model


def coco_ap(data: Path, precision: str) -> float:
    """COCO keypoint AP of PP-TinyPose on the fixture's people in their GT boxes."""
    est = PoseEstimator(data / "models" / "pp_tinypose_256x192" / "model.xml", backend="openvino", precision=precision)
    return coco_fixture_ap(est, data / "coco")


def coco_fixture_ap(est: PoseEstimator, coco: Path) -> float:
    """COCO keypoint AP (0-100) of ``est`` on ``coco/test_coco.json``'s people in their GT boxes."""
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    with contextlib.redirect_stdout(io.StringIO()):
        gt = COCO(str(coco / "test_coco.json"))
    results = []
    for image_id in gt.getImgIds():
        info = gt.loadImgs(image_id)[0]
        anns = [a for a in gt.loadAnns(gt.getAnnIds(imgIds=image_id)) if a["num_keypoints"] > 0]
        boxes = np.array([[x, y, x + w, y + h] for x, y, w, h in (a["bbox"] for a in anns)], np.float32)
        poses = est(cv2.imread(str(coco / info["file_name"])), boxes)
        for kp, score in zip(poses.keypoints, poses.scores, strict=True):
            person = {"image_id": image_id, "category_id": 1, "keypoints": kp.ravel().tolist()}
            results.append(person | {"score": float(score)})
    with contextlib.redirect_stdout(io.StringIO()):
        ev = COCOeval(gt, gt.loadRes(results), "keypoints")
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    return 100 * float(ev.stats[0])


def bonn(data: Path, precision: str, out: Path) -> tuple[float, float]:
    """poseval mAP and MOTA of ``hrtrack track`` with its defaults on Bonn 060470979."""
    from eval.api import evaluate
    from tracker.cli import main

    gt = data / "bonn_posetrack" / "060470979_posetrack2017.json"
    argv = ["track", str(gt), "--images-root", str(data / "bonn_posetrack")]
    argv += ["--weights", str(data / "models" / "pp_tinypose_256x192" / "model.xml")]
    argv += ["--detector", f"onnx:{data / 'models' / 'rtmdet_nano_person.onnx'}", "--backend", "openvino"]
    argv += ["--precision", precision, "--format", "posetrack17", "--out", str(out), "--quiet"]
    if main(argv) != 0:
        raise SystemExit("hrtrack track failed")
    with contextlib.redirect_stdout(io.StringIO()):
        result = evaluate(gt, out / "posetrack17" / gt.name)
    return result["ap"]["total"], result["mota"]["total"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("data", type=Path, help="the shared test material (../shared/data)")
    parser.add_argument("--emulate", action="store_true", help="emulate bfloat16 even where the CPU has it")
    args = parser.parse_args()
    native = native_bf16("cpu") and not args.emulate
    if not native:
        backends.ov_compile = emulating_compile(backends.ov_compile)
    how = "native" if native else "emulated (operands of every convolution rounded to bf16)"
    flags = sorted(f for f in cpu_flags() if "bf16" in f or f.startswith("amx")) or ["none"]
    print(f"CPU {backends.cpu_model()} (bf16 flags: {', '.join(flags)}); OpenVINO bfloat16 {how}", file=sys.stderr)
    rows = {}
    with tempfile.TemporaryDirectory() as tmp:
        for precision in ("f32", "bf16"):
            ap = coco_ap(args.data, precision)
            m_ap, mota = bonn(args.data, precision, Path(tmp) / precision)
            rows[precision] = (ap, m_ap, mota)
    print("| PP-TinyPose 256x192, OpenVINO | COCO fixture AP | Bonn mAP | Bonn MOTA |")
    print("|---|---:|---:|---:|")
    for precision, values in rows.items():
        label = precision if precision == "f32" or native else "bf16 (emulated)"
        print(f"| {label} | " + " | ".join(f"{v:.1f}" for v in values) + " |")
    loss = [a - b for a, b in zip(rows["f32"], rows["bf16"], strict=True)]
    print("| loss | " + " | ".join(f"{v:+.1f}" for v in loss) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
