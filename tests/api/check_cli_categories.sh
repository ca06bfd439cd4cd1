#!/bin/sh
# rp-train --category / --extend and rp-score on the result: a product added to a saved model
# without retraining is routed to by rp-score. Random-weights fixture backbone: the test checks the
# wiring and the routing between two very different products (bottle photos, their defect masks),
# not accuracy.
# usage: check_cli_categories.sh RP_TRAIN RP_SCORE SOURCE_DIR
set -eu
train="$1"
score="$2"
src="$3"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
weights="$src/tests/data/weights/r50_keras_d64.safetensors"
bottle="$src/examples/data/bottle"
"$train" --method patchcore --weights "$weights" --feature-dim 16 --category bottle \
  -o "$work/one.rpm" "$bottle/train/good" 2>"$work/train.log"
# a plain model refuses --extend with the reason
"$train" --method patchcore --weights "$weights" --feature-dim 16 -o "$work/plain.rpm" "$bottle/train/good" 2>/dev/null
if "$train" --extend "$work/plain.rpm" --category masks -o "$work/x.rpm" "$bottle/ground_truth/broken_large" \
  2>"$work/refused.log"; then
  echo "FAIL: --extend of a model without categories succeeded"; exit 1
fi
grep -q "records no categories" "$work/refused.log" || { cat "$work/refused.log"; echo "FAIL: no reason given"; exit 1; }
[ ! -e "$work/x.rpm" ] || { echo "FAIL: a refused --extend wrote a file"; exit 1; }
"$train" --extend "$work/one.rpm" --category masks -o "$work/two.rpm" \
  "$bottle/ground_truth/broken_large" "$bottle/ground_truth/contamination" 2>"$work/extend.log"
grep -q "with 2 categories" "$work/extend.log" || { cat "$work/extend.log"; echo "FAIL: not extended"; exit 1; }
"$score" "$work/two.rpm" "$bottle/test/good/000.png" "$bottle/test/broken_small/000.png" \
  "$bottle/ground_truth/broken_small/000_mask.png" > "$work/scores.jsonl"
cat "$work/scores.jsonl"
[ "$(grep -c '"category": "bottle"' "$work/scores.jsonl")" = 2 ] || { echo "FAIL: bottle images not routed to bottle"; exit 1; }
[ "$(grep -c '"category": "masks"' "$work/scores.jsonl")" = 1 ] || { echo "FAIL: the mask not routed to masks"; exit 1; }
echo "ok: --extend added a product, rp-score routed each image to its own"
