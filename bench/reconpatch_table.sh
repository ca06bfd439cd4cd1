#!/bin/sh
# ReConPatch against its baselines on every shared category (MVTec protocol: keep_aspect, 10%
# coreset), at the full and a reduced dimension, over seeds; prints the table of
# docs/reconpatch.md ("Compression" and "Defaults on all four categories").
#   sh bench/reconpatch_table.sh BUILD [OUT_DIR]
# Rows: PatchCore-1024, ReConPatch (default 512-d head), and at DIM (default 64): PatchCore pooled
# to DIM (its own adaptive-average reduction), PCA onto DIM components, ReConPatch with a DIM head.
# Heads are trained with SEEDS (default "0 7 11"; 0 = the library's default seed). Features are
# extracted once per category into OUT_DIR/*.rpf (rp-tune cache). Hours on a 2-core machine.
set -u
build=${1:-build}
src=$(cd "$(dirname "$0")/.." && pwd)
data=${RP_DATA_DIR:-$src/../shared/data}
out=${2:-$build/bench-results/reconpatch}
dim=${DIM:-64}
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
    run "patchcore-pooled-$dim" --method patchcore --feature-dim "$dim"
    run "pca-$dim" --pca "$dim"
    for s in $seeds; do
        run reconpatch-512 --seed "$s"
        run "reconpatch-$dim" --repr-dim "$dim" --seed "$s"
    done
done
/usr/bin/python3 "$src/bench/summarize_accuracy.py" "$results"
