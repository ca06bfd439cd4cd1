#!/bin/sh
# make bench: every performance figure the docs quote, each beside its peer where one exists.
#   1. backbone img/s, ours vs PyTorch, interleaved (bench_backbone.sh)
#   2. coreset and kNN, ours vs PatchCore's torch sampler (bench_bank.sh)
#   3. the pipeline on real data, stage by stage (rp-bench-pipeline): scoring cost at 1% and 10%
#      coreset (in bf16 too where the CPU has AVX512-BF16), kNN GFLOP/s, ReConPatch training time split and peak memory; the router, and scoring
#      cost against the number of categories of one model, 1, 2 and 4 (rp-bench-categories); whole
#      scoring against PyTorch's PatchCore pipeline on the same models (bench_pipeline_peer.sh)
#   4. accuracy tables (rp-eval): PatchCore and ReConPatch on bottle and magnetic tile, unified model;
#      default preprocessing (both axes to 256), no crop, and the aspect-keeping MVTec protocol
#      and training's peak resident memory for 200, 1,000 and 4,000 training images
#   5. the calibrated thresholds' false-reject and escape rates on the four shared sets, with 4, 10
#      and 20 calibration images, one draw and the mean over 20 random held-out sets
#      (bench/calibration_table.sh; docs/pipeline.md; the feature caches take about 7 GB)
#   6. ReConPatch against PatchCore, pooled PatchCore and PCA at 32 to 512 dimensions,
#      four categories, three seeds (reconpatch_table.sh; hours: RECONPATCH_TABLE=0 skips it)
#   6b. the feature dimension: 128, 256, 384 and 1024, PatchCore and ReConPatch-64 on the four shared
#      sets' cached features (feature_dim_table.sh; FEATURE_DIM_TABLE=0 skips it)
#   6c. bf16's numerics end to end on the four shared sets (fp32 kernels rounding to bf16, so any
#      CPU can run it), all of the backbone and with parts kept in fp32, three coreset seeds
#      (bf16_rounding_table.sh; hours: BF16_TABLE=0 skips it)
#   2b. the greedy coreset at scale: 1 % / 10 % of ~1M and ~3.1M real patch features, per-category
#      figures and pruning statistics (bench_coreset_scale.sh; skips without the shared data;
#      CORESET_SCALE=0 skips it: it builds a 1.6 GB feature cache the first time)
#   7. soak: 4 threads score the bundled test images on one model for SOAK_SECONDS (default 600):
#      results equal to single-threaded, resident memory after warm-up and at the end, open
#      descriptors before and after (rp-soak)
# The host is noisy: compare ratios and medians; OPENBLAS_CORETYPE is left as the environment sets it.
set -u
build=${1:-build}
src=$(cd "$(dirname "$0")/.." && pwd)
data=${RP_DATA_DIR:-$src/../shared/data}
out=${BENCH_OUT:-$build/bench-results}
mkdir -p "$out"
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-passive}
echo "OpenBLAS kernel: OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-<unset, auto-detected>}; OMP_WAIT_POLICY=$OMP_WAIT_POLICY"

echo "== 1. backbone =="
sh "$src/bench/bench_backbone.sh" "$build" "${ROUNDS:-5}" | tee "$out/backbone.txt"

echo "== 2. memory bank (random data; 20k points for the torch comparison) =="
sh "$src/bench/bench_bank.sh" "$build" "${BANK_N:-20000}" 3 | tee "$out/bank.txt"

if [ "${CORESET_SCALE:-1}" != 0 ]; then
    echo "== 2b. the coreset at scale (real features) =="
    sh "$src/bench/bench_coreset_scale.sh" "$build" "$data" 3 | tee "$out/coreset_scale.txt"
fi

bottle=$data/mvtec_ad/bottle
tile=$data/magnetic_tile
if [ ! -d "$bottle" ]; then
    echo "no evaluation data at $data: skipping the real-data benchmarks"
    exit 0
fi

echo "== 3. pipeline stages on bottle =="
"$build/bench/rp-bench-pipeline" --data "$bottle" --method patchcore --coreset 0.01 | tee "$out/pipeline_pc1.txt"
"$build/bench/rp-bench-pipeline" --data "$bottle" --method patchcore --coreset 0.01 --knn-int8 | tee "$out/pipeline_pc1_int8.txt"
"$build/bench/rp-bench-pipeline" --data "$bottle" --method patchcore --coreset 0.1 | tee "$out/pipeline_pc10.txt"
"$build/bench/rp-bench-pipeline" --data "$bottle" --method reconpatch --coreset 0.1 | tee "$out/pipeline_rc10.txt"
"$build/bench/rp-bench-pipeline" --data "$bottle" --method reconpatch --repr-dim 512 --coreset 0.1 | tee "$out/pipeline_rc10_512.txt"
# bf16 end to end (backbone and kNN ranking) where the CPU runs it natively (docs/scoring.md)
if grep -qw avx512_bf16 /proc/cpuinfo; then
    for ratio in 0.01 0.1; do
        "$build/bench/rp-bench-pipeline" --data "$bottle" --coreset $ratio --precision bf16 | tee "$out/pipeline_rc${ratio}_bf16.txt"
        "$build/bench/rp-bench-pipeline" --data "$bottle" --coreset $ratio --precision bf16 --knn-bf16 |
            tee "$out/pipeline_rc${ratio}_bf16_knn_bf16.txt"
    done
    "$build/bench/rp-bench-pipeline" --data "$bottle" --method patchcore --coreset 0.1 --knn-bf16 | tee "$out/pipeline_pc10_knn_bf16.txt"
    "$build/bench/rp-bench-pipeline" --data "$bottle" --method patchcore --coreset 0.1 --precision bf16 --knn-bf16 |
        tee "$out/pipeline_pc10_bf16_knn_bf16.txt"
else
    echo "no AVX512-BF16 on this CPU: the bf16 pipeline runs are skipped (oneDNN would only emulate bf16)"
fi
# whole scoring against PyTorch's PatchCore pipeline on the same models (docs/scoring.md)
sh "$src/bench/bench_pipeline_peer.sh" "$build" "${ROUNDS:-3}" | tee "$out/pipeline_peer.txt"
# the one scoring cost that grows with the products of a unified model (docs/unified.md)
"$build/bench/bench_router" | tee "$out/router.txt"
# scoring ms per image with 1, 2 and 4 categories in one PatchCore model, at 1% and 10% coreset
# (docs/unified.md, "Cost"); trains on all four shared sets: about 15 minutes per ratio on 2 cores
if [ -d "$tile" ] && [ -d "$data/deeppcb" ] && [ -d "$data/elpv_mono" ]; then
    for ratio in 0.01 0.1; do
        "$build/bench/rp-bench-categories" --data "$bottle" --data "$tile" --data "$data/deeppcb" \
            --data "$data/elpv_mono" --coreset $ratio --per-category 10 --rounds 3 | tee "$out/categories_$ratio.txt"
    done
else
    echo "magnetic_tile, deeppcb or elpv_mono missing under $data: skipping the categories benchmark (rp-bench-categories)"
fi

echo "== 4. accuracy =="
eval_run() { name=$1; shift; "$build/cli/rp-eval" "$@" --json "$out/$name.json" | tee "$out/$name.txt"; }
eval_run patchcore --method patchcore --data "$bottle" --data "$tile"
eval_run patchcore_nocrop --method patchcore --no-crop --data "$bottle" --data "$tile"
eval_run reconpatch --method reconpatch --data "$bottle" --data "$tile"
eval_run reconpatch_nocrop --method reconpatch --no-crop --data "$bottle" --data "$tile"
eval_run reconpatch_unified --method reconpatch --unified --data "$bottle" --data "$tile"
# bottle is square, so --keep-aspect changes only magnetic tile
eval_run patchcore_keep_aspect --method patchcore --keep-aspect --data "$tile"
eval_run reconpatch_keep_aspect --method reconpatch --keep-aspect --data "$tile"
# one model for the four shared sets: routed per-category banks (a head each, or one shared head),
# one shared bank, and a set added after training
# (docs/unified.md); peak RSS of the first in its /usr/bin/time line
four="--data $bottle --data $tile --data $data/deeppcb --data $data/elpv_mono --keep-aspect"
if [ -d "$data/deeppcb" ] && [ -d "$data/elpv_mono" ]; then
    /usr/bin/time -f "unified training and scoring: peak RSS %M KB, %e s" \
        "$build/cli/rp-eval" --method reconpatch --unified $four --json "$out/unified4.json" | tee "$out/unified4.txt"
    eval_run unified4_shared_head --method reconpatch --unified --heads shared $four
    eval_run unified4_shared --method reconpatch --unified-shared $four
    eval_run separate4 --method reconpatch $four
    # a product added after training: its own head (the default), and the backbone's features
    eval_run unified4_add_elpv --method reconpatch --unified --data "$bottle" --data "$tile" --data "$data/deeppcb" \
        --add "$data/elpv_mono" --keep-aspect
    eval_run unified4_add_tile_no_head --method reconpatch --unified --data "$bottle" --data "$data/deeppcb" \
        --data "$data/elpv_mono" --add "$tile" --keep-aspect --heads none
fi

# training's peak resident memory against the number of training images (docs/memory-bank.md,
# "Training memory"): the four sets and their flips, one process per size
if [ -d "$data/deeppcb" ] && [ -d "$data/elpv_mono" ]; then
    for n in ${TRAIN_MEMORY_IMAGES:-200 1000 4000}; do
        "$build/bench/rp-bench-train-memory" $four --images "$n" --coreset 0.01 | tee -a "$out/train_memory.txt"
    done
fi

echo "== 5. thresholds: false rejects and escapes =="
sh "$src/bench/calibration_table.sh" "$build" "$out/calibration" | tee "$out/calibration_table.md"
if [ "${RECONPATCH_TABLE:-1}" != 0 ]; then
    echo "== 6. ReConPatch against its baselines (keep_aspect, 10% coreset, seeds ${SEEDS:-0 7 11}) =="
    sh "$src/bench/reconpatch_table.sh" "$build" "$out/reconpatch" | tee "$out/reconpatch_table.txt"
fi
if [ "${FEATURE_DIM_TABLE:-1}" != 0 ]; then
    echo "== 6b. feature dimension: 128, 256, 384, 1024 (PatchCore and ReConPatch-64, 10% coreset) =="
    sh "$src/bench/feature_dim_table.sh" "$build" "$out/feature_dim" | tee "$out/feature_dim_table.txt"
fi
if [ "${BF16_TABLE:-1}" != 0 ]; then
    echo "== 6c. bf16's numerics end to end, and which parts would need fp32 (PatchCore 10%, coreset seeds ${BANK_SEEDS:-0 1 2}) =="
    sh "$src/bench/bf16_rounding_table.sh" "$build" "$out/bf16_rounding" | tee "$out/bf16_rounding_table.txt"
fi
echo "== 7. soak: 4 threads, ${SOAK_SECONDS:-600} s =="
"$build/bench/rp-soak" --threads 4 --seconds "${SOAK_SECONDS:-600}" | tee "$out/soak.txt"
echo "results in $out"
