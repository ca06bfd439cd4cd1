#!/bin/sh
# Training traces of the ReConPatch head (docs/reconpatch.md, "Why the training loss rose"): per
# step the training loss, the validation loss with labels from the moving target and from the
# frozen initial target, and the pseudo-label statistics, for the settings compared there; then
# the two plots of the docs.
#   sh bench/reconpatch_traces.sh BUILD [OUT_DIR]
# Needs the bottle and magnetic tile sets (../shared/data) and python3-matplotlib for the plots.
# Training only (no scoring), one thread each; about an hour on a 2-core machine.
set -eu
build=${1:-build}
src=$(cd "$(dirname "$0")/.." && pwd)
data=${RP_DATA_DIR:-$src/../shared/data}
out=${2:-$build/bench-results/traces}
mkdir -p "$out"
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-passive}
tune=$build/bench/rp-tune
trace() { # CATEGORY NAME rp-tune-options...
    c=$1 name=$2
    shift 2
    "$tune" run --cache "$out/$c.rpf" --train-only --threads 1 --trace "$out/${c}_$name.csv" "$@"
}
for c in mvtec_ad/bottle magnetic_tile; do
    name=$(basename "$c")
    [ -d "$data/$c" ] || { echo "no $data/$c: skipped"; continue; }
    [ -f "$out/$name.rpf" ] || "$tune" cache --keep-aspect --data "$data/$c" --out "$out/$name.rpf"
    trace "$name" default --val-batches 2
    trace "$name" uncentered --val-batches 2 --uncentered
done
if [ -f "$out/bottle.rpf" ]; then
    trace bottle frozen --val-batches 2 --gamma 1
    trace bottle frozen_uncentered --val-batches 2 --gamma 1 --uncentered
    trace bottle aligned --val-batches 2 --sampler aligned
    trace bottle b2048 --val-batches 2 --batch 2048 --steps 25
    trace bottle b4096 --val-batches 1 --batch 4096 --steps 25 --epochs 4
    trace bottle long --val-batches 1 --epochs 24 --patience 100
    plot=$src/tools/plot_training_traces.py
    /usr/bin/python3 "$plot" "$out/reconpatch_labels.png" "centred=$out/bottle_default.csv" \
        "uncentred=$out/bottle_uncentered.csv" "centred, gamma 1=$out/bottle_frozen.csv" \
        "magnetic tile centred=$out/magnetic_tile_default.csv" \
        "magnetic tile uncentred=$out/magnetic_tile_uncentered.csv"
    /usr/bin/python3 "$plot" "$out/reconpatch_batches.png" "batch 512=$out/bottle_default.csv" \
        "batch 2048=$out/bottle_b2048.csv" "batch 4096=$out/bottle_b4096.csv" \
        "aligned 512=$out/bottle_aligned.csv" "24 epochs=$out/bottle_long.csv"
    echo "plots: $out/reconpatch_labels.png $out/reconpatch_batches.png"
fi
