#!/bin/sh
# Regenerate the committed ABI baseline tests/abi/libreconpatch.abi from a build of the library.
#
#   sh tools/update_abi_baseline.sh [BUILD_DIR]      (default: build)
#
# Run it DELIBERATELY, only when the ABI the baseline describes is released (a new minor version
# adding symbols, or a SONAME bump), never to silence a failing abi_compat test: that test exists to
# catch accidental breaks. The build must have debug info (meson's default buildtype
# debugoptimized does). Review `git diff tests/abi/libreconpatch.abi` before committing, and
# regenerate tests/abi/struct_layout.c in the same change if a public struct grew
# (/usr/bin/python3 tools/gen_struct_layout.py). See docs/ABI.md.
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-build}
lib="$build/libreconpatch/libreconpatch.so.1"
[ -e "$lib" ] || { echo "no $lib: build first (ninja -C $build)" >&2; exit 1; }
command -v abidw >/dev/null || { echo "abidw missing: apt-get install abigail-tools" >&2; exit 1; }
readelf -S "$lib" | grep -q '\.debug_info' || { echo "$lib has no debug info" >&2; exit 1; }
# Only the exported interface and the types reachable from the public headers; no absolute paths,
# so the file does not change with the checkout's location.
abidw --headers-dir "$root/include/reconpatch" --drop-private-types --exported-interfaces-only \
  --no-corpus-path --no-comp-dir-path --short-locs \
  --out-file "$root/tests/abi/libreconpatch.abi" "$lib"
n=$(grep -c '<elf-symbol name=.rp_' "$root/tests/abi/libreconpatch.abi")
echo "wrote tests/abi/libreconpatch.abi: $n exported rp_* symbols, $(wc -c < "$root/tests/abi/libreconpatch.abi") bytes"
