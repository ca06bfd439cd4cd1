#!/bin/sh
# The shared library exports exactly the public API, and the version script says so explicitly:
#   exported rp_* symbols == functions listed in libreconpatch.map == functions declared RP_API,
# nothing else is exported (no rp__* internals, no symbols of static dependencies), the map has no
# wildcard in a global: section, and every symbol carries the version node the map puts it in.
# usage: check_exports.sh LIBRARY HEADERS_DIR MAP_FILE
set -eu
lib="$1"
headers="$2"
map="$3"
here=$(dirname "$0")
fail=0

# name@@NODE for every defined dynamic symbol (version node names themselves are absolute symbols)
versioned=$(nm -D --defined-only "$lib" | awk '$2 ~ /^[TDBRVWi]$/ {print $3}' | sort -u)
exported=$(echo "$versioned" | sed 's/@.*//' | grep -v '^RECONPATCH_' | sort -u)
for s in $exported; do
  case "$s" in
    rp__*) echo "internal symbol exported: $s"; fail=1 ;;
    rp_*) ;;
    *) echo "non-API symbol exported: $s"; fail=1 ;;
  esac
done

declared=$(sh "$here/api_functions.sh" "$headers")

# "name node" for every function the map lists under a global: section
# (comments removed, then one token per line: names, "{", "}", "global:", "local:")
mapped=$(tr '\n' ' ' < "$map" | sed 's@/\*[^*]*\*\+\([^/*][^*]*\*\+\)*/@ @g' |
  sed 's/[{};]/\n&\n/g; s/global:/\nglobal:\n/g; s/local:/\nlocal:\n/g' | tr -s ' \t' '\n\n' | awk '
  $0 == "" { next }
  $0 == "{" { node = last; section = ""; next }
  $0 == "}" { section = ""; next }
  $0 == "global:" { section = "global"; next }
  $0 == "local:" { section = "local"; next }
  $0 == ";" { next }
  { last = $0; if (section == "global") print $0, node }')
if echo "$mapped" | awk '{print $1}' | grep -q '[*?[]'; then
  echo "the version script lists a wildcard under global: list every function by name"; fail=1
fi
mapped_names=$(echo "$mapped" | awk 'NF {print $1}' | sort)
dups=$(echo "$mapped_names" | uniq -d)
[ -z "$dups" ] || { echo "listed twice in the map: $dups"; fail=1; }

for s in $declared; do
  echo "$exported" | grep -qx "$s" || { echo "declared RP_API but not exported: $s"; fail=1; }
  echo "$mapped_names" | grep -qx "$s" || { echo "declared RP_API but missing from $map: $s"; fail=1; }
done
for s in $exported; do
  case "$s" in rp_*) echo "$declared" | grep -qx "$s" || { echo "exported but not declared RP_API: $s"; fail=1; } ;; esac
done
for s in $mapped_names; do
  echo "$declared" | grep -qx "$s" || { echo "listed in the map but not declared RP_API: $s"; fail=1; }
done

# each symbol is bound to the node the map lists it under (name@@NODE is the default version)
echo "$mapped" | while read -r s node; do
  [ -n "$s" ] || continue
  if echo "$exported" | grep -qx "$s" && ! echo "$versioned" | grep -qx "$s@@$node"; then
    echo "$s is not exported as $s@@$node: $(echo "$versioned" | grep "^$s@" || echo unversioned)"
    exit 1
  fi
done || fail=1

n=$(echo "$exported" | grep -c '^rp_' || true)
[ "$fail" = 0 ] && echo "exports ok: $n rp_* symbols == $(echo "$mapped_names" | grep -c . ) in the map == $(echo "$declared" | grep -c .) declared RP_API"
exit $fail
