#!/usr/bin/python3
"""PyTorch peer of bench/rp-bench-backbone: the same network truncated after layer3, 224 x 224.

    /usr/bin/python3 tools/bench_backbone_torch.py --arch resnet50 --batch 1 [--threads 2] [--iters 10] [--bf16]

Runs eval + no_grad, in two modes, and reports the better one: eager with channels_last tensors,
and torch.jit.trace + freeze + optimize_for_inference (oneDNN fusions). Per-iteration times on
stdout; the LAST line is {"arch", "batch", "precision", "threads", "img_per_s" (median of the best
mode), "best_img_per_s", "gflop_per_s", "mode"}.
"""
import argparse
import json
import os
import statistics
import sys
import time

import torch
from torch import nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_resnet import resnet  # noqa: E402

GFLOP = {"resnet50": 6.56, "wide_resnet50_2": 18.37}


class ToLayer3(nn.Module):
    def __init__(self, net):
        super().__init__()
        self.stem = nn.Sequential(net.conv1, net.bn1, net.relu, net.maxpool)
        self.layer1, self.layer2, self.layer3 = net.layer1, net.layer2, net.layer3

    def forward(self, x):
        x = self.layer1(self.stem(x))
        l2 = self.layer2(x)
        return l2, self.layer3(l2)


def time_mode(model, x, iters):
    with torch.no_grad():
        for _ in range(3):
            model(x)
        times = []
        for i in range(iters):
            t = time.perf_counter()
            model(x)
            times.append(time.perf_counter() - t)
    return times


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--arch", default="resnet50", choices=sorted(GFLOP))
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--iters", type=int, default=10)
    ap.add_argument("--bf16", action="store_true")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    dtype = torch.bfloat16 if a.bf16 else torch.float32
    net = ToLayer3(resnet(a.arch)).eval().to(dtype)
    x = torch.randn(a.batch, 3, 224, 224).to(dtype)
    results = {}
    with torch.no_grad():
        eager = net.to(memory_format=torch.channels_last)
        results["eager_channels_last"] = time_mode(eager, x.to(memory_format=torch.channels_last), a.iters)
        frozen = torch.jit.optimize_for_inference(torch.jit.freeze(torch.jit.trace(net, x).eval()))
        results["jit_frozen"] = time_mode(frozen, x, a.iters)
    for mode, times in results.items():
        for i, t in enumerate(times):
            print("%s iter %d: %.2f ms, %.1f img/s" % (mode, i, 1e3 * t, a.batch / t))
    mode = min(results, key=lambda m: statistics.median(results[m]))
    med = statistics.median(results[mode])
    print(json.dumps({"arch": a.arch, "batch": a.batch, "precision": "bf16" if a.bf16 else "fp32",
                      "threads": a.threads, "img_per_s": round(a.batch / med, 2),
                      "best_img_per_s": round(a.batch / min(results[mode]), 2),
                      "gflop_per_s": round(GFLOP[a.arch] * a.batch / med, 1), "mode": mode}))


if __name__ == "__main__":
    main()
