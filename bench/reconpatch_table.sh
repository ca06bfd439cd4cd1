#!/bin/sh
# ReConPatch against its baselines on every shared category (MVTec protocol: keep_aspect, 10%
# coreset), at each dimension of DIMS, over seeds; prints the table of docs/reconpatch.md
# ("Fourth sweep").
#   sh bench/reconpatch_table.sh BUILD [OUT_DIR]
# Rows: PatchCore-1024, and at each D of DIMS (default "32 64 128 256 512"): PatchCore pooled to D
# (its own adaptive-average reduction), PCA onto D components, ReConPatch with a D head (64 is the
# library's default). Heads are trained with SEEDS (default "0 7 11"; 0 = the library's default
# seed). Features are extracted once per category into OUT_DIR/*.rpf (rp-tune cache). About 90
# minutes on a 2-core machine.
set -u
build=${1:-build}
src=$(cd "$(dirname "$0")/.." && pwd)
data=${RP_DATA_DIR:-$src/../shared/data}
out=${2:-$build/bench-results/reconpatch}
dims=${DIMS:-32 64 128 256 512}
seeds=${SEEDS:-0 7 11}
mkdir -p "$out"
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-passive}
tune=$build/bench/rp-tune
results=$out/results.jsonl
: > "$results"
for c in mvtec_ad/bottle magnetic_tile deeppcb elpv_mono; do
    name=$(basename "$c")
    if [ ! -d "$data/$c" ]; then echo "no $data/$c: skipped"; continue; fi
    [ -f "$out/$name.rpf" ] || "$tune" cache --keep-aspect --data "$data/$c" --out "$out/$name.rpf" || exit 1
    run() { tag=$1; shift; "$tune" run --cache "$out/$name.rpf" --coreset 0.1 "$@" | sed "s/^{/{\"tag\": \"$tag\", /" >> "$results"; }
    run patchcore-1024 --method patchcore
    for dim in $dims; do
        run "patchcore-pooled-$dim" --method patchcore --feature-dim "$dim"
        run "pca-$dim" --pca "$dim"
        for s in $seeds; do run "reconpatch-$dim" --repr-dim "$dim" --seed "$s"; done
    done
done
/usr/bin/python3 "$src/bench/summarize_accuracy.py" "$results"
