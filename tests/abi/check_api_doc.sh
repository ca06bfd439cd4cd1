#!/bin/sh
# docs/api.md keeps in step with the headers:
#  - every function declared RP_API has its own entry, a heading line "### `rp_name`";
#  - every entry, and every call-style mention `rp_name(` anywhere in the document, names a function
#    that exists (no documentation of removed or renamed functions).
# usage: check_api_doc.sh HEADERS_DIR docs/api.md
set -eu
headers="$1"
doc="$2"
here=$(dirname "$0")
fail=0
declared=$(sh "$here/api_functions.sh" "$headers")
entries=$(grep -o '^### `rp_[a-z0-9_]*`' "$doc" | sed 's/^### `//; s/`$//' | sort)
mentioned=$(grep -o 'rp_[a-z0-9_]*(' "$doc" | sed 's/($//' | sort -u)
for s in $declared; do
  echo "$entries" | grep -qx "$s" || { echo "declared RP_API but has no '### \`$s\`' entry in $doc"; fail=1; }
done
dups=$(echo "$entries" | uniq -d)
[ -z "$dups" ] || { echo "documented twice: $dups"; fail=1; }
for s in $entries $mentioned; do
  echo "$declared" | grep -qx "$s" || { echo "$doc documents $s, which no public header declares"; fail=1; }
done
[ "$fail" = 0 ] && echo "api doc ok: $(echo "$entries" | grep -c .) entries == $(echo "$declared" | grep -c .) RP_API functions"
exit $fail
