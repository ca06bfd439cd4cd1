#!/usr/bin/python3
"""PatchCore's ApproximateGreedyCoresetSampler in torch on the same splitmix64 noise as
bench/rp-bench-bank.c (coreset mode), with the library's projection and start points
(see tools/gen_bank_goldens.py, whose copy of the sampler this reuses).

Prints "torch_coreset_seconds S" (selection only, data generation excluded) and the first picks.
Usage: /usr/bin/python3 tools/bench_coreset_torch.py N DIM RATIO SEED [THREADS]
"""
import os
import sys
import time

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gen_bank_goldens as g  # noqa: E402


def main():
    n, dim, ratio, seed = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4])
    torch.set_num_threads(int(sys.argv[5]) if len(sys.argv) > 5 else 1)
    x = torch.from_numpy(g.library_vectors(n, dim, 1, "uniform"))
    count = max(1, int(np.floor(n * ratio)))
    sampler = g.ApproximateGreedyCoresetSampler(count, torch.device("cpu"), g.library_start_points(n, seed), 128,
                                                g.library_projection(128, dim, seed))
    t0 = time.perf_counter()
    with torch.no_grad():
        sel = sampler.run(x)
    t = time.perf_counter() - t0
    print(f"torch_coreset_seconds {t:.3f}")
    print("first_picks", " ".join(str(int(i)) for i in sel[:20]))


if __name__ == "__main__":
    main()
