#!/bin/sh
# bf16's effect on accuracy end to end, and which parts of the backbone would need fp32 to keep it:
# for each setting, the four shared sets' features with bf16's numerics in the listed units (rp-tune
# cache --bf16-rounding: fp32 kernels rounding what bf16 would store, so it runs on any CPU at fp32
# speed), then PatchCore at CORESET (default 0.1) on them (rp-tune run) with each coreset seed of
# BANK_SEEDS (default 0 1 2), against the plain fp32 caches (bench/feature_caches.sh) with the same
# seeds. CORESET=1 keeps every training patch: no selection, so one seed is enough and the change
# from fp32 is bf16's alone, free of the coreset's seed-to-seed noise (give each CORESET its own
# OUT_DIR: a setting already in OUT_DIR is not run again). One JSON line per category, setting and
# seed, then the table of docs/backbone.md: the changes from fp32 paired by seed, their mean and
# spread, and each setting's share of the backbone's multiply-adds in bf16.
#   sh bench/bf16_rounding_table.sh BUILD OUT_DIR
# BF16_SETTINGS: name=units pairs (default: every unit in bf16, and layer3 kept in fp32, the two
# settings docs/backbone.md shows); units "native" caches with oneDNN's own bf16 backbone instead
# (rp-tune cache --precision bf16: only on CPUs with AVX512-BF16). Each setting's caches (about 7 GB)
# are deleted once it has run.
set -eu
build=${1:-build}
out=${2:-$build/bench-results/bf16_rounding}
src=$(cd "$(dirname "$0")/.." && pwd)
data=${RP_DATA_DIR:-$src/../shared/data}
mkdir -p "$out"
caches=$(sh "$src/bench/feature_caches.sh" "$build" "$build/bench-results/caches" | tail -n 1)
[ -n "$caches" ] || { echo "bf16 rounding table: no shared data: skipped"; exit 0; }
seeds=${BANK_SEEDS:-0 1 2}
coreset=${CORESET:-0.1}
# run NAME UNITS CACHE_OPTIONS: PatchCore at the coreset ratio for every seed into OUT/NAME.jsonl
run() {
    for seed in $seeds; do
        # shellcheck disable=SC2086 # $3 is a list of options
        "$build/bench/rp-tune" run $3 --method patchcore --coreset "$coreset" --bank-seed "$seed" |
            sed "s/^{/{\"setting\": \"$1\", \"units\": \"$2\", /"
    done > "$out/$1.jsonl"
}
[ -s "$out/fp32.jsonl" ] || run fp32 none "$caches"
for setting in ${BF16_SETTINGS:-all=all layer3_fp32=stem,layer1,layer2}; do
    name=${setting%%=*}
    units=${setting#*=}
    [ -s "$out/$name.jsonl" ] && continue
    opts=""
    for s in mvtec_ad/bottle magnetic_tile deeppcb elpv_mono; do
        [ -d "$data/$s" ] || continue
        c="$out/$name/$(basename "$s").rpfc"
        mkdir -p "$out/$name"
        if [ "$units" = native ]; then how="--precision bf16"; else how="--bf16-rounding $units"; fi
        # shellcheck disable=SC2086 # $how is a list of options
        [ -s "$c" ] || "$build/bench/rp-tune" cache --data "$data/$s" --out "$c" $how
        opts="$opts --cache $c"
    done
    run "$name" "$units" "$opts"
    rm -rf "${out:?}/$name"
done
python3 "$src/bench/bf16_rounding_table.py" "$out"/*.jsonl
