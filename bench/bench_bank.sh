#!/bin/sh
# Memory-bank benchmark: our coreset vs PatchCore's sampler in torch on the same data
# (interleaved runs, medians, ratio), kNN GFLOP/s and patch aggregation time.
#   bench/bench_bank.sh [BUILD_DIR] [N] [RUNS]
# Defaults: build-bank, N = 163856 (bottle: 209 images x 784 patches), 3 runs, DIM 1024, 10 %.
# FEATURES=file.f32 also times the coreset on real patch features (raw float32, 1024 per row,
# e.g. bottle's training patches from rp_extractor_patch_features), through the Python binding.
# The coreset prunes with the triangle inequality, which pays on real (clustered) features far
# more than on the uniform noise used for the torch comparison.
set -eu
BUILD=${1:-build-bank}
N=${2:-163856}
RUNS=${3:-3}
DIM=1024
RATIO=0.1
SEED=12345
TORCH_THREADS=${TORCH_THREADS:-1}
HERE=$(cd "$(dirname "$0")/.." && pwd)
BIN="$HERE/$BUILD/bench/rp-bench-bank"
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
if [ -n "${FEATURES:-}" ] && [ -f "$FEATURES" ]; then
  real=""
  for i in $(seq "$RUNS"); do
    out=$(RECONPATCH_LIB="$HERE/$BUILD/libreconpatch/libreconpatch.so" PYTHONPATH="$HERE/python" \
      /usr/bin/python3 - "$FEATURES" "$RATIO" "$SEED" <<'EOF'
import sys, time
import numpy as np
import reconpatch
x = np.fromfile(sys.argv[1], dtype=np.float32).reshape(-1, 1024)
bank = reconpatch.Bank(1024, coreset_ratio=float(sys.argv[2]), seed=int(sys.argv[3]))
bank.add(x)
n = x.shape[0]
del x
t = time.perf_counter()
bank.freeze()
print("real_coreset_seconds %.3f kept %d of %d" % (time.perf_counter() - t, len(bank), n))
EOF
)
    echo "$out" | sed "s/^/  real  run $i: /"
    real="$real $(echo "$out" | awk '/real_coreset_seconds/ {print $2}')"
  done
  echo "coreset on $FEATURES @ $RATIO: median $(echo "$real" | tr ' ' '\n' | grep . | median) s (load: $(cut -d' ' -f1-3 /proc/loadavg))"
fi
mo=$(echo "$ours" | tr ' ' '\n' | grep . | median)
mt=$(echo "$theirs" | tr ' ' '\n' | grep . | median)
echo "coreset $N x $DIM @ $RATIO: ours median ${mo} s, torch ($TORCH_THREADS thread) median ${mt} s, speed-up $(echo "$mt $mo" | awk '{printf "%.2f", $1 / $2}')x"
"$BIN" knn 16384 784 "$DIM" 7 | sed 's/^/knn 784 x 16384 x 1024: /'
"$BIN" features 21 | sed 's/^/aggregation 512x28x28 + 1024x14x14: /'
