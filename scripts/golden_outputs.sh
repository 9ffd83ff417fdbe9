#!/usr/bin/env bash
# Write the outputs of a fixed set of runs into OUT (demo clip, bench synth set, the real Bonn
# sequence with GT boxes), so that two versions of hrtrack can be compared byte for byte:
#   bash scripts/golden_outputs.sh /tmp/before; (change code); bash scripts/golden_outputs.sh /tmp/after
#   diff -r /tmp/before /tmp/after
# The Bonn run needs ../shared/data (skipped without it).
set -euo pipefail
# HRTRACK_ROOT=DIR runs the hrtrack of another checkout (e.g. a git worktree of the old commit)
# with this checkout's virtualenv.
SELF=$(cd "$(dirname "$0")/.." && pwd)
cd "${HRTRACK_ROOT:-$SELF}"
OUT=${1:?usage: golden_outputs.sh OUT}
export PYTHONPATH=$PWD
HR="$SELF/.venv/bin/python -m tracker.cli"
rm -rf "$OUT"; mkdir -p "$OUT"
export HRTRACK_OFFLINE=1
$HR demo --out "$OUT/demo" --frames 40 --backend torch --quiet > "$OUT/demo.txt"
$HR bench synth --sequences 2 --frames 30 --backend torch --data "$OUT/synth" --json "$OUT/synth_table.json" \
    > "$OUT/synth.txt"
# a corpus of the two synthetic sequences in two worker processes (one thread each)
$HR track "$OUT/synth/synth/posetrack18" --images-root "$OUT/synth/synth" --detector gt --weights demo_synth_w16 \
    --backend torch --workers 2 --threads 1 --out "$OUT/corpus" --quiet > "$OUT/corpus.txt"
BONN=$SELF/../shared/data/bonn_posetrack
if [ -d "$BONN" ]; then
    $HR track "$BONN/060470979_posetrack2017.json" --images-root "$BONN" --detector "gt:$BONN/060470979_posetrack2017.json" \
        --weights demo_synth_w16 --backend torch --out "$OUT/bonn" --render "$OUT/bonn/bonn.mp4" --quiet > "$OUT/bonn.txt"
    $HR render "$BONN/060470979_posetrack2017.json" "$OUT/bonn/tracks/060470979_posetrack2017.json" --images-root "$BONN" \
        -o "$OUT/bonn/render.mp4" --gt "$BONN/060470979_posetrack2017.json" --trail 5 --boxes --quiet > /dev/null
    # the same with the layout given as COCO (its videos must not change with the skeleton fix)
    cp "$($HR models path demo_synth_w16)" "$OUT/w16_copy.pth"
    $HR track "$BONN/060470979_posetrack2017.json" --images-root "$BONN" --detector "gt:$BONN/060470979_posetrack2017.json" \
        --weights "$OUT/w16_copy.pth" --arch hrnet_w16 --input-size 128x96 --keypoint-layout coco \
        --backend torch --out "$OUT/bonn_coco" --render "$OUT/bonn_coco/bonn.mp4" --quiet > "$OUT/bonn_coco.txt"
    $HR render "$BONN/060470979_posetrack2017.json" "$OUT/bonn_coco/tracks/060470979_posetrack2017.json" \
        --images-root "$BONN" -o "$OUT/bonn_coco/render.mp4" --gt "$BONN/060470979_posetrack2017.json" --trail 5 \
        --boxes --quiet > /dev/null
    $HR render "$BONN/060470979_posetrack2017.json" "$OUT/bonn_coco/posetrack17/060470979_posetrack2017.json" \
        --images-root "$BONN" -o "$OUT/bonn_coco/render_pt17.mp4" --trail 5 --quiet > /dev/null
    rm "$OUT/w16_copy.pth"
fi
# timings differ between runs: seconds are blanked in the printed tables and the bench json, OUT named OUT
"$SELF/.venv/bin/python" - "$OUT" <<'PY'
import json, pathlib, re, sys
out = pathlib.Path(sys.argv[1])
for txt in out.glob("*.txt"):
    text = re.sub(r"\b\d+(\.\d+)? s\b", "T s", txt.read_text().replace(str(out), "OUT"))
    text = re.sub(r"\| [\d.]+ \|$", "| T |", text, flags=re.M)  # seconds column of bench synth
    text = re.sub(r"^(\S+ +\d+ +\d+ +)[\d.]+( +done)", r"\1T\2", text, flags=re.M)  # fps of the corpus table
    txt.write_text(text)
table = out / "synth_table.json"
rows = json.loads(table.read_text())["rows"]
table.write_text(json.dumps([{k: v for k, v in r.items() if k != "seconds"} for r in rows], indent=1))
PY
find "$OUT" -name '*.mp4' -print0 | xargs -0 -r sha256sum | sed "s|$OUT/||" | sort -k2 > "$OUT/videos.sha256"
echo "golden outputs in $OUT"
