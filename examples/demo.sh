#!/bin/sh
# make demo: the whole story on the bundled example data (a 30-image subset of MVTec AD bottle).
#   1. the pretrained backbone classifies two photos (a sanity check of weights and preprocessing)
#   2. rp-train learns a ReConPatch model from 20 normal images, holding 20% out to set thresholds,
#      and saves it
#   3. rp-score reloads the model file and scores the 10 test images, writing heat-map overlays
#   4. rp-eval prints the image AUROC, pixel AUROC and AUPRO table for the same split
set -eu
build=${1:-build}
src=$(cd "$(dirname "$0")/.." && pwd)
out=${DEMO_OUT:-$src/out/demo}
data=$src/examples/data/bottle
bin=$build/cli
mkdir -p "$out/heatmaps"

echo "== 1. ImageNet top-5 of the example photos (class 281-285: cats, 950: orange) =="
"$bin/rp-classify" "$src/examples/photos/chelsea.png" "$src/examples/photos/orange.jpg"

echo
echo "== 2. training a ReConPatch model on $(ls "$data/train/good" | wc -l) normal bottle images =="
"$bin/rp-train" --method reconpatch --calibrate 0.2 -o "$out/bottle.rpm" "$data/train/good"

echo
echo "== 3. reloading $out/bottle.rpm and scoring the test images =="
"$bin/rp-score" "$out/bottle.rpm" "$data"/test/*/*.png --heatmap "$out/heatmaps" | tee "$out/scores.jsonl"

echo
echo "== 4. accuracy on the example split (PatchCore and ReConPatch) =="
"$bin/rp-eval" --method patchcore --data "$data" --json "$out/eval_patchcore.json"
"$bin/rp-eval" --method reconpatch --data "$data" --json "$out/eval_reconpatch.json"

cat >"$out/SUMMARY.txt" <<MSG
libreconpatch demo
model:     $out/bottle.rpm (ReConPatch, Keras ResNet-50, 10% coreset)
scores:    $out/scores.jsonl (one JSON line per test image)
heat maps: $out/heatmaps/*.png (anomaly map over the image, jet colours)
accuracy:  $out/eval_patchcore.json, $out/eval_reconpatch.json
MSG
echo
cat "$out/SUMMARY.txt"
