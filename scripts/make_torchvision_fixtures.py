#!/usr/bin/env python3
"""Writes the torchvision family fixtures: one member of every CNN family people fine-tune,
built from torchvision's own model classes at reduced width (random seeded weights, batch
norm statistics randomised so that activations do not vanish), exported by both PyTorch
exporters at opsets 9–20, with an input and onnxruntime's output.

Pinned: python 3.11, torch==2.13.0 (CPU), torchvision==0.29.2 (--no-deps; model definitions
only: its compiled ops are not loaded), onnx==1.23.2, onnxruntime==1.31.1, onnxscript==0.7.2,
numpy==2.4.6.
    python3 scripts/make_torchvision_fixtures.py            # every case
    python3 scripts/make_torchvision_fixtures.py NAME...    # only these cases (the others stay)

Each Tests/TTLONNXTests/Fixtures/torchvision/<case>/ holds model.onnx, input.npy, output.npy
(onnxruntime, CPU provider, float32) and case.json (family, exporter, opset, operators,
the head's parameter path). Widths are divided by a factor and classifier hidden layers
shrunk so that each file stays small; the graph's structure (every operator, pooling mode,
concatenation, channel shuffle, squeeze-excitation, layer norm, input transform) is the
family's own. `scripts/check_full_size_onnx.py --torchvision` runs the full-size models.
"""
import json
import os
import shutil
import sys
import types
import warnings
import zlib

import numpy as np
import onnx
import onnxruntime as ort
import torch
import torch.nn as nn

warnings.filterwarnings("ignore")
# torchvision's compiled operators do not load beside CPU torch; its model definitions do.
sys.modules["torchvision._meta_registrations"] = types.ModuleType("torchvision._meta_registrations")
import torchvision  # noqa: E402
from torchvision import models as tvm  # noqa: E402
from torchvision.models import efficientnet as tv_efficientnet, mobilenetv3 as tv_mobilenetv3, regnet as tv_regnet  # noqa: E402
from torchvision.models.convnext import CNBlockConfig, ConvNeXt  # noqa: E402

assert torch.__version__.startswith("2.13.0"), torch.__version__
assert torchvision.__version__.startswith("0.29.2"), torchvision.__version__
assert onnx.__version__ == "1.23.2", onnx.__version__
assert ort.__version__ == "1.31.1", ort.__version__

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Tests", "TTLONNXTests", "Fixtures", "torchvision")
ONLY = set(sys.argv[1:])
if not ONLY:
    shutil.rmtree(ROOT, ignore_errors=True)
os.makedirs(ROOT, exist_ok=True)
CLASSES = 10


def shrink(model, factor, keep_in=(3,)):
    """Divides every channel count of `model` by `factor` in place (convolutions, batch norms
    and linear layers keep their kernels, strides, pads and groups pattern); the image's 3
    input channels and the last linear layer's or classifier convolution's outputs stay."""
    def div(c):
        assert c % factor == 0, (c, factor)
        return c // factor

    modules = list(model.named_modules())
    last_linear = [n for n, m in modules if isinstance(m, nn.Linear)][-1:] if any(isinstance(m, nn.Linear) for _, m in modules) else []
    for name, m in modules:
        for child_name, child in list(m.named_children()):
            full = f"{name}.{child_name}" if name else child_name
            if isinstance(child, nn.Conv2d):
                cin = child.in_channels if child.in_channels in keep_in else div(child.in_channels)
                cout = child.out_channels if child.out_channels == CLASSES else div(child.out_channels)
                groups = cin if child.groups == child.in_channels and child.groups > 1 else child.groups
                new = nn.Conv2d(cin, cout, child.kernel_size, child.stride, child.padding, child.dilation, groups,
                                child.bias is not None)
                setattr(m, child_name, new)
            elif isinstance(child, nn.BatchNorm2d):
                setattr(m, child_name, nn.BatchNorm2d(div(child.num_features), eps=child.eps))
            elif isinstance(child, nn.Linear):
                cout = child.out_features if full in last_linear else div(child.out_features)
                setattr(m, child_name, nn.Linear(div(child.in_features), cout, child.bias is not None))
    return model


def randomise(model):
    g = torch.Generator().manual_seed(7)
    for m in model.modules():
        if isinstance(m, (nn.BatchNorm2d, nn.LayerNorm)) or type(m).__name__ == "LayerNorm2d":
            if isinstance(m, nn.BatchNorm2d):
                c = m.num_features
                m.running_mean.copy_(torch.randn(c, generator=g) * 0.3)
                m.running_var.copy_(torch.rand(c, generator=g) + 0.5)
            if m.weight is not None:
                c = m.weight.numel()
                m.weight.data.copy_(torch.rand(c, generator=g).reshape(m.weight.shape) + 0.5)
                m.bias.data.copy_(torch.randn(c, generator=g).reshape(m.bias.shape) * 0.2)
        if hasattr(m, "layer_scale"):  # ConvNeXt's 1e-6 layer scale would hide the blocks
            m.layer_scale.data.copy_(torch.rand(m.layer_scale.shape, generator=g) * 0.5 + 0.25)
    return model.eval()


def head_path(model):
    """The parameter path of the classifier's weight: the last Linear, or SqueezeNet's final
    1×1 convolution."""
    names = [n for n, m in model.named_modules() if isinstance(m, nn.Linear)]
    if not names:
        names = [n for n, m in model.named_modules() if isinstance(m, nn.Conv2d)]
    return names[-1] + ".weight"


def case(name, family, model, size, exporter, opset, batch=2, notes=""):
    if ONLY and name not in ONLY:
        return
    # zlib.crc32, not hash(): Python randomises str hashes per process. (The cases written
    # before this change used hash(), so regenerating every case changes their weights.)
    torch.manual_seed(zlib.crc32(name.encode()) % 2**31)
    model = randomise(model)
    folder = os.path.join(ROOT, name)
    shutil.rmtree(folder, ignore_errors=True)
    os.makedirs(folder)
    g = torch.Generator().manual_seed(len(name))
    x = torch.randn(batch, 3, size, size, generator=g)
    path = os.path.join(folder, "model.onnx")
    with torch.no_grad():
        if exporter == "torchscript":
            torch.onnx.export(model, (x,), path, dynamo=False, opset_version=opset, input_names=["input"],
                              output_names=["output"], dynamic_axes={"input": {0: "N"}, "output": {0: "N"}})
        else:
            program = torch.onnx.export(model, (x,), dynamo=True, opset_version=opset, input_names=["input"],
                                        output_names=["output"], dynamic_shapes=({0: torch.export.Dim("N")},))
            program.save(path, external_data=False)
    m = onnx.load(path)
    sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    xn = x.numpy()
    out = sess.run(None, {sess.get_inputs()[0].name: xn})[0]
    with torch.no_grad():
        torch_out = model(x).numpy()
    assert np.abs(out - torch_out).max() <= 1e-3 * max(1, np.abs(torch_out).max()), (name, np.abs(out - torch_out).max())
    assert out.std() > 1e-3, f"{name}: outputs nearly constant"
    np.save(os.path.join(folder, "input.npy"), xn)
    np.save(os.path.join(folder, "output.npy"), out)
    ops = sorted({n.op_type for n in m.graph.node})
    info = {"family": family, "exporter": exporter, "opset": m.opset_import[0].version, "ops": ops,
            "head": head_path(model), "classes": CLASSES, "notes": notes}
    with open(os.path.join(folder, "case.json"), "w") as f:
        json.dump(info, f, indent=1)
    kb = os.path.getsize(path) // 1024
    print(f"{name}: {family}, {exporter} opset {info['opset']}, {kb} KiB, ops {ops}")


def shrunk_classifier(model, hidden):
    """AlexNet's and VGG's classifier with `hidden` units instead of 4096 (the flattened
    features stay as the shrunk network makes them)."""
    linears = [m for m in model.classifier if isinstance(m, nn.Linear)]
    first, mid, last = linears
    layers = []
    for m in model.classifier:
        if m is first:
            layers.append(nn.Linear(first.in_features, hidden))
        elif m is mid:
            layers.append(nn.Linear(hidden, hidden))
        elif m is last:
            layers.append(nn.Linear(hidden, CLASSES))
        else:
            layers.append(m)
    model.classifier = nn.Sequential(*layers)
    return model


# AlexNet and VGG: the classifier reads a 6×6 / 7×7 map (adaptive pooling exported as the
# identity at 224, as pooling on smaller maps).
alex = shrink(tvm.alexnet(num_classes=CLASSES), 8)
case("alexnet_torchscript_opset9", "AlexNet", shrunk_classifier(alex, 32), 224, "torchscript", 9, batch=1)
vgg = shrink(tvm.vgg11(num_classes=CLASSES), 16)
case("vgg11_torchscript_opset13", "VGG", shrunk_classifier(vgg, 32), 224, "torchscript", 13, batch=1)
vgg_bn = shrink(tvm.vgg13_bn(num_classes=CLASSES), 16)
case("vgg13_bn_dynamo_opset18", "VGG with batch norm", shrunk_classifier(vgg_bn, 32), 224, "dynamo", 18, batch=1)
# GoogLeNet and Inception v3 with the input transform of their ImageNet weights (per-channel
# slices of the input, rescaled and concatenated).
goog = shrink(tvm.googlenet(num_classes=CLASSES, aux_logits=False, init_weights=False, transform_input=True), 8)
case("googlenet_torchscript_opset11", "GoogLeNet", goog, 64, "torchscript", 11)
inc = shrink(tvm.inception_v3(num_classes=CLASSES, aux_logits=False, init_weights=False, transform_input=True), 16)
case("inception_v3_torchscript_opset17", "Inception v3", inc, 80, "torchscript", 17)
inc = shrink(tvm.inception_v3(num_classes=CLASSES, aux_logits=False, init_weights=False, transform_input=True), 16)
case("inception_v3_dynamo_opset18", "Inception v3", inc, 80, "dynamo", 18)
# ResNet relatives: ResNeXt (grouped 3×3) and Wide ResNet (wider bottlenecks).
rx = shrink(tvm.resnet.ResNet(tvm.resnet.Bottleneck, [1, 1, 1, 1], num_classes=CLASSES, groups=8, width_per_group=16), 8)
case("resnext_torchscript_opset13", "ResNeXt", rx, 64, "torchscript", 13)
wr = shrink(tvm.resnet.ResNet(tvm.resnet.Bottleneck, [1, 1, 1, 1], num_classes=CLASSES, width_per_group=128), 16)
case("wide_resnet_dynamo_opset20", "Wide ResNet", wr, 64, "dynamo", 20)
# SqueezeNet: the classifier is a 1×1 convolution, then a global average pool.
case("squeezenet1_0_torchscript_opset9", "SqueezeNet 1.0", shrink(tvm.squeezenet1_0(num_classes=CLASSES), 8), 64, "torchscript", 9)
case("squeezenet1_1_dynamo_opset18", "SqueezeNet 1.1", shrink(tvm.squeezenet1_1(num_classes=CLASSES), 8), 64, "dynamo", 18)
# ShuffleNet v2: channel split (Slice / Split) and shuffle (Reshape, 5-D Transpose).
sh = tvm.ShuffleNetV2([2, 2, 2], [8, 16, 32, 64, 128], num_classes=CLASSES)
case("shufflenet_v2_torchscript_opset13", "ShuffleNet v2", sh, 64, "torchscript", 13)
sh = tvm.ShuffleNetV2([2, 2, 2], [8, 16, 32, 64, 128], num_classes=CLASSES)
case("shufflenet_v2_dynamo_opset20", "ShuffleNet v2", sh, 64, "dynamo", 20)
# DenseNet: concatenation of every earlier layer, average-pool transitions.
dn = tvm.DenseNet(growth_rate=8, block_config=(2, 2, 2, 2), num_init_features=16, bn_size=2, num_classes=CLASSES)
case("densenet_torchscript_opset11", "DenseNet", dn, 64, "torchscript", 11)
dn = tvm.DenseNet(growth_rate=8, block_config=(2, 2, 2, 2), num_init_features=16, bn_size=2, num_classes=CLASSES)
case("densenet_dynamo_opset18", "DenseNet", dn, 64, "dynamo", 18)
# MobileNet v2 and v3, MNASNet: inverted residuals, ReLU6, hard-swish, squeeze-excitation.
case("mobilenet_v2_torchscript_opset9", "MobileNet v2", tvm.MobileNetV2(num_classes=CLASSES, width_mult=0.25), 64, "torchscript", 9)
setting, last = tv_mobilenetv3._mobilenet_v3_conf("mobilenet_v3_small", width_mult=0.25)
case("mobilenet_v3_small_torchscript_opset17", "MobileNet v3 small", tvm.MobileNetV3(setting, last, num_classes=CLASSES), 64,
     "torchscript", 17)
setting, last = tv_mobilenetv3._mobilenet_v3_conf("mobilenet_v3_large", width_mult=0.25)
case("mobilenet_v3_large_dynamo_opset18", "MobileNet v3 large", tvm.MobileNetV3(setting, 128, num_classes=CLASSES), 64, "dynamo", 18)
case("mnasnet_torchscript_opset13", "MNASNet", tvm.MNASNet(0.25, num_classes=CLASSES), 64, "torchscript", 13)
# EfficientNet B0 and V2: SiLU, squeeze-excitation, fused MBConv (V2).
setting, last = tv_efficientnet._efficientnet_conf("efficientnet_b0", width_mult=0.25, depth_mult=0.25)
case("efficientnet_b0_torchscript_opset17", "EfficientNet", tvm.EfficientNet(setting, 0.2, num_classes=CLASSES, last_channel=last),
     64, "torchscript", 17)
setting, last = tv_efficientnet._efficientnet_conf("efficientnet_v2_s")
setting = [type(s)(s.expand_ratio, s.kernel, s.stride, max(8, s.input_channels // 8), max(8, s.out_channels // 8), 1) for s in setting]
case("efficientnet_v2_dynamo_opset18", "EfficientNet V2", tvm.EfficientNet(setting, 0.2, num_classes=CLASSES, last_channel=128),
     64, "dynamo", 18)
# RegNet X and Y: grouped bottlenecks (Y with squeeze-excitation).
params = tv_regnet.BlockParams.from_init_params(depth=4, w_0=16, w_a=8.0, w_m=2.0, group_width=8)
case("regnet_x_torchscript_opset13", "RegNet X", tvm.RegNet(params, num_classes=CLASSES, stem_width=8), 64, "torchscript", 13)
params = tv_regnet.BlockParams.from_init_params(depth=4, w_0=16, w_a=8.0, w_m=2.0, group_width=8, se_ratio=0.25)
case("regnet_y_dynamo_opset20", "RegNet Y", tvm.RegNet(params, num_classes=CLASSES, stem_width=8), 64, "dynamo", 20)
# ConvNeXt: 7×7 depthwise, LayerNorm over NHWC channels, Linear on the last axis, GELU, layer scale.
blocks = [CNBlockConfig(16, 32, 1), CNBlockConfig(32, 64, 1), CNBlockConfig(64, 96, 1), CNBlockConfig(96, None, 1)]
case("convnext_torchscript_opset17", "ConvNeXt", ConvNeXt(blocks, num_classes=CLASSES), 64, "torchscript", 17)
# The dynamo exporter writes the classifier's flatten as an identity `as_strided`: a Gather of
# the flattened pooled features at indices computed from the batch size (Range · C + arange(C)).
case("convnext_dynamo_opset18", "ConvNeXt", ConvNeXt(blocks, num_classes=CLASSES), 64, "dynamo", 18)

# Filling the (family, exporter) and opset gaps: plain ResNet from both exporters, the families
# above that had one exporter (AlexNet, GoogLeNet, MNASNet, MobileNet v2 now also from dynamo,
# RegNet Y and MobileNet v3 large also from TorchScript), and the opsets no case used (10, 12,
# 14, 16 from TorchScript; 19 and 21 from dynamo, which writes opset 18 and later).
rn = shrink(tvm.resnet.ResNet(tvm.resnet.BasicBlock, [1, 1, 1, 1], num_classes=CLASSES), 8)
case("resnet18_torchscript_opset10", "ResNet", rn, 64, "torchscript", 10)
rn = shrink(tvm.resnet.ResNet(tvm.resnet.Bottleneck, [1, 1, 1, 1], num_classes=CLASSES), 16)
case("resnet50_dynamo_opset21", "ResNet", rn, 64, "dynamo", 21)
alex = shrink(tvm.alexnet(num_classes=CLASSES), 8)
case("alexnet_dynamo_opset19", "AlexNet", shrunk_classifier(alex, 32), 224, "dynamo", 19, batch=1)
vgg_bn = shrink(tvm.vgg11_bn(num_classes=CLASSES), 16)
case("vgg11_bn_torchscript_opset12", "VGG with batch norm", shrunk_classifier(vgg_bn, 32), 224, "torchscript", 12, batch=1)
goog = shrink(tvm.googlenet(num_classes=CLASSES, aux_logits=False, init_weights=False, transform_input=True), 8)
case("googlenet_dynamo_opset19", "GoogLeNet", goog, 64, "dynamo", 19)
case("mnasnet_dynamo_opset19", "MNASNet", tvm.MNASNet(0.25, num_classes=CLASSES), 64, "dynamo", 19)
case("mobilenet_v2_dynamo_opset21", "MobileNet v2", tvm.MobileNetV2(num_classes=CLASSES, width_mult=0.25), 64, "dynamo", 21)
params = tv_regnet.BlockParams.from_init_params(depth=4, w_0=16, w_a=8.0, w_m=2.0, group_width=8, se_ratio=0.25)
case("regnet_y_torchscript_opset14", "RegNet Y", tvm.RegNet(params, num_classes=CLASSES, stem_width=8), 64, "torchscript", 14)
setting, last = tv_mobilenetv3._mobilenet_v3_conf("mobilenet_v3_large", width_mult=0.25)
case("mobilenet_v3_large_torchscript_opset16", "MobileNet v3 large", tvm.MobileNetV3(setting, 128, num_classes=CLASSES), 64,
     "torchscript", 16)
