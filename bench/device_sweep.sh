#!/usr/bin/env bash
# A lent GPU's session, prepared as one command: bench/recipe_sweep.py's recipes trained side by side from
# the shipped checkpoint, scored, and packed for the trip back. Run through the device tool, with the
# diffusers wheel carried (the device's image has torch but not diffusers; nothing can be fetched there):
#
#   here, once:   pip download diffusers==0.42.1 --no-deps -d runs/wheels
#   device run:   bash bench/device_sweep.sh --recipes shipped,more-batch64,sequences6-batch64 --train-seconds 300
#                 (carry ["runs/wheels"], timeout_s 600)
#
# Every option goes to recipe_sweep.py. The device tool brings back at most 8 files of 16 MiB each from $OUT:
# results.json, sweep.log and one tar per trained recipe's exported pipeline (about 12 MB each), so at most
# six recipes. Score them here with `python -m sora_core.bench quality --weights DIR`.
set -euo pipefail
shopt -s nullglob  # a sweep of `shipped` alone exports nothing to pack
cd "$(dirname "$0")/.."
OUT=${OUT:?set OUT to the folder whose files come back}
SWEEP=runs/device-sweep
if ! python3 -c "import diffusers" 2>/dev/null; then
    wheel=(runs/wheels/diffusers-*.whl)
    if [ ${#wheel[@]} -eq 0 ]; then
        echo "no diffusers here and no wheel carried: run 'pip download diffusers==0.42.1 --no-deps -d runs/wheels'" \
             "on the dev machine and carry runs/wheels" >&2
        exit 2
    fi
    python3 -m pip install --quiet --no-deps "${wheel[0]}"
fi
if ! python3 -c "import imageio_ffmpeg" 2>/dev/null; then
    # the sweep writes no video, but sora_core.video (to_uint8) imports the encoder's module at the top
    mkdir -p /tmp/stand-ins && : > /tmp/stand-ins/imageio_ffmpeg.py
    export PYTHONPATH="/tmp/stand-ins${PYTHONPATH:+:$PYTHONPATH}"
fi
python3 bench/recipe_sweep.py --threads 4 --eval-seconds 150 "$@" --out "$SWEEP"
cp "$SWEEP/results.json" "$SWEEP/sweep.log" "$OUT/"
for exported in "$SWEEP"/*/; do
    name=$(basename "$exported")
    tar -cf "$OUT/$name.tar" -C "$SWEEP" "$name"
done
ls -l "$OUT"
