#!/bin/sh
# False rejects and escapes of the calibrated thresholds on the four shared data sets, calibrated
# on 4, 10 and 20 normal training images: rp-eval --calibrate 4,10,20 holds 20 out of training
# (the rest train the model) and calibrates on all 20 and on evenly spaced subsets of 4 and 10 of
# them, so one trained model per category serves the three counts. Then the table
# (bench/calibration_table.py). PatchCore with a 1% coreset keeps it cheap. Then the same rule over
# 20 random held-out sets per category (rp-calibration-splits on rp-tune's feature caches). Used by
# make bench; its output is the tables of docs/pipeline.md.
#   sh bench/calibration_table.sh BUILD OUT_DIR
set -eu
build=${1:-build}
out=${2:-$build/bench-results/calibration}
src=$(cd "$(dirname "$0")/.." && pwd)
data=${RP_DATA_DIR:-$src/../shared/data}
mkdir -p "$out"
sets=""
for s in mvtec_ad/bottle magnetic_tile deeppcb elpv_mono; do
    if [ -d "$data/$s" ]; then sets="$sets --data $data/$s"; else echo "calibration table: $data/$s absent, left out"; fi
done
if [ -z "$sets" ]; then
    echo "calibration table: no shared data at $data: skipped"
    exit 0
fi
# shellcheck disable=SC2086 # $sets is a list of options
"$build/cli/rp-eval" --method patchcore --coreset 0.01 --calibrate 4,10,20 $sets \
    --json "$out/calibration.json" | tee "$out/calibration.txt"
python3 "$src/bench/calibration_table.py" "$out/calibration.json"
# The same rule over many random held-out sets (20 splits per category) on cached features: the
# false-reject rate it gives on average, which is what its nominal rate promises (one draw above
# is one sample of a Beta-distributed rate).
caches=$(sh "$src/bench/feature_caches.sh" "$build" "$build/bench-results/caches" | tail -n 1)
if [ -n "$caches" ]; then
    # shellcheck disable=SC2086 # $caches is a list of options
    "$build/bench/rp-calibration-splits" $caches --splits "${CALIBRATION_SPLITS:-20}" | tee "$out/calibration_splits.jsonl"
    python3 "$src/bench/calibration_splits_table.py" "$out/calibration_splits.jsonl"
    # the control: calibration and measured images exchangeable (both from the good test images)
    # shellcheck disable=SC2086
    "$build/bench/rp-calibration-splits" $caches --control 1000 | tee "$out/calibration_control.jsonl"
fi
