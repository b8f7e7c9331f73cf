#!/bin/sh
# Sleuth on an NVIDIA GPU: installs torch's CUDA build into .venv (make install first), runs benchmarks.gpu_check, prints where the report is.
cd "$(dirname "$0")/.." && .venv/bin/python -m benchmarks.gpu_check --install --out "${1:-gpu-check}" && echo "Report: $(pwd)/${1:-gpu-check}/gpu-check.md and gpu-check.json"
