#!/bin/sh
# Backbone throughput through layer3 at 224 x 224: libreconpatch (bench/rp-bench-backbone) vs
# PyTorch (tools/bench_backbone_torch.py, best of eager channels_last and frozen TorchScript),
# interleaved round by round so both see the same host phases. Prints medians, the ratio and GFLOP/s.
#
#   bench/bench_backbone.sh [BUILD_DIR] [ROUNDS]        (defaults: build, 5)
#   CONFIGS="resnet50:1:fp32 wide_resnet50_2:8:bf16" bench/bench_backbone.sh    choose configurations
#
# The host is shared and noisy: the script first runs /work/shared/tools/noise_probe.c (if it can
# be built) for a few seconds to show the phase; compare ratios, not absolute numbers.
set -eu
build=${1:-build}
rounds=${2:-5}
iters=${ITERS:-10}
threads=${THREADS:-2}
src=$(cd "$(dirname "$0")/.." && pwd)
bench="$build/bench/rp-bench-backbone"
peer="$src/tools/bench_backbone_torch.py"
py=/usr/bin/python3
configs=${CONFIGS:-"resnet50:1:fp32 resnet50:8:fp32 wide_resnet50_2:1:fp32 wide_resnet50_2:8:fp32 resnet50:1:bf16 resnet50:8:bf16 wide_resnet50_2:1:bf16 wide_resnet50_2:8:bf16"}
[ -x "$bench" ] || { echo "build first: $bench missing" >&2; exit 1; }
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-passive}

probe=$src/../shared/tools/noise_probe.c
# The probe is AVX-512 code: on other CPUs it would stop with an illegal instruction.
if grep -qw avx512f /proc/cpuinfo && [ -f "$probe" ] && gcc -O2 -mavx512f -fopenmp -o /tmp/rp_noise_probe "$probe" 2>/dev/null; then
    echo "host phase (2 threads should reach ~530 GFLOP/s when quiet):"
    /tmp/rp_noise_probe 3 | tail -1
elif grep -qw fma /proc/cpuinfo && gcc -O3 -funroll-loops -mavx2 -mfma -fopenmp -o /tmp/rp_fma_peak "$src/tools/fma_peak.c" 2>/dev/null; then
    /tmp/rp_fma_peak "$threads" # what the GFLOP/s columns below can reach at the current clock
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
last_json() { grep '^{' "$1" | tail -1; }
field() { $py -c 'import json,sys; d=json.loads(sys.argv[1]); print(d.get(sys.argv[2], "nan"))' "$1" "$2"; }

printf '%-16s %5s %5s | %10s %10s | %7s | %9s %9s\n' arch batch prec "ours img/s" "torch" ratio "ours GF/s" "torch GF/s"
for cfg in $configs; do
    arch=${cfg%%:*}; rest=${cfg#*:}; batch=${rest%%:*}; prec=${rest#*:}
    flag=""; [ "$prec" = bf16 ] && flag="--bf16"
    : >"$tmp/ours"; : >"$tmp/peer"
    r=0
    while [ $r -lt "$rounds" ]; do
        "$bench" --arch "$arch" --batch "$batch" --threads "$threads" --iters "$iters" $flag >"$tmp/o" 2>&1 || true
        last_json "$tmp/o" >>"$tmp/ours"
        $py "$peer" --arch "$arch" --batch "$batch" --threads "$threads" --iters "$iters" $flag >"$tmp/p" 2>&1 || true
        last_json "$tmp/p" >>"$tmp/peer"
        r=$((r + 1))
    done
    $py - "$tmp/ours" "$tmp/peer" "$arch" "$batch" "$prec" <<'PY'
import json, statistics, sys
def load(p):
    rows = [json.loads(l) for l in open(p) if l.strip()]
    ok = [r["img_per_s"] for r in rows if "img_per_s" in r]
    err = [r.get("error") for r in rows if "error" in r]
    return (statistics.median(ok) if ok else float("nan")), (err[0] if err else None), rows
gf = {"resnet50": 6.56, "wide_resnet50_2": 18.37}[sys.argv[3]]
o, oe, ours = load(sys.argv[1]); p, pe, _ = load(sys.argv[2])
ratio = o / p if p == p and p else float("nan")
note = ("  ours: " + oe) if oe else ""
if sys.argv[5] == "bf16" and any(r.get("bf16_native") == 0 for r in ours):
    note += "  ours: bf16 not native (emulated)"
print("%-16s %5s %5s | %10.2f %10.2f | %6.2fx | %9.1f %9.1f%s" % (sys.argv[3], sys.argv[4], sys.argv[5], o, p, ratio,
      o * gf, p * gf, note))
PY
done
