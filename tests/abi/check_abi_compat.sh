#!/bin/sh
# Compare the built library with the committed ABI baseline (tests/abi/libreconpatch.abi, written
# by tools/update_abi_baseline.sh) using libabigail's abidiff. Fails on changes that break programs
# built against the baseline (a removed function, a changed function type); lets through what a
# minor release may do (added functions, fields appended to a struct). Offsets of existing fields
# are locked separately by struct_layout.c.
#
# abidiff's exit status is a bit field (libabigail manual, "abidiff return values"):
#   1 ABIDIFF_ERROR, 2 ABIDIFF_USAGE_ERROR, 4 ABIDIFF_ABI_CHANGE, 8 ABIDIFF_ABI_INCOMPATIBLE_CHANGE.
# usage: check_abi_compat.sh LIBRARY BASELINE HEADERS_DIR
set -u
lib="$1"
baseline="$2"
headers="$3"
if ! command -v abidiff >/dev/null 2>&1; then
  echo "SKIP: abidiff not installed (Debian package abigail-tools)"
  exit 77
fi
if ! readelf -S "$lib" 2>/dev/null | grep -q '\.debug_info'; then
  echo "SKIP: $lib has no DWARF debug info (build with -g, e.g. buildtype debugoptimized), abidiff cannot see types"
  exit 77
fi
report=$(abidiff --headers-dir2 "$headers" --drop-private-types --exported-interfaces-only "$baseline" "$lib" 2>&1)
rc=$?
echo "$report"
if [ $((rc & 3)) -ne 0 ]; then
  echo "FAIL: abidiff could not compare (exit status $rc)"
  exit 1
fi
if [ $((rc & 8)) -ne 0 ]; then
  echo "FAIL: incompatible ABI change against $baseline (exit status $rc): a SONAME bump, or undo it (docs/ABI.md)"
  exit 1
fi
# abidiff files a changed parameter list under "sub-type changes" (bit 4 only), yet a program built
# against the old prototype passes the wrong arguments: treat it as the break it is.
if printf '%s\n' "$report" | grep -Eq "parameter [0-9]+ of type .* was (added|removed)|entity changed from"; then
  echo "FAIL: a public function's parameters (or a field's type) changed against $baseline: add a new function instead (docs/ABI.md)"
  exit 1
fi
if [ $((rc & 4)) -ne 0 ]; then
  echo "ok: compatible ABI changes only (additions); run tools/update_abi_baseline.sh when they are released"
else
  echo "ok: ABI identical to the baseline"
fi
exit 0
