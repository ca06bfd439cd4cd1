#!/bin/sh
# Build the libFuzzer targets with clang (ASan + UBSan, the library instrumented too), write the seed
# corpora, run each target for FUZZ_SECONDS, one after another on one core, and print per target the
# executions (libFuzzer's final stat::number_of_executed_units, or the last progress line if larger),
# the crashes found and the slow inputs written.
#   sh tools/run_fuzz.sh [TARGET...]        (`make fuzz`; default: every target)
# Environment:
#   FUZZ_SECONDS  seconds per target (default 60)      FUZZ_BUILD  build folder (default build-fuzz)
#   FUZZ_CPU      core to pin the fuzzer to (taskset; default: the last core), or a list such as
#                 0,1 for several processes of one target (FUZZ_FLAGS=-fork=2)
#   FUZZ_JOBS     ninja -j for the build (default 2)   FUZZ_FLAGS  extra libFuzzer flags
# Kept in FUZZ_BUILD/fuzz/: corpus/<target>/ (grows from run to run), seeds/<target>/ (rewritten
# each run), artifacts/<target>/ (crash-*, leak-*, oom-*, timeout-* inputs), logs/<target>.log.
# A crash stops its target (libFuzzer's behaviour); the next target still runs. Reproduce one with
#   FUZZ_BUILD/tests/fuzz/fuzz_<target> FILE
# and, once fixed, commit FILE under tests/fuzz/regressions/<target>/ (replayed by make check).
# A slow-unit-* artifact is an input that took longer than -report_slow_units (10 s by default): worth
# a look (replay it), but not a crash, and a paused process writes them for inputs that are not slow;
# the summary counts them apart and they do not change the exit status.
# Exit status 1 when any target found a crash.
set -u
cd "$(dirname "$0")/.." || exit 1
seconds="${FUZZ_SECONDS:-60}"
build="${FUZZ_BUILD:-build-fuzz}"
jobs="${FUZZ_JOBS:-2}"
all="model_load image_png image_jpeg caller_pixels weights_safetensors weights_tfjs"
targets="${*:-$all}"

if ! command -v clang >/dev/null 2>&1 || ! ls /usr/lib/llvm-*/lib/clang/*/lib/linux/libclang_rt.fuzzer-x86_64.a >/dev/null 2>&1; then
  sh tools/install_deps.sh clang libclang-rt-14-dev || exit 1
fi
c_args="-fsanitize=fuzzer-no-link -fsanitize-coverage-ignorelist=$(pwd)/tests/fuzz/coverage_ignorelist.txt"
if [ ! -f "$build/build.ninja" ]; then
  CC=clang CXX=clang++ meson setup "$build" -Dfuzzing=true -Db_sanitize=address,undefined -Db_lundef=false \
    -Dc_args="$c_args" || exit 1
else
  meson configure "$build" -Dc_args="$c_args" || exit 1 # a folder set up before the ignore list
fi
ninja -C "$build" -j"$jobs" || exit 1

work="$build/fuzz"
rm -rf "$work/seeds"
mkdir -p "$work/seeds/model_load" "$work/logs"
"$build/tests/fuzz/make_fuzz_seeds" "$work/seeds/model_load" || exit 1
"$build/tests/fuzz/make_image_seeds" "$work/seeds" || exit 1
"$build/tests/fuzz/make_weights_seeds" "$work/seeds" || exit 1

cpu="${FUZZ_CPU:-$(($(nproc) - 1))}"
pin=""
command -v taskset >/dev/null 2>&1 && pin="taskset -c $cpu"

# count_artifacts DIR: the crash-*, leak-*, oom-* and timeout-* inputs in DIR; slow_units DIR: the others
count_artifacts() { ls "$1" | grep -vc '^slow-unit-'; }
slow_units() { ls "$1" | grep -c '^slow-unit-'; }

status=0
summary="$work/summary.txt"
printf '%-20s %12s %8s %10s %8s %5s  %s\n' target execs seconds execs/s crashes slow artifact > "$summary"
for t in $targets; do
  bin="$build/tests/fuzz/fuzz_$t"
  [ -x "$bin" ] || { echo "run_fuzz: no target $t" >&2; status=1; continue; }
  mkdir -p "$work/corpus/$t" "$work/artifacts/$t"
  set -- "$work/corpus/$t" "$work/seeds/$t"
  [ -d "tests/fuzz/regressions/$t" ] && set -- "$@" "tests/fuzz/regressions/$t"
  before=$(count_artifacts "$work/artifacts/$t")
  slow_before=$(slow_units "$work/artifacts/$t")
  echo "run_fuzz: $t for ${seconds}s on core $cpu"
  start=$(date +%s)
  # shellcheck disable=SC2086
  ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1}" UBSAN_OPTIONS="${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}" \
    $pin "$bin" -max_total_time="$seconds" -print_final_stats=1 -timeout=10 -rss_limit_mb=2048 \
    -artifact_prefix="$work/artifacts/$t/" ${FUZZ_FLAGS:-} "$@" > "$work/logs/$t.log" 2>&1
  rc=$?
  took=$(($(date +%s) - start))
  # The larger of the final stat and the last progress line: with -fork, a run stopped by SIGUSR1
  # prints a final stat of 0 from the parent, and one that runs out its time prints none.
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/logs/$t.log" | tail -1)
  progress=$(sed -n 's/^#\([0-9]*\).*/\1/p' "$work/logs/$t.log" | tail -1)
  [ "${progress:-0}" -gt "${execs:-0}" ] && execs=$progress
  crashes=$(($(count_artifacts "$work/artifacts/$t") - before))
  slow=$(($(slow_units "$work/artifacts/$t") - slow_before))
  newest=$(ls -t "$work/artifacts/$t" | grep -v '^slow-unit-' | head -1)
  [ "$crashes" -gt 0 ] && artifact="$work/artifacts/$t/$newest" || artifact="-"
  if [ "$crashes" -gt 0 ] || [ "$rc" -ne 0 ]; then
    status=1
    [ "$crashes" -gt 0 ] || artifact="exit $rc, see $work/logs/$t.log"
    grep -m1 -E "ERROR|SUMMARY" "$work/logs/$t.log" >&2
  fi
  rate=$([ "$took" -gt 0 ] && echo $(( ${execs:-0} / took )) || echo "${execs:-0}")
  printf '%-20s %12s %8s %10s %8s %5s  %s\n' "$t" "${execs:-?}" "$took" "$rate" "$crashes" "$slow" "$artifact" >> "$summary"
done
echo
cat "$summary"
exit $status
