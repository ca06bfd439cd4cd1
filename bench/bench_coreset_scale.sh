#!/bin/sh
# The greedy coreset at scale on real patch features (docs/memory-bank.md, "The coreset at scale"):
#   sh bench/bench_coreset_scale.sh BUILD [DATA] [RUNS]
# builds (once) the cache of 128-d projected patch features of the four shared training sets,
# as they are and flipped three ways (~3.1M rows, 1.6 GB, CORESET_CACHE, default
# /tmp/rp_coreset_3m.bin; several minutes of backbone time), then times the exact selection per
# category (1 %, 10 %, 1 thread), 1 % of the first 1M rows (exact) and of all ~3.1M rows
# (RP_CORESET_PARTITION=262144: 12 partitions), on 2 threads; CORESET_SCALE_10=1 adds 10 % of both.
# Skips with a message when the shared data is absent.
set -u
build=${1:-build}
src=$(cd "$(dirname "$0")/.." && pwd)
data=${2:-${RP_DATA_DIR:-$src/../shared/data}}
runs=${3:-3}
cache=${CORESET_CACHE:-/tmp/rp_coreset_3m.bin}
exe=$build/bench/rp-bench-coreset
sets="$data/mvtec_ad/bottle $data/magnetic_tile $data/deeppcb $data/elpv_mono"
for d in $sets; do
    if [ ! -d "$d/train/good" ]; then
        echo "bench_coreset_scale: no training images at $d: skipping the coreset-at-scale benchmark"
        exit 0
    fi
done
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-passive}
if ! "$exe" info --cache "$cache" >/dev/null 2>&1 || [ "$("$exe" info --cache "$cache" | head -1 | cut -d' ' -f1)" != 3132864 ]; then
    args=""
    for d in $sets; do args="$args --data $d"; done
    "$exe" cache --out "$cache" --flips $args || exit 1
fi
"$exe" info --cache "$cache"
echo "== per category, 1 thread =="
for s in bottle magnetic_tile deeppcb elpv_mono; do
    for r in 0.01 0.1; do "$exe" run --cache "$cache" --segment orig/$s --ratio $r --threads 1; done
done
echo "== 1 % of ~1M rows (exact) and of ~3.1M rows (partitions of 262144 points), 2 threads =="
"$exe" run --cache "$cache" --rows 1000000 --ratio 0.01 --threads 2 --runs 1
RP_CORESET_PARTITION=262144 "$exe" run --cache "$cache" --ratio 0.01 --threads 2 --runs "$runs"
if [ "${CORESET_SCALE_10:-0}" = 1 ]; then
    echo "== 10 % of ~1M and ~3.1M rows (partitions of 262144 points), 2 threads =="
    RP_CORESET_PARTITION=262144 "$exe" run --cache "$cache" --rows 1000000 --ratio 0.1 --threads 2 --runs 1
    RP_CORESET_PARTITION=262144 "$exe" run --cache "$cache" --ratio 0.1 --threads 2 --runs 1
fi
