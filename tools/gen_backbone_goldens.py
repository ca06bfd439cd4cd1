#!/usr/bin/python3
"""Golden outputs of the ResNet backbone for tests/unit/backbone (run with /usr/bin/python3 + torch).

    /usr/bin/python3 tools/gen_backbone_goldens.py [OUT_DIR]   # default tests/data/backbone

No weights are committed: the networks use the seeded random weights of rp__weights_random
(libreconpatch/backbone/weights_resnet.c), which this script reproduces bit for bit:

* splitmix64: state += 0x9E3779B97F4A7C15; z = state; z = (z ^ z >> 30) * 0xBF58476D1CE4E5B9;
  z = (z ^ z >> 27) * 0x94D049BB133111EB; draw = z ^ z >> 31 (all mod 2^64), one state for the
  whole network, seeded with `seed`;
* u = float32(draw >> 40) / 2^24, value = float32(lo + float32(hi - lo) * u) in float32 arithmetic;
* tensors in torchvision state_dict order (conv weight, then its bias in the Keras layout, then
  BN weight, bias, running_mean, running_var; downsample after bn3; fc last), ranges:
  conv weight +-sqrt(6 / fan_in), fc weight +-1 / sqrt(fan_in), BN weight and running_var
  [0.5, 1.5), every other tensor +-0.1 (float32 maths for the bounds).

Network inputs come from the same generator (uniform in [-2, 2), seed INPUT_SEED + batch index
is NOT used: one stream seeded INPUT_SEED for the whole NCHW batch) so they need no file either.

Files (little-endian): b"RPGOLDEN", uint32 array count, then per array: uint32 name length, the
name, uint32 dtype code ('f' float32, 'd' float64, 'i' int32), uint32 ndim, ndim x uint32 dims,
the C-order data. Read by tests/unit/backbone/test_backbone.c.
  small_<arch>_<layout>.rpg: width divisor 8, input 64x64 (no crop), batch 2: layer2, layer3,
      probs (softmax of the fc), weights_sum (float64 sum of every weight, a generator check).
  full_<arch>.rpg: full width, torchvision layout, input 224, batch 1: 2000 fixed positions of
      layer2 and layer3 (flat NCHW indices + values) and each layer's max |value|.
"""
import os
import struct
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_resnet import resnet, state_dict_f32  # noqa: E402

def write_golden(path, arrays):
    with open(path, "wb") as f:
        f.write(b"RPGOLDEN" + struct.pack("<I", len(arrays)))
        for name, value in arrays.items():
            a = np.asarray(value)
            a = a.astype("<f8") if a.dtype == np.float64 else a
            code = {np.dtype("<f4"): "f", np.dtype("<f8"): "d", np.dtype("<i4"): "i"}[a.dtype]
            a = np.ascontiguousarray(a)
            f.write(struct.pack("<I", len(name)) + name.encode("ascii"))
            f.write(struct.pack("<II", ord(code), a.ndim) + struct.pack("<%dI" % a.ndim, *a.shape))
            f.write(a.tobytes())


GAMMA = np.uint64(0x9E3779B97F4A7C15)
M1 = np.uint64(0xBF58476D1CE4E5B9)
M2 = np.uint64(0x94D049BB133111EB)
INPUT_SEED = 1234


class SplitMix64:
    def __init__(self, seed):
        self.state = np.uint64(seed)

    def draws(self, n):
        with np.errstate(over="ignore"):
            k = np.arange(1, n + 1, dtype=np.uint64)
            z = self.state + k * GAMMA
            self.state = z[-1] if n else self.state
            z = (z ^ (z >> np.uint64(30))) * M1
            z = (z ^ (z >> np.uint64(27))) * M2
            return z ^ (z >> np.uint64(31))

    def uniform(self, n, lo, hi):
        lo, hi = np.float32(lo), np.float32(hi)
        u = (self.draws(n) >> np.uint64(40)).astype(np.float32) * np.float32(1.0 / 16777216.0)
        return (lo + (hi - lo) * u).astype(np.float32)


def random_state_dict(net, seed):
    """rp__weights_random's tensors for this network's state_dict."""
    rng = SplitMix64(seed)
    sd = state_dict_f32(net)
    out = {}
    for name, t in sd.items():
        n = t.numel()
        leaf = name.rsplit(".", 1)[1]
        is_bn = ".bn" in name or name.startswith("bn") or name.endswith(("downsample.1." + leaf,))
        if t.dim() == 4:  # conv weight
            fan_in = np.float32(n // t.shape[0])
            hi = np.sqrt(np.float32(6.0) / fan_in).astype(np.float32)
            lo = -hi
        elif name == "fc.weight":
            fan_in = np.float32(n // t.shape[0])
            hi = (np.float32(1.0) / np.sqrt(fan_in)).astype(np.float32)
            lo = -hi
        elif is_bn and leaf in ("weight", "running_var"):
            lo, hi = 0.5, 1.5
        else:
            lo, hi = -0.1, 0.1
        out[name] = torch.from_numpy(rng.uniform(n, lo, hi).reshape(tuple(t.shape)))
    return out


def random_input(batch, size):
    rng = SplitMix64(INPUT_SEED)
    return torch.from_numpy(rng.uniform(batch * 3 * size * size, -2.0, 2.0).reshape(batch, 3, size, size))


def build(arch, layout, divisor, seed):
    net = resnet(arch, layout=layout, width_divisor=divisor).eval()
    sd = random_state_dict(net, seed)
    net.load_state_dict(sd, strict=False)
    wsum = float(sum(v.double().sum() for v in sd.values()))
    return net, wsum


SMALL = [("resnet50", "torchvision", 11), ("resnet50", "keras", 12), ("wide_resnet50_2", "torchvision", 13)]
FULL = [("resnet50", 21), ("wide_resnet50_2", 22)]


def main():
    out_dir = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "tests", "data",
                                                                "backbone")
    os.makedirs(out_dir, exist_ok=True)
    torch.set_num_threads(2)
    with torch.no_grad():
        for arch, layout, seed in SMALL:
            net, wsum = build(arch, layout, 8, seed)
            x = random_input(2, 64)
            f = net.features(x)
            logits = net.fc(torch.flatten(net.avgpool(f["layer4"]), 1))
            write_golden(os.path.join(out_dir, "small_%s_%s.rpg" % (arch, layout)), {
                "seed": np.array([seed], dtype=np.int32),
                "weights_sum": wsum,
                "layer2": f["layer2"].numpy(),
                "layer3": f["layer3"].numpy(),
                "probs": torch.softmax(logits, 1).numpy(),
            })
        for arch, seed in FULL:
            net, wsum = build(arch, "torchvision", 1, seed)
            x = random_input(1, 224)
            f = net.features(x)
            pick = np.random.RandomState(seed).choice
            arrays = {"seed": np.array([seed], dtype=np.int32), "weights_sum": wsum}
            for layer in ("layer2", "layer3"):
                v = f[layer].numpy().ravel()
                idx = np.sort(pick(v.size, 2000, replace=False)).astype(np.int32)
                arrays[layer + "_index"] = idx
                arrays[layer + "_value"] = v[idx]
                arrays[layer + "_max_abs"] = float(np.abs(v).max())
            write_golden(os.path.join(out_dir, "full_%s.rpg" % arch), arrays)
    print("goldens written to", out_dir)


if __name__ == "__main__":
    main()
