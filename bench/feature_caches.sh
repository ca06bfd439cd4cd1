#!/bin/sh
# The rp-tune feature caches of the four shared sets (default preprocessing), made once and reused
# by the measurements that train and score many times on them (calibration splits, the feature
# dimension sweep). About 7 GB for the four. Prints the --cache options on its last line.
#   sh bench/feature_caches.sh BUILD CACHE_DIR
set -eu
build=${1:-build}
dir=${2:-$build/bench-results/caches}
src=$(cd "$(dirname "$0")/.." && pwd)
data=${RP_DATA_DIR:-$src/../shared/data}
mkdir -p "$dir"
opts=""
for s in mvtec_ad/bottle magnetic_tile deeppcb elpv_mono; do
    name=$(basename "$s")
    [ -d "$data/$s" ] || { echo "feature caches: $data/$s absent, left out" >&2; continue; }
    if [ ! -s "$dir/$name.rpfc" ]; then
        "$build/bench/rp-tune" cache --data "$data/$s" --out "$dir/$name.rpfc.part" >&2
        mv "$dir/$name.rpfc.part" "$dir/$name.rpfc"
    fi
    opts="$opts --cache $dir/$name.rpfc"
done
echo "$opts"
