#!/bin/sh
# Replay one fuzz target's seeds and committed regression inputs (meson tests fuzz_*_seeds):
#   replay.sh SEED_GENERATOR TARGET_BINARY CORPUS_NAME REGRESSIONS_DIR
# The generator writes OUT/<corpus>/; every file there and in REGRESSIONS_DIR (if any) goes
# through the target once (the replay driver, or a libFuzzer binary given files).
gen="$1" target="$2" corpus="$3" regressions="$4"
d=$(mktemp -d) || exit 1
trap 'rm -rf "$d"' EXIT
"$gen" "$d" || exit 1
set --
for f in "$d/$corpus"/* "$regressions"/*; do
  [ -f "$f" ] && set -- "$@" "$f"
done
[ $# -gt 0 ] || { echo "no inputs for $corpus" >&2; exit 1; }
echo "replaying $# inputs of $corpus"
"$target" "$@"
