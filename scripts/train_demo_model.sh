#!/usr/bin/env bash
# Reproduce the bundled demo model, pose/assets/demo_hrnet_w16_128x96_synth.pth.
#
# 1. Generate the training set (40 synthetic sequences x 80 frames, seed 1000, every frame
#    labelled) and a small validation set (3 x 40 frames, seed 2000, every 2nd frame labelled).
# 2. Train the shipped config synth_w16_128x96 (HRNet-W16 128x96 from scratch, PoseTrack 2018
#    17-slot layout, official augmentation, Adam 2e-3, x0.1 at epochs 7 and 9, 10 epochs,
#    bfloat16 autocast; about 50 min on a 2-core AVX-512/AMX CPU). best.pth is the epoch with the
#    best validation PoseTrack mAP.
# 3. Export best.pth as a float16 state_dict into pose/assets/.
#
# Usage: bash scripts/train_demo_model.sh [extra hrtrack train options, e.g. --device cuda]
set -euo pipefail
cd "$(dirname "$0")/.."
HRTRACK=${HRTRACK:-.venv/bin/hrtrack}
DATA=out/demo_data   # the paths written in pose/configs/synth_w16_128x96.yaml
RUN=runs/synth_w16_128x96

"$HRTRACK" synth --out "$DATA/train" --sequences 40 --frames 80 --seed 1000 --difficulty medium --no-video --quiet
"$HRTRACK" synth --out "$DATA/val" --sequences 3 --frames 40 --seed 2000 --difficulty medium --no-video \
    --label-every 2 --quiet
"$HRTRACK" train synth_w16_128x96 --out "$RUN" "$@"
"$HRTRACK" weights "$RUN/best.pth" --arch hrnet_w16 --export-fp16 pose/assets/demo_hrnet_w16_128x96_synth.pth
