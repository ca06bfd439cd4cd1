#!/bin/sh
# struct_layout.c locks every field of every public struct: each `typedef struct T {...} T;` in
# the public headers has a sizeof(T) assert and an offsetof(T, field) assert per field, so a field
# appended without regenerating the lock (tools/gen_struct_layout.py) is caught here, not in a
# user's program. Uses perl (always present on Debian: perl-base is essential).
# usage: check_struct_coverage.sh HEADERS_DIR struct_layout.c
set -eu
headers="$1"
layout="$2"
command -v perl >/dev/null || { echo "SKIP: perl missing"; exit 77; }
cat "$headers"/*.h | perl -0777 -ne '
  s{/\*.*?\*/}{ }gs; s{//[^\n]*}{ }g;
  while (/typedef\s+struct\s+(\w+)\s*\{(.*?)\}\s*(\w+)\s*;/gs) {
    my ($t, $body) = ($3, $2);
    print "sizeof($t)\n";
    for my $decl (split /;/, $body) {
      next unless $decl =~ /\S/;
      for my $part (split /,/, $decl) {
        $part =~ /(\w+)\s*(\[[^\]]*\])?\s*$/ and print "offsetof($t, $1)\n";
      }
    }
  }' > "${TMPDIR:-/tmp}/rp_struct_needs.$$"
fail=0
n=0
while read -r need; do
  n=$((n + 1))
  grep -qF "$need" "$layout" || { echo "not locked in struct_layout.c: $need (run tools/gen_struct_layout.py)"; fail=1; }
done < "${TMPDIR:-/tmp}/rp_struct_needs.$$"
rm -f "${TMPDIR:-/tmp}/rp_struct_needs.$$"
[ "$n" -gt 0 ] || { echo "no public structs found under $headers"; exit 1; }
[ "$fail" = 0 ] && echo "struct layout lock covers all $n sizes and field offsets of the public structs"
exit $fail
