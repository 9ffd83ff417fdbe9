#!/usr/bin/env bash
# Create (or reuse) the local virtualenv .venv and install hrtrack with its test tools.
# torch goes in first and pinned, so that pip never resolves a CUDA build from the registry.
# Usage: bash scripts/setup.sh [--ptlflow | --all]
#   --ptlflow adds the optional ptlflow extra; --all adds every optional extra (ptlflow, ray, openvino): what CI tests
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
    "$PY" -m venv .venv
fi
PIP=(.venv/bin/python -m pip install --quiet --disable-pip-version-check)
if ! .venv/bin/python -c "import torch, sys; sys.exit(torch.__version__.split('+')[0] != '2.13.0')" 2>/dev/null; then
    "${PIP[@]}" torch==2.13.0
fi
extras="test"
case "${1:-}" in
    --ptlflow) extras="test,ptlflow" ;;
    --all) extras="test,ptlflow,ray,openvino" ;;
esac
"${PIP[@]}" -e ".[${extras}]" torch==2.13.0
echo "hrtrack installed in .venv ($(.venv/bin/python -c 'import torch; print("torch", torch.__version__)'))"
