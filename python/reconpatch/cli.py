"""`python3 -m reconpatch train|score|eval`: the command-line tools rp-train, rp-score and rp-eval
from Python, with the same options where they apply (docs/python.md, "Command line").

Exit status 0 on success, 1 when the library fails (its message is printed), 2 on bad usage."""
import argparse
import json
import math
import os
import sys

import numpy as np

from . import metrics
from ._cli_progress import ProgressBar
from .errors import ReconpatchError
from .image import Image
from .model import Model, list_images


def _image_paths(items):
    """Files as given; a folder stands for its PNG and JPEG files, sorted (as rp-train)."""
    out = []
    for item in items:
        out.extend(list_images(item) if os.path.isdir(item) else [item])
    return out


def _train_settings(args):
    extractor = {}
    if args.weights:
        extractor["weights_path"] = args.weights.encode()
    if args.no_crop:
        extractor["no_crop"] = 1
    if args.keep_aspect:
        extractor["keep_aspect"] = 1
    return dict(method=args.method, extractor=extractor or None, bank={"coreset_ratio": args.coreset},
                trainer={"epochs": args.epochs} if args.epochs else None)


def _add_train_options(p):
    p.add_argument("--method", choices=["reconpatch", "patchcore"], default="reconpatch")
    p.add_argument("--coreset", type=float, default=0.1, help="coreset ratio in (0, 1] (default 0.1)")
    crop = p.add_mutually_exclusive_group()
    crop.add_argument("--no-crop", action="store_true", help="resize straight to the input size")
    crop.add_argument("--keep-aspect", action="store_true", help="shorter side to 256, then the centre crop")
    p.add_argument("--weights", help="backbone weights (default: the cached Keras ResNet-50)")
    p.add_argument("--epochs", type=int, default=0, help="ReConPatch epochs (0 = the default)")


def cmd_train(args):
    paths = _image_paths(args.images)
    if not paths:
        raise SystemExit("reconpatch train: no PNG or JPEG image in %s" % " ".join(args.images))
    bar = ProgressBar()
    try:
        model = Model.train(paths, progress=bar, calibration_fraction=args.calibrate, **_train_settings(args))
    finally:
        bar.close()
    with model:
        model.save(args.output, embed_weights=args.embed_weights)
        t = model.thresholds
        print("reconpatch train: %d images, model saved to %s%s" % (
            len(paths), args.output,
            "" if math.isnan(t.image_threshold) else
            " (image threshold %.6g, pixel threshold %.6g from %d images)" % (
                t.image_threshold, t.pixel_threshold, t.calibration_images)), file=sys.stderr)
    return 0


def _heatmap_path(folder, image_path):
    """FOLDER/<parent folder>_<file name>.png, as rp-score names its overlays."""
    parent = os.path.basename(os.path.dirname(os.path.abspath(image_path)))
    stem = os.path.splitext(os.path.basename(image_path))[0]
    return os.path.join(folder, "%s_%s.png" % (parent, stem) if parent else stem + ".png")


def cmd_score(args):
    status = 0
    with Model.load(args.model) as model:
        t = model.thresholds
        for path in _image_paths(args.images):
            line = {"file": path}
            try:
                result = model.score(path, map=bool(args.heatmap))
                line["score"] = result.score
                line["score_max"] = result.score_max
                line["decision"] = ("anomalous" if result.anomalous else "normal") if result.decision else None
                if args.heatmap:
                    os.makedirs(args.heatmap, exist_ok=True)
                    hi = 2 * t.pixel_threshold if t.pixel_threshold > 0 else float(result.map.max())
                    lo = 0.0 if t.pixel_threshold > 0 else float(result.map.min())
                    out = _heatmap_path(args.heatmap, path)
                    with Image.from_file(path) as img, img.overlay_heatmap(result.map, lo, max(hi, lo + 1e-6)) as o:
                        o.save_png(out)
                    line["heatmap"] = out
            except ReconpatchError as e:
                line["error"] = e.message
                status = 1
            print(json.dumps(line), flush=True)
    return status


def _category(folder):
    """(train paths, test paths, labels, mask paths or None) of an MVTec-layout folder."""
    train = list_images(os.path.join(folder, "train", "good"))
    tests, labels, masks = [], [], []
    test_root = os.path.join(folder, "test")
    for kind in sorted(d for d in os.listdir(test_root) if os.path.isdir(os.path.join(test_root, d))):
        for p in list_images(os.path.join(test_root, kind)):
            tests.append(p)
            labels.append(0 if kind == "good" else 1)
            stem = os.path.splitext(os.path.basename(p))[0]
            m = os.path.join(folder, "ground_truth", kind, stem + "_mask.png")
            masks.append(m if kind != "good" and os.path.exists(m) else None)
    if not train or not tests:
        raise SystemExit("reconpatch eval: %s: needs train/good and test/* images" % folder)
    return train, tests, labels, masks


def cmd_eval(args):
    rows = {}
    for folder in args.data:
        name = os.path.basename(os.path.normpath(folder))
        train, tests, labels, masks = _category(folder)
        bar = ProgressBar()
        try:
            model = Model.train(train, progress=bar, **_train_settings(args))
        finally:
            bar.close()
        with model:
            scorer = model.scorer
            scores, maps, gts = [], [], []
            for i, (path, mask) in enumerate(zip(tests, masks)):
                r = scorer.score(path, map=False, map_input=True)
                scores.append(r.score)
                maps.append(r.map_input)
                gts.append(scorer.mask_to_input(mask, args.mask_threshold) if mask else None)
                bar(_Step(i + 1, len(tests)))
            bar.close()
        row = {"image_auroc": metrics.auroc(np.array(scores, np.float32), np.array(labels, np.uint8)),
               "pixel_auroc": None, "aupro": None, "n_train": len(train), "n_test": len(tests)}
        if any(g is not None for g in gts):
            row["pixel_auroc"] = metrics.pixel_auroc(maps, gts)
            row["aupro"] = metrics.aupro(maps, gts)
        rows[name] = row
    print("%-16s %11s %11s %8s %8s %7s" % ("category", "image_AUROC", "pixel_AUROC", "AUPRO", "n_train", "n_test"))
    for name, r in rows.items():
        fmt = lambda v: "%.4f" % v if v is not None else "n/a"
        print("%-16s %11s %11s %8s %8d %7d" % (name, fmt(r["image_auroc"]), fmt(r["pixel_auroc"]), fmt(r["aupro"]),
                                               r["n_train"], r["n_test"]))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"method": args.method, "coreset": args.coreset, "categories": rows}, f, indent=1)
    return 0


class _Step:
    """A ProgressInfo-like record for the scoring loop of eval (the library reports training only)."""
    stage_name, stage, epoch, loss = "score", 4, -1, math.nan

    def __init__(self, done, total):
        self.done, self.total = done, total


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python3 -m reconpatch", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("train", help="train a model on normal images and save it (rp-train)")
    _add_train_options(p)
    p.add_argument("--calibrate", type=float, default=0.0, metavar="F",
                   help="share of the images held out to set the thresholds (0 = none)")
    p.add_argument("--embed-weights", action="store_true", help="store the backbone weights in the model file")
    p.add_argument("-o", "--output", required=True, help="model file to write")
    p.add_argument("images", nargs="+", help="image files or folders of them")
    p.set_defaults(run=cmd_train)
    p = sub.add_parser("score", help="score images with a model file, one JSON line each (rp-score)")
    p.add_argument("model")
    p.add_argument("images", nargs="+")
    p.add_argument("--heatmap", metavar="DIR", help="write heat-map overlays into DIR")
    p.set_defaults(run=cmd_score)
    p = sub.add_parser("eval", help="image AUROC, pixel AUROC, AUPRO on MVTec-layout folders (rp-eval)")
    p.add_argument("--data", action="append", required=True, metavar="DIR")
    _add_train_options(p)
    p.add_argument("--mask-threshold", type=int, default=127)
    p.add_argument("--json", metavar="OUT.json")
    p.set_defaults(run=cmd_eval)
    args = parser.parse_args(argv)
    if getattr(args, "coreset", 0.1) <= 0 or getattr(args, "coreset", 0.1) > 1:
        parser.error("--coreset must be in (0, 1]")
    try:
        return args.run(args)
    except ReconpatchError as e:
        print("reconpatch %s: %s" % (args.command, e), file=sys.stderr)
        return 1
