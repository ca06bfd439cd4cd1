#!/bin/sh
# The shared library exports exactly the public API: every dynamic symbol it defines is rp_*
# (not rp__*), and every function declared RP_API in the public headers is exported.
set -eu
lib="$1"
headers="$2"
fail=0
exported=$(nm -D --defined-only "$lib" | awk '$2 ~ /^[TDBRVW]$/ {print $3}' | sed 's/@.*//' | sort -u)
for s in $exported; do
  case "$s" in
    rp__*) echo "internal symbol exported: $s"; fail=1 ;;
    rp_*) ;;
    RECONPATCH_*) ;;  # version node names
    *) echo "non-API symbol exported: $s"; fail=1 ;;
  esac
done
declared=$(cat "$headers"/*.h | grep -v "^ *#" | tr '\n' ' ' | grep -o 'RP_API[^;(]*(' | sed 's/($//; s/.*[ *]//' | sort -u)
for s in $declared; do
  echo "$exported" | grep -qx "$s" || { echo "declared but not exported: $s"; fail=1; }
done
for s in $exported; do
  case "$s" in rp_*) echo "$declared" | grep -qx "$s" || { echo "exported but not declared RP_API: $s"; fail=1; } ;; esac
done
n=$(echo "$exported" | grep -c '^rp_' || true)
[ "$fail" = 0 ] && echo "exports ok: $n rp_* symbols, all declared in the public headers"
exit $fail
