#!/usr/bin/env bash
# The prepared run for one H200 (about 8 minutes): each Triton kernel against the hardware's peaks
# and its PyTorch reference, then the engine's own decode tokens/s on the Qwen3-30B-A3B shape.
# Writes JSON into $OUT (the device tool's folder) or benchmarks/; needs torch and triton only.
set -euo pipefail
out=${OUT:-benchmarks}
day=$(date -u +%Y-%m-%d)
python3 -m kernels.bench --json --budget 300 --out "$out/$day-h200-kernels.json"
timeout 170 python3 -m inference gpu-bench --json --out "$out/$day-h200-engine.json"
