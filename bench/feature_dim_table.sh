#!/bin/sh
# PatchCore's own feature reduction measured: the aggregated patch features pooled to 128, 256, 384
# and 1024 values (rp-tune --feature-dim, exactly what the extractor gives with that feature_dim),
# PatchCore at 10% coreset and ReConPatch-64 (seeds in SEEDS, default 0) on top, on the four shared
# sets' feature caches (bench/feature_caches.sh). One JSON line per category and setting, then the
# table of docs/features.md.
#   sh bench/feature_dim_table.sh BUILD OUT_DIR
set -eu
build=${1:-build}
out=${2:-$build/bench-results/feature_dim}
src=$(cd "$(dirname "$0")/.." && pwd)
mkdir -p "$out"
caches=$(sh "$src/bench/feature_caches.sh" "$build" "$build/bench-results/caches" | tail -n 1)
[ -n "$caches" ] || { echo "feature dimension table: no shared data: skipped"; exit 0; }
: > "$out/feature_dim.jsonl"
for d in ${FEATURE_DIMS:-128 256 384 1024}; do
    # shellcheck disable=SC2086 # $caches is a list of options
    "$build/bench/rp-tune" run $caches --method patchcore --coreset 0.1 --feature-dim "$d" | tee -a "$out/feature_dim.jsonl"
    for seed in ${SEEDS:-0}; do
        # shellcheck disable=SC2086
        "$build/bench/rp-tune" run $caches --method reconpatch --coreset 0.1 --feature-dim "$d" --seed "$seed" \
            | tee -a "$out/feature_dim.jsonl"
    done
done
python3 "$src/bench/feature_dim_table.py" "$out/feature_dim.jsonl"
