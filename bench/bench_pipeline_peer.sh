#!/bin/sh
# Whole scoring, image file to anomaly map, ours against PyTorch's PatchCore pipeline on the same
# model (tools/bench_pipeline_torch.py): a PatchCore model at 10 % and a ReConPatch model (the
# default head) at 10 % and 1 % coreset, and where the CPU has AVX512-BF16 the ReConPatch models
# again with a bf16 backbone on both sides, trained once each on bottle, then ROUNDS interleaved rounds
# over bottle's 83 test images. Prints per round the median ms per image of each side and their
# ratio, the peer's stages, and how closely the two sides' image scores agree.
#   sh bench/bench_pipeline_peer.sh [BUILD] [ROUNDS]      (part 3 of make bench)
set -u
build=${1:-build}
rounds=${2:-3}
src=$(cd "$(dirname "$0")/.." && pwd)
data=${RP_DATA_DIR:-$src/../shared/data}
bottle=$data/mvtec_ad/bottle
threads=${THREADS:-2}
py=/usr/bin/python3
if [ ! -d "$bottle/test" ]; then
    echo "bench_pipeline_peer: no $bottle: skipped"
    exit 0
fi
if ! $py -c "import torch" 2>/dev/null; then
    echo "bench_pipeline_peer: no PyTorch for $py (apt-get install python3-torch): skipped"
    exit 0
fi
export RECONPATCH_LIB="$build/libreconpatch/libreconpatch.so"
# Two OpenMP runtimes share this process (ours, PyTorch's): spinning threads of one starve the other
export OMP_WAIT_POLICY="${OMP_WAIT_POLICY:-passive}"
flags=$(grep -m1 '^flags' /proc/cpuinfo | tr ' ' '\n' | grep -x -E 'avx2|fma|avx512f|avx512_vnni|avx512_bf16|amx_bf16' | tr '\n' ' ')
echo "CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'); vector extensions: $flags"
weights=$($py -c "import sys; sys.path.insert(0, '$src/python'); import reconpatch
print(reconpatch.default_weights_path())") || exit 1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
specs="patchcore:0.1:fp32 reconpatch:0.1:fp32 reconpatch:0.01:fp32"
# bf16 backbones on both sides where the CPU runs bf16 natively (the rest stays fp32 on both)
echo "$flags" | grep -qw avx512_bf16 && specs="$specs reconpatch:0.1:bf16 reconpatch:0.01:bf16"
for spec in $specs; do
    method=${spec%%:*}
    rest=${spec#*:}
    ratio=${rest%:*}
    precision=${rest#*:}
    model="$work/$method-$ratio-$precision.rpm"
    peer_flag=""
    [ "$precision" = bf16 ] && peer_flag="--bf16"
    echo "-- $method, coreset $ratio, backbone $precision: ours (rp_score_image through the Python binding) against PyTorch, $threads threads"
    "$build/cli/rp-train" --method "$method" --coreset "$ratio" --precision "$precision" -o "$model" "$bottle/train/good" \
        > "$work/train.log" 2>&1 || { cat "$work/train.log"; exit 1; }
    # shellcheck disable=SC2086 # $peer_flag is empty or one option
    $py "$src/tools/bench_pipeline_torch.py" --model "$model" --weights "$weights" --data "$bottle" \
        --rounds "$rounds" --threads "$threads" $peer_flag || exit 1
done
