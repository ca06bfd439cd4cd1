#!/bin/sh
# Memory-bank benchmark: our coreset vs PatchCore's sampler in torch on the same data
# (interleaved runs, medians, ratio), kNN GFLOP/s and patch aggregation time.
#   bench/bench_bank.sh [BUILD_DIR] [N] [RUNS]
# Defaults: build-bank, N = 163856 (bottle: 209 images x 784 patches), 3 runs, DIM 1024, 10 %.
set -eu
BUILD=${1:-build-bank}
N=${2:-163856}
RUNS=${3:-3}
DIM=1024
RATIO=0.1
SEED=12345
TORCH_THREADS=${TORCH_THREADS:-1}
HERE=$(cd "$(dirname "$0")/.." && pwd)
BIN="$HERE/$BUILD/examples/rp-bench-bank"
[ -x "$BIN" ] || { echo "build first: ninja -C $BUILD" >&2; exit 1; }

median() { sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}'; }

ours=""; theirs=""
for i in $(seq "$RUNS"); do
  out=$("$BIN" coreset "$N" "$DIM" "$RATIO" "$SEED")
  echo "$out" | sed "s/^/  ours  run $i: /"
  ours="$ours $(echo "$out" | awk '/coreset_seconds/ {print $2}')"
  out=$(/usr/bin/python3 "$HERE/tools/bench_coreset_torch.py" "$N" "$DIM" "$RATIO" "$SEED" "$TORCH_THREADS")
  echo "$out" | sed "s/^/  torch run $i: /"
  theirs="$theirs $(echo "$out" | awk '/torch_coreset_seconds/ {print $2}')"
done
mo=$(echo "$ours" | tr ' ' '\n' | grep . | median)
mt=$(echo "$theirs" | tr ' ' '\n' | grep . | median)
echo "coreset $N x $DIM @ $RATIO: ours median ${mo} s, torch ($TORCH_THREADS thread) median ${mt} s, speed-up $(echo "$mt $mo" | awk '{printf "%.2f", $1 / $2}')x"
"$BIN" knn 16384 784 "$DIM" 7 | sed 's/^/knn 784 x 16384 x 1024: /'
"$BIN" features 21 | sed 's/^/aggregation 512x28x28 + 1024x14x14: /'
