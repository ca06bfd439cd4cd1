#!/usr/bin/python3
"""Golden outputs for rp__features_aggregate, from PatchCore's own torch code.

The aggregation below is PatchCore's (amazon-science/patchcore-inspection: patchcore.py
PatchMaker.patchify and the layer-alignment loop of PatchCore._embed, common.py Preprocessing,
MeanMapper, Aggregator), copied with only the backbone removed: it takes the layer maps directly.

Input maps come from splitmix64 (same generator as tests/unit/features/test_features_aggregate.c),
so only outputs are stored. Files written to tests/data/features/:
  cases.txt     one line per case: name c2 h2 c3 h3 patch_size feature_dim seed
  <name>.bin    uint32 rows, uint32 row_index[rows], float32 out[rows][feature_dim], little-endian
                (all rows for small cases, a subsample for the full-size case).

Run: /usr/bin/python3 tools/gen_features_goldens.py [--out tests/data/features]
"""
import argparse
import os

import numpy as np
import torch
import torch.nn.functional as F

MASK64 = (1 << 64) - 1


def splitmix64_uniform(seed, count):
    """count floats in [0, 1): the top 24 bits of successive splitmix64 outputs."""
    with np.errstate(over="ignore"):
        i = np.arange(1, count + 1, dtype=np.uint64)
        z = np.uint64(seed) + i * np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        z = z ^ (z >> np.uint64(31))
    return (z >> np.uint64(40)).astype(np.float32) * np.float32(1.0 / (1 << 24))


def random_map(seed, c, h):
    # ReLU-like activations: uniform in [-0.5, 1.5) clipped at zero, as float32.
    u = splitmix64_uniform(seed, c * h * h)
    return np.maximum(u * np.float32(2.0) - np.float32(0.5), np.float32(0.0)).reshape(1, c, h, h)


# ---- PatchCore (patchcore.py / common.py), backbone removed -------------------------------------
class PatchMaker:
    def __init__(self, patchsize, stride=None):
        self.patchsize = patchsize
        self.stride = stride

    def patchify(self, features, return_spatial_info=False):
        padding = int((self.patchsize - 1) / 2)
        unfolder = torch.nn.Unfold(kernel_size=self.patchsize, stride=self.stride, padding=padding, dilation=1)
        unfolded_features = unfolder(features)
        number_of_total_patches = []
        for s in features.shape[-2:]:
            n_patches = (s + 2 * padding - 1 * (self.patchsize - 1) - 1) / self.stride + 1
            number_of_total_patches.append(int(n_patches))
        unfolded_features = unfolded_features.reshape(*features.shape[:2], self.patchsize, self.patchsize, -1)
        unfolded_features = unfolded_features.permute(0, 4, 1, 2, 3)
        if return_spatial_info:
            return unfolded_features, number_of_total_patches
        return unfolded_features


class MeanMapper(torch.nn.Module):
    def __init__(self, preprocessing_dim):
        super().__init__()
        self.preprocessing_dim = preprocessing_dim

    def forward(self, features):
        features = features.reshape(len(features), 1, -1)
        return F.adaptive_avg_pool1d(features, self.preprocessing_dim).squeeze(1)


class Preprocessing(torch.nn.Module):
    def __init__(self, input_dims, output_dim):
        super().__init__()
        self.input_dims = input_dims
        self.output_dim = output_dim
        self.preprocessing_modules = torch.nn.ModuleList()
        for input_dim in input_dims:
            self.preprocessing_modules.append(MeanMapper(output_dim))

    def forward(self, features):
        _features = []
        for module, feature in zip(self.preprocessing_modules, features):
            _features.append(module(feature))
        return torch.stack(_features, dim=1)


class Aggregator(torch.nn.Module):
    def __init__(self, target_dim):
        super().__init__()
        self.target_dim = target_dim

    def forward(self, features):
        features = features.reshape(len(features), 1, -1)
        features = F.adaptive_avg_pool1d(features, self.target_dim)
        return features.reshape(len(features), -1)


def patchcore_embed(layer_maps, patchsize, pretrain_embed_dimension, target_embed_dimension):
    """PatchCore._embed after the backbone: list of NCHW maps -> (N * H2 * W2) x target_dim."""
    patch_maker = PatchMaker(patchsize, stride=1)
    features = [patch_maker.patchify(x, return_spatial_info=True) for x in layer_maps]
    patch_shapes = [x[1] for x in features]
    features = [x[0] for x in features]
    ref_num_patches = patch_shapes[0]
    for i in range(1, len(features)):
        _features = features[i]
        patch_dims = patch_shapes[i]
        _features = _features.reshape(_features.shape[0], patch_dims[0], patch_dims[1], *_features.shape[2:])
        _features = _features.permute(0, -3, -2, -1, 1, 2)
        perm_base_shape = _features.shape
        _features = _features.reshape(-1, *_features.shape[-2:])
        _features = F.interpolate(_features.unsqueeze(1), size=(ref_num_patches[0], ref_num_patches[1]),
                                  mode="bilinear", align_corners=False)
        _features = _features.squeeze(1)
        _features = _features.reshape(*perm_base_shape[:-2], ref_num_patches[0], ref_num_patches[1])
        _features = _features.permute(0, -2, -1, 1, 2, 3)
        _features = _features.reshape(len(_features), -1, *_features.shape[-3:])
        features[i] = _features
    features = [x.reshape(-1, *x.shape[-3:]) for x in features]
    features = Preprocessing([m.shape[1] for m in layer_maps], pretrain_embed_dimension)(features)
    features = Aggregator(target_dim=target_embed_dimension)(features)
    return features
# -------------------------------------------------------------------------------------------------


CASES = [
    # name, c2, h2, c3, h3, patch_size, feature_dim, seed
    ("tiny", 8, 6, 16, 3, 3, 32, 11),
    ("odd_grid", 20, 7, 40, 4, 3, 100, 12),
    ("wide_bins", 200, 9, 150, 5, 3, 1024, 13),
    ("patch5", 12, 8, 24, 4, 5, 64, 14),
    ("patch1_same_grid", 300, 5, 600, 5, 1, 256, 15),
    ("resnet50", 512, 28, 1024, 14, 3, 1024, 16),
]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "..", "tests", "data", "features"))
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    torch.set_num_threads(1)
    with open(os.path.join(args.out, "cases.txt"), "w") as manifest:
        for name, c2, h2, c3, h3, p, fd, seed in CASES:
            l2 = torch.from_numpy(random_map(seed, c2, h2))
            l3 = torch.from_numpy(random_map(seed + 1000, c3, h3))
            with torch.no_grad():
                out = patchcore_embed([l2, l3], p, 1024, fd).numpy().astype(np.float32)
            rows = np.arange(out.shape[0], dtype=np.uint32)
            if out.shape[0] * fd > 40000:  # keep the committed file small: corners, edges and a spread
                picks = {0, h2 - 1, h2 * (h2 - 1), h2 * h2 - 1, h2 + 1, (h2 // 2) * h2 + h2 // 2}
                picks |= set(range(3, h2 * h2, max(1, h2 * h2 // 20)))
                rows = np.array(sorted(picks), dtype=np.uint32)
            with open(os.path.join(args.out, name + ".bin"), "wb") as f:
                f.write(np.uint32(len(rows)).astype("<u4").tobytes())
                f.write(rows.astype("<u4").tobytes())
                f.write(out[rows].astype("<f4").tobytes())
            manifest.write(f"{name} {c2} {h2} {c3} {h3} {p} {fd} {seed}\n")
            print(name, out.shape, "stored rows", len(rows))


if __name__ == "__main__":
    main()
