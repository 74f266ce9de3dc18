#!/usr/bin/env bash
# The device side of a GPU window (issue 17): what runs on the GPU machine, from the repository root.
# It needs only torch, numpy, safetensors and einops there (Python 3.12, no pybullet): worldsim is
# used from the checkout (PYTHONPATH), the data comes as a pack made here beforehand.
#
# Here, once per window (CPU; each part goes up with one call beside the ~27 MiB repository, under 64 MiB):
#   worldsim pack data/cycles256 --out carry/cycles256 --max-mib 34 --parts 3   # carry/ is git-ignored
#
# There (each `run` at most 10 minutes; the machine keeps runs/ and the parts already up while it
# stays warm, 30 s after a call, so the calls follow one another at once), carrying one part each:
#   bash benchmarks/gpu_window.sh bench                  # carry carry/cycles256/part0 -> $OUT/gpu.json, gpu.md
#   bash benchmarks/gpu_window.sh train cycles 8         # carry .../part1: 8 minutes of the Cycles look
#   bash benchmarks/gpu_window.sh train cycles 8         # carry .../part2: 8 more, on all three parts
#   bash benchmarks/gpu_window.sh train pure_video 8     # the pure-video baseline, same preset and data
# `train` reads every part present, resumes runs/gpu_LOOK if an earlier call left it (a warm
# machine), else starts from INIT (default: the shipped checkpoint of that look, or one an earlier
# window brought back), and copies the new EMA checkpoint (safetensors + JSON), metrics.jsonl and
# the last sample grid to $OUT. The Cycles look trains by the shipped default's recipe (its JSON's
# options: mean starts, clipped loss, ripple weight, colour permutations, coarser batches, no
# context), with this window's batch and rate.
#
# Settings (environment): OUT (default runs/gpu_out), DATA (carry/cycles256), DEVICE (cuda),
# PRESET (small), BATCH (32), CROP (128), STEPS (the schedule's length, 20000), LR (cycles: 1.4e-4,
# the recipe's 5e-5 at batch 4 scaled by the square root of the batch ratio, Adam's rule;
# pure_video: 3e-4), RECIPE (cycles; "none": the command's defaults), INIT (a checkpoint path or
# name; "none" starts from random weights), RUNS (runs), PYTHON (python3), BENCH_ARGS (extra
# arguments of benchmarks/gpu.py). At most 8 files come back per call, so each call fills $OUT with
# one stage's files: bench 2, train 4.
set -euo pipefail
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
OUT=${OUT:-runs/gpu_out}
DATA=${DATA:-carry/cycles256}
DEVICE=${DEVICE:-cuda}
PRESET=${PRESET:-small}
RUNS=${RUNS:-runs}
PYTHON=${PYTHON:-python3}
mkdir -p "$OUT" "$RUNS"

case "${1:-}" in
  bench)
    # shellcheck disable=SC2086  # BENCH_ARGS is a list of arguments
    "$PYTHON" benchmarks/gpu.py --out "$OUT" --device "$DEVICE" --data "$DATA" --compile ${BENCH_ARGS:-} 2>&1 | tee "$RUNS/gpu_bench.log"
    ;;
  train)
    look=${2:?usage: gpu_window.sh train cycles|pure_video MINUTES}
    minutes=${3:?usage: gpu_window.sh train cycles|pure_video MINUTES}
    run="$RUNS/gpu_$look"
    case "$look" in
      cycles) extra=(--look cycles); lr=${LR:-1.4e-4}
        if [ "${RECIPE:-cycles}" != none ]; then extra+=(--recipe "${RECIPE:-cycles}"); fi ;;
      pure_video) extra=(--pure-video); lr=${LR:-3e-4} ;;
      *) echo "gpu_window.sh: look must be cycles or pure_video, got '$look'" >&2; exit 2 ;;
    esac
    init=${INIT:-$look}
    if [ "$init" != none ]; then extra+=(--init "$init"); fi
    "$PYTHON" -m worldsim.cli train --data "$DATA" --out "$run" --device "$DEVICE" --preset "$PRESET" \
      --batch "${BATCH:-32}" --crop "${CROP:-128}" --steps "${STEPS:-20000}" --lr "$lr" \
      --minutes "$minutes" --resume "${extra[@]}" 2>&1 | tee "$RUNS/gpu_train_$look.log"
    cp "$run/checkpoint.safetensors" "$OUT/${look}.safetensors"
    cp "$run/checkpoint.json" "$OUT/${look}.json"
    cp "$run/metrics.jsonl" "$OUT/${look}_metrics.jsonl"
    last=$(ls "$run"/samples_*.png 2>/dev/null | tail -n 1 || true)
    if [ -n "$last" ]; then cp "$last" "$OUT/${look}_samples.png"; fi
    size=$(stat -c %s "$OUT/${look}.safetensors")
    if [ "$size" -gt 16000000 ]; then echo "gpu_window.sh: $look checkpoint is $size bytes, over the 16 MiB a file may bring back" >&2; fi
    ;;
  *)
    echo "usage: gpu_window.sh bench | train cycles|pure_video MINUTES" >&2
    exit 2
    ;;
esac
