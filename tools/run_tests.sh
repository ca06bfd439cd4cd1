#!/bin/sh
# Run every test through meson and end with one summary line "N passed, N failed, N skipped".
# usage: run_tests.sh [BUILD_DIR [MESON_TEST_ARGS...]], e.g. run_tests.sh build-tsan --suite concurrency
build="${1:-build}"
[ $# -gt 0 ] && shift
meson test -C "$build" --print-errorlogs --num-processes 1 --timeout-multiplier 0 "$@"
status=$?
log="$build/meson-logs/testlog.json"
if [ -f "$log" ]; then
  passed=$(grep -c '"result": "OK"' "$log")
  failed=$(grep -Ec '"result": "(FAIL|TIMEOUT|ERROR|UNEXPECTEDPASS)"' "$log")
  skipped=$(grep -c '"result": "SKIP"' "$log")
  echo "tests: $passed passed, $failed failed, $skipped skipped"
fi
exit $status
