"""Plain-PyTorch ResNet-50 family (no torchvision needed), the reference for goldens.

Both weight layouts use torchvision state_dict names, so `load_state_dict` accepts a torchvision
checkpoint and the tensors libreconpatch loads (rp__weights) map one to one:

* layout "torchvision": torchvision.models.resnet50 / wide_resnet50_2 exactly (stride on the 3x3
  conv, convs without bias, BatchNorm eps 1e-5).
* layout "keras": the Keras / Caffe ResNet-50 v1 (stride on the first 1x1 conv of a down-sampling
  block and on its shortcut conv, every conv has a bias, BatchNorm eps 1e-3). The Keras fc1000 has
  a softmax; `forward` returns logits in both layouts.

`width_divisor` divides every channel count (stem included) for small test nets;
`width_per_group` 128 gives wide_resnet50_2.

    from torch_resnet import resnet
    net = resnet("wide_resnet50_2", layout="torchvision", width_divisor=1).eval()
    feats = net.features(x)   # dict: stem, layer1..layer4

The Keras ImageNet weights (TF.js, tools/fetch_weights.sh) load with
    net = resnet("resnet50", layout="keras"); net.load_state_dict(tfjs_state_dict(path), strict=False)
(strict=False only because num_batches_tracked is absent). Input: Keras "caffe" preprocessing.
"""
import json
import os

import numpy as np
import torch
from torch import nn

BLOCKS = (3, 4, 6, 3)
ARCHS = {"resnet50": 64, "wide_resnet50_2": 128}  # arch -> width_per_group


class Bottleneck(nn.Module):
    expansion = 4

    def __init__(self, inplanes, planes, stride, width_per_group, layout):
        super().__init__()
        keras = layout == "keras"
        eps = 1e-3 if keras else 1e-5
        width = planes * width_per_group // 64
        s1, s2 = (stride, 1) if keras else (1, stride)
        self.conv1 = nn.Conv2d(inplanes, width, 1, stride=s1, bias=keras)
        self.bn1 = nn.BatchNorm2d(width, eps=eps)
        self.conv2 = nn.Conv2d(width, width, 3, stride=s2, padding=1, bias=keras)
        self.bn2 = nn.BatchNorm2d(width, eps=eps)
        self.conv3 = nn.Conv2d(width, planes * 4, 1, bias=keras)
        self.bn3 = nn.BatchNorm2d(planes * 4, eps=eps)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = None
        if stride != 1 or inplanes != planes * 4:
            self.downsample = nn.Sequential(
                nn.Conv2d(inplanes, planes * 4, 1, stride=stride, bias=keras),
                nn.BatchNorm2d(planes * 4, eps=eps))

    def forward(self, x):
        idt = x if self.downsample is None else self.downsample(x)
        y = self.relu(self.bn1(self.conv1(x)))
        y = self.relu(self.bn2(self.conv2(y)))
        y = self.bn3(self.conv3(y))
        return self.relu(y + idt)


class ResNet(nn.Module):
    def __init__(self, width_per_group=64, layout="torchvision", width_divisor=1, num_classes=1000):
        super().__init__()
        if layout not in ("torchvision", "keras"):
            raise ValueError("layout must be 'torchvision' or 'keras'")
        if width_divisor < 1 or 64 % width_divisor:
            raise ValueError("width_divisor must divide 64")
        keras = layout == "keras"
        self.layout = layout
        stem = 64 // width_divisor
        self.conv1 = nn.Conv2d(3, stem, 7, stride=2, padding=3, bias=keras)
        self.bn1 = nn.BatchNorm2d(stem, eps=1e-3 if keras else 1e-5)
        self.relu = nn.ReLU(inplace=True)
        # Keras pads with zeros before its max pool; after a ReLU that equals torch's -inf padding.
        self.maxpool = nn.MaxPool2d(3, stride=2, padding=1)
        inplanes = stem
        for i, n in enumerate(BLOCKS):
            planes = (64 << i) // width_divisor
            blocks = []
            for b in range(n):
                blocks.append(Bottleneck(inplanes, planes, 2 if (b == 0 and i > 0) else 1,
                                         width_per_group, layout))
                inplanes = planes * 4
            setattr(self, "layer%d" % (i + 1), nn.Sequential(*blocks))
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(inplanes, num_classes)

    def features(self, x):
        out = {}
        x = self.relu(self.bn1(self.conv1(x)))
        out["stem"] = x
        x = self.maxpool(x)
        for i in range(1, 5):
            x = getattr(self, "layer%d" % i)(x)
            out["layer%d" % i] = x
        return out

    def forward(self, x):
        x = self.features(x)["layer4"]
        return self.fc(torch.flatten(self.avgpool(x), 1))


def resnet(arch="resnet50", layout="torchvision", width_divisor=1, num_classes=1000):
    if arch not in ARCHS:
        raise ValueError("arch must be one of %s" % ", ".join(ARCHS))
    return ResNet(ARCHS[arch], layout, width_divisor, num_classes)


def state_dict_f32(net):
    """state_dict without num_batches_tracked, every tensor float32 and contiguous."""
    return {k: v.detach().to(torch.float32).contiguous()
            for k, v in net.state_dict().items() if not k.endswith("num_batches_tracked")}


def keras_name(tv):
    """torchvision state_dict name -> Keras ResNet-50 weight name (docs/weights.md has the table)."""
    leaf_bn = {"weight": "gamma", "bias": "beta", "running_mean": "moving_mean", "running_var": "moving_variance"}
    parts = tv.split(".")
    if parts[0] == "conv1":
        return "conv1/" + ("kernel" if parts[1] == "weight" else "bias")
    if parts[0] == "bn1":
        return "bn_conv1/" + leaf_bn[parts[1]]
    if parts[0] == "fc":
        return "fc1000/" + ("kernel" if parts[1] == "weight" else "bias")
    stage, block = int(parts[0][5:]) + 1, chr(ord("a") + int(parts[1]))
    if parts[2] == "downsample":
        is_bn, branch, leaf = parts[3] == "1", "1", parts[4]
    else:
        is_bn = parts[2].startswith("bn")
        branch, leaf = "2" + "abc"[int(parts[2][-1]) - 1], parts[3]
    layer = "%s%d%s_branch%s" % ("bn" if is_bn else "res", stage, block, branch)
    if is_bn:
        return layer + "/" + leaf_bn[leaf]
    return layer + "/" + ("kernel" if leaf == "weight" else "bias")


def tfjs_state_dict(model_json):
    """Read a TF.js layers model.json + shards (float32) into a torchvision-named state_dict:
    kernels HWIO -> OIHW, fc [in,out] -> [out,in]."""
    with open(model_json) as f:
        manifest = json.load(f)["weightsManifest"]
    base = os.path.dirname(model_json)
    arrays = {}
    for grp in manifest:
        blob = b"".join(open(os.path.join(base, p), "rb").read() for p in grp["paths"])
        off = 0
        for w in grp["weights"]:
            if w.get("dtype", "float32") != "float32":
                raise ValueError("%s: dtype %s, only float32 supported" % (w["name"], w["dtype"]))
            n = int(np.prod(w["shape"]))
            arrays[w["name"]] = np.frombuffer(blob, "<f4", n, off).reshape(w["shape"])
            off += 4 * n
        if off != len(blob):
            raise ValueError("group %s: shards hold %d bytes, weights need %d" % (grp["paths"], len(blob), off))
    by_tv = {}
    for tv in resnet("resnet50", "keras").state_dict():
        if tv.endswith("num_batches_tracked"):
            continue
        a = arrays[keras_name(tv)]
        if a.ndim == 4:
            a = a.transpose(3, 2, 0, 1)
        elif a.ndim == 2:
            a = a.T
        by_tv[tv] = torch.from_numpy(np.array(a, dtype=np.float32, order="C"))  # a writable copy
    return by_tv
