#!/usr/bin/python3
"""PyTorch peer of the library's whole scoring path, image file to anomaly map, on the same model.

    /usr/bin/python3 tools/bench_pipeline_torch.py --model MODEL.rpm --weights model.json --data DIR
                     [--rounds 3] [--threads 2] [--limit N] [--bf16]

MODEL is a PatchCore or ReConPatch model the library trained (rp-train, default preprocessing,
Keras ResNet-50 weights). The peer scores DIR's test images the way PatchCore's and anomalib's
PyTorch code does, with the model's own memory bank and head (read through the Python binding),
so both sides do the same work:

  decode      PIL open + convert to RGB
  preprocess  resize (shorter side 256, bilinear), centre crop 224, Keras "caffe" normalisation
  backbone    ResNet-50 through layer3 (tools/torch_resnet.py), the faster of eager channels_last
              and torch.jit freeze + optimize_for_inference, chosen on warm-up images; with --bf16
              the network and its input in bfloat16 (PyTorch's oneDNN bf16 convolutions, as
              tools/bench_backbone_torch.py --bf16), layer2 / layer3 back to float32 (for a model
              the library trained with precision bf16; the rest stays float32 on both sides)
  aggregate   PatchCore's own patch aggregation (tools/gen_features_goldens.py: 3x3 patches,
              layer3 upsampled, adaptive pooling to 1024)
  head        the model's linear representation layer f (ReConPatch only)
  knn         squared distances through one matrix product against the bank (anomalib's
              euclidean_dist), minimum per patch
  reweight    anomalib's: the b nearest bank entries of m* (one matrix-vector product), 1 - softmax
              of m_test's distances to them
  map         bilinear upsample to 224, Gaussian blur (sigma 4, 33 taps), then back to the
              image's own size (the crop's region resized, the border band taking the nearest
              value, as the library does)

Rounds interleave: the library (Model.score, the public rp_score_image path with the map in the
image's geometry) over every image, then the peer over every image. Each prints its median ms per
image; the peer's stages are printed too. The image scores of both sides are compared as a check
that they compute the same thing. The LAST line is JSON: medians per side, the ratio peer / ours
per round and its median, the backbone mode, and the score agreement.
"""
import argparse
import json
import os
import statistics
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "python"))
from bench_backbone_torch import ToLayer3  # noqa: E402
from gen_features_goldens import patchcore_embed  # noqa: E402
from torch_resnet import resnet, tfjs_state_dict  # noqa: E402

import reconpatch as rp  # noqa: E402

CAFFE_MEAN_BGR = np.array([103.939, 116.779, 123.68], np.float32)
STAGES = ["decode", "preprocess", "backbone", "aggregate", "head", "knn", "reweight", "map"]


def test_images(data, limit):
    root = os.path.join(data, "test")
    paths = [p for kind in sorted(os.listdir(root)) for p in rp.list_images(os.path.join(root, kind))]
    return paths[:limit] if limit else paths


def gaussian_taps(sigma):
    radius = int(4.0 * sigma + 0.5)  # kornia / anomalib: kernel 2 * int(4 sigma + 0.5) + 1
    x = torch.arange(-radius, radius + 1, dtype=torch.float32)
    g = torch.exp(-x * x / (2.0 * sigma * sigma))
    return g / g.sum()


class Peer:
    def __init__(self, model, weights, bf16=False):
        net = resnet("resnet50", layout="keras")
        net.load_state_dict(tfjs_state_dict(weights), strict=False)
        self.dtype = torch.bfloat16 if bf16 else torch.float32
        self.net = ToLayer3(net).eval().to(self.dtype)
        self.mode, self.backbone = "eager_channels_last", self.net.to(memory_format=torch.channels_last)
        self.fmt = lambda t: t.contiguous(memory_format=torch.channels_last)
        bank = model.bank
        self.bank = torch.from_numpy(bank.vectors())
        self.bank_sq = (self.bank * self.bank).sum(1)
        emb = model.embedding
        self.head = None if emb is None else (torch.from_numpy(emb.weight), torch.from_numpy(emb.bias))
        info = model.scorer.info
        self.b = int(info.reweight_neighbors)
        self.taps = gaussian_taps(float(info.map_sigma)).reshape(1, 1, 1, -1)

    def choose_backbone(self, paths):
        """Time both modes on the first images (after a warm-up) and keep the faster."""
        x = self.preprocess(Image.open(paths[0]).convert("RGB")).to(self.dtype)
        frozen = torch.jit.optimize_for_inference(torch.jit.freeze(torch.jit.trace(self.net, x).eval()))
        modes = {"eager_channels_last": (self.net, lambda t: t.contiguous(memory_format=torch.channels_last)),
                 "jit_frozen": (frozen, lambda t: t)}
        best = {}
        with torch.no_grad():
            for name, (fn, fmt) in modes.items():
                for _ in range(2):
                    fn(fmt(x))
                times = []
                for _ in range(5):
                    t = time.perf_counter()
                    fn(fmt(x))
                    times.append(time.perf_counter() - t)
                best[name] = statistics.median(times)
        self.mode = min(best, key=best.get)
        self.backbone, self.fmt = modes[self.mode]

    @staticmethod
    def preprocess(img):
        w, h = img.size
        s = 256.0 / min(w, h)
        img = img.resize((max(1, round(w * s)), max(1, round(h * s))), Image.BILINEAR)
        w, h = img.size
        left, top = int(round((w - 224) / 2.0)), int(round((h - 224) / 2.0))
        a = np.asarray(img.crop((left, top, left + 224, top + 224)), np.float32)[:, :, ::-1] - CAFFE_MEAN_BGR
        return torch.from_numpy(np.ascontiguousarray(a.transpose(2, 0, 1)))[None]

    def score(self, path, clock):
        def lap(stage, t):
            now = time.perf_counter()
            clock[stage].append(1e3 * (now - t))
            return now

        t = time.perf_counter()
        img = Image.open(path).convert("RGB")
        width, height = img.size
        t = lap("decode", t)
        x = self.preprocess(img)
        t = lap("preprocess", t)
        l2, l3 = self.backbone(self.fmt(x.to(self.dtype)))
        l2, l3 = l2.float(), l3.float()
        t = lap("backbone", t)
        feats = patchcore_embed([l2.contiguous(), l3.contiguous()], 3, 1024, 1024)
        t = lap("aggregate", t)
        if self.head is not None:
            feats = F.linear(feats, *self.head)
        t = lap("head", t)
        d2 = (feats * feats).sum(1, keepdim=True) - 2.0 * feats @ self.bank.T + self.bank_sq[None]
        min_d2, nearest = d2.min(1)
        patch = min_d2.clamp_min(0).sqrt()
        t = lap("knn", t)
        best = int(patch.argmax())
        m_star = self.bank[nearest[best]]
        support = (self.bank_sq - 2.0 * (self.bank @ m_star)).topk(self.b, largest=False).indices
        dist = (feats[best][None] - self.bank[support]).norm(dim=1)
        score = float((1.0 - F.softmax(dist, 0)[0]) * patch[best])
        t = lap("reweight", t)
        side = int(round(patch.numel() ** 0.5))
        m = F.interpolate(patch.reshape(1, 1, side, side), size=(224, 224), mode="bilinear", align_corners=False)
        r = self.taps.shape[-1] // 2
        m = F.conv2d(F.pad(m, (r, r, 0, 0), mode="reflect"), self.taps)
        m = F.conv2d(F.pad(m, (0, 0, r, r), mode="reflect"), self.taps.transpose(2, 3))
        s = min(width, height) / 256.0  # the crop's region in the image, the band outside replicated
        cw, ch = max(1, round(224 * s)), max(1, round(224 * s))
        m = F.interpolate(m, size=(ch, cw), mode="bilinear", align_corners=False)
        left, top = (width - cw) // 2, (height - ch) // 2
        m = F.pad(m, (left, width - cw - left, top, height - ch - top), mode="replicate")
        lap("map", t)
        return score


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True)
    ap.add_argument("--weights", required=True, help="the Keras ResNet-50 model.json the model was trained with")
    ap.add_argument("--data", required=True)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--limit", type=int, default=0)
    ap.add_argument("--bf16", action="store_true", help="the peer's backbone in bfloat16 (a bf16 model)")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    paths = test_images(a.data, a.limit)
    model = rp.Model.load(a.model, num_threads=a.threads)
    peer = Peer(model, a.weights, a.bf16)
    peer.choose_backbone(paths)
    print("peer: PyTorch %s, %d threads, backbone %s, mode %s; bank %d x %d%s; %d test images" %
          (torch.__version__, a.threads, "bf16" if a.bf16 else "fp32", peer.mode, peer.bank.shape[0], peer.bank.shape[1],
           "" if peer.head is None else ", head %d -> %d" % (peer.head[0].shape[1], peer.head[0].shape[0]),
           len(paths)))
    with torch.no_grad():
        for p in paths[:3]:  # warm-up of both sides
            model.score(p)
            peer.score(p, {s: [] for s in STAGES})
        rounds = []
        for r in range(a.rounds):
            ours, ours_scores = [], []
            for p in paths:
                t = time.perf_counter()
                ours_scores.append(model.score(p).score)
                ours.append(1e3 * (time.perf_counter() - t))
            clock = {s: [] for s in STAGES}
            peer_ms, peer_scores = [], []
            for p in paths:
                t = time.perf_counter()
                peer_scores.append(peer.score(p, clock))
                peer_ms.append(1e3 * (time.perf_counter() - t))
            o, q = statistics.median(ours), statistics.median(peer_ms)
            rounds.append({"ours_ms": o, "peer_ms": q, "ratio": q / o,
                           "peer_stages_ms": {s: statistics.median(clock[s]) for s in STAGES}})
            print("round %d: ours %.1f ms per image, peer %.1f ms, peer / ours %.2f" % (r, o, q, q / o))
            print("  peer stages (median ms): " +
                  ", ".join("%s %.2f" % (s, statistics.median(clock[s])) for s in STAGES))
    ours_scores, peer_scores = np.array(ours_scores), np.array(peer_scores)
    rel = np.abs(peer_scores - ours_scores) / np.maximum(np.abs(ours_scores), 1e-12)
    rank = float(np.corrcoef(np.argsort(np.argsort(ours_scores)), np.argsort(np.argsort(peer_scores)))[0, 1])
    print("image scores, peer against ours: median relative difference %.2e, max %.2e, rank correlation %.4f" %
          (float(np.median(rel)), float(rel.max()), rank))
    print(json.dumps({"images": len(paths), "threads": a.threads, "peer_backbone_mode": peer.mode,
                      "backbone_precision": "bf16" if a.bf16 else "fp32",
                      "ours_ms": statistics.median(r["ours_ms"] for r in rounds),
                      "peer_ms": statistics.median(r["peer_ms"] for r in rounds),
                      "ratio_per_round": [round(r["ratio"], 3) for r in rounds],
                      "ratio_median": round(statistics.median(r["ratio"] for r in rounds), 3),
                      "score_rel_diff_median": float(np.median(rel)), "score_rank_correlation": rank}))


if __name__ == "__main__":
    main()
