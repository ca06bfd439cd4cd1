#!/bin/sh
# Install the built library into a temporary root (meson install --destdir) and use it the way a
# host application would: compile and link with nothing but
#     pkg-config --cflags --libs libreconpatch
# (PKG_CONFIG_PATH at the installed .pc file, PKG_CONFIG_SYSROOT_DIR at the temporary root so the
# prefix resolves inside it), run the programs against the installed libreconpatch.so.1, and check
# the installed files and the generated libreconpatch.pc.
# usage: check_install.sh BUILD_DIR SOURCE_DIR PROJECT_VERSION
set -eu
build=$(cd "$1" && pwd)
src=$(cd "$2" && pwd)
version="$3"
command -v pkg-config >/dev/null 2>&1 || { echo "SKIP: pkg-config not installed"; exit 77; }
cc=${CC:-cc}
cxx=${CXX:-c++}
# A sanitized build (make check-sanitize) installs a sanitized library: the programs built against
# it here are compiled with the same sanitizers, so that their runtime comes first in the process.
san=
case ${RP_SANITIZE:-none} in none|'') ;; *) san="-fsanitize=$RP_SANITIZE" ;; esac

root=$(mktemp -d "${TMPDIR:-/tmp}/rp_install.XXXXXX")
trap 'rm -rf "$root"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

# --no-rebuild: meson test has built everything; the install step must not run ninja concurrently
meson install -C "$build" --destdir "$root" --no-rebuild --quiet >"$root/install.log" 2>&1 ||
  { cat "$root/install.log"; fail "meson install --destdir failed"; }

pc=$(find "$root" -name libreconpatch.pc | head -n 1)
[ -n "$pc" ] || fail "no libreconpatch.pc installed"
echo "installed $(find "$root" -type f | wc -l) files; pc file: ${pc#$root}"

# ---- the .pc file itself ------------------------------------------------------------------
field() { sed -n "s/^$1: *//p" "$pc"; }
[ "$(field Version)" = "$version" ] || fail "Version: '$(field Version)', expected '$version'"
[ "$(field Libs)" = '-L${libdir} -lreconpatch' ] || fail "Libs: '$(field Libs)', expected '-L\${libdir} -lreconpatch'"
[ "$(field Cflags)" = '-I${includedir}' ] || fail "Cflags: '$(field Cflags)', expected '-I\${includedir}' (headers are <reconpatch/...>)"
# the pkg-config modules the library links; Requires.private, since the public headers need none
# of their headers and only the shared library is installed
req=$(field Requires.private | tr -d ' ' | tr ',' '\n' | sort | tr '\n' ' ')
[ "$req" = "libcjson libcrypto libjpeg libpng openblas " ] || fail "Requires.private: '$req', expected libcjson libcrypto libjpeg libpng openblas"
prefix=$(sed -n 's/^prefix=//p' "$pc")
libdir=$(sed -n 's/^libdir=//p' "$pc" | sed "s|\${prefix}|$prefix|")
includedir=$(sed -n 's/^includedir=//p' "$pc" | sed "s|\${prefix}|$prefix|")

# ---- the installed files ------------------------------------------------------------------
for h in "$src"/include/reconpatch/*.h; do
  [ -f "$root$includedir/reconpatch/$(basename "$h")" ] || fail "header $(basename "$h") not installed in $includedir/reconpatch"
done
[ -f "$root$includedir/reconpatch/reconpatch.hpp" ] || fail "C++ wrapper reconpatch.hpp not installed"
[ -e "$root$libdir/libreconpatch.so" ] || fail "no libreconpatch.so (development symlink) in $libdir"
[ -e "$root$libdir/libreconpatch.so.1" ] || fail "no libreconpatch.so.1 in $libdir"
soname=$(readelf -d "$root$libdir/libreconpatch.so.1" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
[ "$soname" = "libreconpatch.so.1" ] || fail "SONAME '$soname', expected libreconpatch.so.1"
[ ! -e "$root$libdir/libreconpatch_internal.a" ] || fail "the internal archive was installed"

# ---- build against the installed copy with pkg-config only --------------------------------
export PKG_CONFIG_PATH="$(dirname "$pc")"
export PKG_CONFIG_SYSROOT_DIR="$root"
flags=$(pkg-config --cflags --libs libreconpatch) || fail "pkg-config --cflags --libs libreconpatch failed"
echo "pkg-config --cflags --libs libreconpatch: $flags"
case "$flags" in *"-I$root$includedir"*) ;; *) fail "cflags do not point into the installed tree" ;; esac
case "$flags" in *"-L$root$libdir"*) ;; *) fail "libs do not point into the installed tree" ;; esac

work="$root/work"
mkdir "$work"
cat >"$work/version.c" <<'EOF'
#include <reconpatch/reconpatch.h>
#include <stdio.h>
#include <string.h>
int main(void)
{
    char macros[32];
    snprintf(macros, sizeof macros, "%d.%d.%d", RP_VERSION_MAJOR, RP_VERSION_MINOR, RP_VERSION_PATCH);
    printf("libreconpatch %s\n", rp_version_string());
    /* the header and the loaded library agree */
    return strcmp(macros, rp_version_string()) != 0 || rp_version_number() != RP_VERSION_NUMBER;
}
EOF
# shellcheck disable=SC2086 # the flags are words
$cc -std=c99 -Wall -Werror $san "$work/version.c" -o "$work/version" $flags || fail "compiling a C program failed"
out=$(LD_LIBRARY_PATH="$root$libdir" "$work/version") || fail "the C program failed: $out"
[ "$out" = "libreconpatch $version" ] || fail "the C program printed '$out', expected 'libreconpatch $version'"
# and it really ran against the installed copy
LD_LIBRARY_PATH="$root$libdir" ldd "$work/version" | grep -q "libreconpatch.so.1 => $root$libdir/" ||
  fail "the program did not load the installed libreconpatch.so.1: $(LD_LIBRARY_PATH="$root$libdir" ldd "$work/version" | grep reconpatch)"
echo "C program against the installed library: $out"

if command -v "$cxx" >/dev/null 2>&1; then
  # the installed C++ wrapper header
  cat >"$work/version.cpp" <<'EOF'
#include <reconpatch/reconpatch.hpp>
#include <iostream>
int main()
{
    try {
        rp::Image::load("/nonexistent.png");
    } catch (const rp::Error &e) {
        if (e.code() != RP_E_IO) return 1;
    }
    std::cout << "libreconpatch " << rp::version() << "\n";
    return 0;
}
EOF
  $cxx -std=c++11 -Wall -Werror $san "$work/version.cpp" -o "$work/version_cpp" $flags || fail "compiling against reconpatch.hpp failed"
  out=$(LD_LIBRARY_PATH="$root$libdir" "$work/version_cpp") || fail "the C++ program failed: $out"
  [ "$out" = "libreconpatch $version" ] || fail "the C++ program printed '$out'"
  # the C++ example from the source tree, linked against the installed library
  $cxx -std=c++11 -Wall -Werror $san "$src/examples/cpp/example.cpp" -o "$work/example" $flags ||
    fail "compiling examples/cpp/example.cpp against the installed library failed"
  out=$(LD_LIBRARY_PATH="$root$libdir" "$work/example" --version) || fail "example --version failed: $out"
  [ "$out" = "libreconpatch $version" ] || fail "example --version printed '$out'"
  echo "C++ wrapper and examples/cpp/example.cpp against the installed library: $out"
else
  echo "no C++ compiler: C++ checks not run"
fi
# the installed command-line tools run against the installed library too
for p in rp-train rp-score; do
  exe=$(find "$root" -type f -name "$p" | head -n 1)
  [ -n "$exe" ] || fail "$p not installed"
  set +e
  LD_LIBRARY_PATH="$root$libdir" OMP_WAIT_POLICY=passive "$exe" >/dev/null 2>"$work/usage"
  rc=$?
  set -e
  [ "$rc" = 2 ] && grep -q "usage: $p" "$work/usage" || fail "$p without arguments: exit $rc, $(cat "$work/usage")"
done
echo "install ok"
