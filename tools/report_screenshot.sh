#!/bin/sh
# The evaluation report of the bundled example set (examples/data/bottle), rendered by Debian's
# headless Chromium: writes OUT_DIR/report/ (rp-eval --report), OUT_DIR/eval.json, OUT_DIR/dom.html
# (the DOM after loading, --dump-dom) and OUT_DIR/screenshot.png. The README's screenshot
# (docs/images/report.png) is made with
#     sh tools/report_screenshot.sh build out/report-shot && cp out/report-shot/screenshot.png docs/images/report.png
# and tests/report/check_report.sh runs the same to check the page.
# usage: report_screenshot.sh BUILD_DIR OUT_DIR
set -eu
build=$1
out=$2
src=$(cd "$(dirname "$0")/.." && pwd)
browser=$(command -v chromium || true)
[ -n "$browser" ] || { echo "report_screenshot: chromium is not installed (make deps installs it)" >&2; exit 3; }
mkdir -p "$out"
rm -rf "$out/report"
# PatchCore with a 10% coreset: the library's defaults, a few seconds on the example set.
"$build/cli/rp-eval" --method patchcore --data "$src/examples/data/bottle" --report "$out/report" \
    --json "$out/eval.json" >"$out/eval.txt"

# A fresh profile and every background service off: the machine may have no network, and Chromium
# waits for it otherwise. As root it needs --no-sandbox.
profile=$(mktemp -d "${TMPDIR:-/tmp}/rp_chromium.XXXXXX")
trap 'rm -rf "$profile"' EXIT
run_browser() {
    "$browser" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
        --disable-background-networking --disable-component-update --disable-sync \
        --user-data-dir="$profile" --hide-scrollbars --window-size=1200,1700 "$@" \
        "file://$(cd "$out/report" && pwd)/index.html" 2>>"$out/chromium.log"
}
run_browser --dump-dom >"$out/dom.html"
run_browser --screenshot="$out/screenshot.png" >/dev/null
echo "report_screenshot: $out/screenshot.png, $out/dom.html"
