#!/usr/bin/env python3
"""Writes the ONNX regression fixtures: small seeded models exported in every style ttl must
read, each with an input and onnxruntime's output.

Pinned: python 3.11, torch==2.13.0 (CPU), torchvision==0.29.2 (--no-deps; blocks only),
onnx==1.23.2, onnxruntime==1.31.1, onnxscript==0.7.2 (the dynamo exporter), numpy==2.4.6.
    pip install onnx==1.23.2 onnxruntime==1.31.1 onnxscript==0.7.2
    python3 scripts/make_onnx_fixtures.py

Each Tests/TTLONNXTests/Fixtures/models/<case>/ holds model.onnx (and model.onnx.data for
external data), input.npy, output.npy (onnxruntime, CPU provider, float32) and case.json.
It also copies the ONNX backend test cases for 2-D operators from the onnx package
(onnx/backend/test/data/pytorch-converted and pytorch-operator, Apache-2.0) into
Tests/TTLONNXTests/Fixtures/onnx-backend/.
"""
import json
import os
import shutil
import sys

import numpy as np
import onnx
import onnxruntime as ort
import torch
import torch.nn as nn
import torch.nn.functional as F
from onnx import TensorProto, helper

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tiny_models import BasicBlock, Bottleneck, TinyEfficientNetLite, TinyResNet, randomise_batch_norms  # noqa: E402

assert torch.__version__.startswith("2.13.0"), torch.__version__
assert onnx.__version__ == "1.23.2", onnx.__version__
assert ort.__version__ == "1.31.1", ort.__version__

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Tests", "TTLONNXTests", "Fixtures")
MODELS = os.path.join(ROOT, "models")
shutil.rmtree(MODELS, ignore_errors=True)
os.makedirs(MODELS)
torch.manual_seed(20261127)


def finish(name, style, x, notes=""):
    """Runs onnxruntime on the exported model and records input, output and how it was made."""
    folder = os.path.join(MODELS, name)
    sess = ort.InferenceSession(os.path.join(folder, "model.onnx"), providers=["CPUExecutionProvider"])
    feed = {sess.get_inputs()[0].name: x}
    out = sess.run(None, feed)[0]
    np.save(os.path.join(folder, "input.npy"), x)
    np.save(os.path.join(folder, "output.npy"), out)
    model = onnx.load(os.path.join(folder, "model.onnx"), load_external_data=False)
    ops = sorted({n.op_type for n in model.graph.node})
    with open(os.path.join(folder, "case.json"), "w") as f:
        json.dump({"style": style, "opset": model.opset_import[0].version, "ops": ops, "notes": notes}, f, indent=1)
    print(f"{name}: opset {model.opset_import[0].version}, ops {ops}, output {out.shape}")


def export_torchscript(name, model, x, **kw):
    folder = os.path.join(MODELS, name)
    os.makedirs(folder)
    torch.onnx.export(model, (torch.from_numpy(x),), os.path.join(folder, "model.onnx"), dynamo=False,
                      input_names=["input"], output_names=["output"],
                      dynamic_axes={"input": {0: "N"}, "output": {0: "N"}}, **kw)


def image_batch(n, size=32, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, 3, size, size, generator=g).numpy()


# 1. TorchScript exporter, eval mode: batch norms folded into the convolutions.
m = TinyResNet(BasicBlock, [1, 1, 1, 1], base=4, classes=7).eval()
randomise_batch_norms(m)
x = image_batch(3, seed=1)
export_torchscript("torchscript_folded_bn", m, x, opset_version=17)
finish("torchscript_folded_bn", "TorchScript exporter, eval mode, batch norm folded into Conv", x)

# 2. The current default (dynamo) exporter with weights in model.onnx.data beside the model.
m = TinyResNet(BasicBlock, [1, 1, 1, 1], base=4, classes=5).eval()
randomise_batch_norms(m)
x = image_batch(2, seed=2)
folder = os.path.join(MODELS, "dynamo_external_data")
os.makedirs(folder)
program = torch.onnx.export(m, (torch.from_numpy(x),), dynamo=True, input_names=["input"], output_names=["output"],
                            dynamic_shapes=({0: torch.export.Dim("N")},))
program.save(os.path.join(folder, "model.onnx"), external_data=True)
assert os.path.exists(os.path.join(folder, "model.onnx.data")), "expected external data"
finish("dynamo_external_data", "dynamo exporter, external data file", x)

# 3. Explicit BatchNormalization nodes (training mode preserved, model in eval).
m = TinyResNet(BasicBlock, [1, 1, 1, 1], base=4, classes=4).eval()
randomise_batch_norms(m)
x = image_batch(2, seed=3)
export_torchscript("explicit_batchnorm", m, x, opset_version=13, training=torch.onnx.TrainingMode.PRESERVE,
                   do_constant_folding=False)
assert any(n.op_type == "BatchNormalization" for n in onnx.load(os.path.join(MODELS, "explicit_batchnorm", "model.onnx")).graph.node)
finish("explicit_batchnorm", "TorchScript exporter, TrainingMode.PRESERVE: explicit BatchNormalization", x)

# 4. Grouped convolutions (ResNeXt bottlenecks).
m = TinyResNet(Bottleneck, [1, 1, 1, 1], base=4, groups=2, width_per_group=32, classes=6).eval()
randomise_batch_norms(m)
x = image_batch(2, seed=4)
export_torchscript("grouped_conv_resnext", m, x, opset_version=15)
finish("grouped_conv_resnext", "TorchScript exporter, grouped convolutions", x)


# 5. Model-zoo style: pre-activation blocks, flatten by Reshape of a computed shape, old opset,
#    initializers also listed as graph inputs.
class PreActNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv0 = nn.Conv2d(3, 8, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(8)
        self.conv1 = nn.Conv2d(8, 8, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(8)
        self.conv2 = nn.Conv2d(8, 16, 3, stride=2, padding=1, bias=False)
        self.bn3 = nn.BatchNorm2d(16)
        self.fc = nn.Linear(16 * 4 * 4, 5)

    def forward(self, x):
        x = self.conv0(x)
        x = x + self.conv1(F.relu(self.bn1(x)))
        x = self.conv2(F.relu(self.bn2(x)))
        x = F.avg_pool2d(F.relu(self.bn3(x)), 2)
        return F.softmax(self.fc(x.reshape(x.shape[0], -1)), dim=1)


m = PreActNet().eval()
randomise_batch_norms(m)
x = image_batch(2, size=16, seed=5)
export_torchscript("zoo_preact_reshape", m, x, opset_version=9, keep_initializers_as_inputs=True, do_constant_folding=False)
finish("zoo_preact_reshape", "opset 9, pre-activation, Reshape of a computed shape, weights listed as graph inputs", x)

# 6. EfficientNet-Lite style (torch): Pad for TF 'SAME', Clip for ReLU6, depthwise convolutions.
stages = [[1, 3, 1, 8, 4, 1], [6, 3, 2, 4, 8, 2], [6, 5, 2, 8, 12, 1]]
m = TinyEfficientNetLite(8, stages, 16, 5, 32).eval()
randomise_batch_norms(m)
x = image_batch(2, seed=6)
export_torchscript("efficientnet_lite_pad_clip", m, x, opset_version=13)
finish("efficientnet_lite_pad_clip", "TorchScript exporter, Pad + depthwise Conv + Clip (ReLU6)", x)

# 7. Hand-built graph: depthwise convolutions with asymmetric pads, HardSwish, HardSigmoid,
#    LeakyRelu, Mul with a broadcast constant, MatMul + Add head, Softmax.
rng = np.random.default_rng(7)


def const(name, array):
    return helper.make_tensor(name, TensorProto.FLOAT, array.shape, array.astype(np.float32).flatten())


c = 6
inits = [
    const("dw1.weight", rng.normal(0, 0.5, (c, 1, 3, 3))), const("dw1.bias", rng.normal(0, 0.1, (c,))),
    const("pw.weight", rng.normal(0, 0.4, (c, c, 1, 1))),
    const("dw2.weight", rng.normal(0, 0.5, (c * 2, 1, 3, 3))),
    const("scale", rng.uniform(0.5, 1.5, (1, c * 2, 1, 1))),
    const("head.weight", rng.normal(0, 0.3, (c * 2, 4))), const("head.bias", rng.normal(0, 0.1, (4,))),
]
nodes = [
    helper.make_node("Conv", ["input", "dw1.weight", "dw1.bias"], ["a"], name="dw1", group=c, kernel_shape=[3, 3],
                     strides=[2, 2], pads=[0, 0, 1, 1]),
    helper.make_node("HardSwish", ["a"], ["b"], name="hswish"),
    helper.make_node("Conv", ["b", "pw.weight"], ["c"], name="pw"),
    helper.make_node("LeakyRelu", ["c"], ["d"], name="leaky", alpha=0.1),
    helper.make_node("Conv", ["d", "dw2.weight"], ["e"], name="dw2", group=c, kernel_shape=[3, 3], strides=[1, 1],
                     pads=[1, 0, 0, 1]),
    helper.make_node("HardSigmoid", ["e"], ["f"], name="hsig", alpha=0.25, beta=0.4),
    helper.make_node("Mul", ["f", "scale"], ["g"], name="mul"),
    helper.make_node("GlobalAveragePool", ["g"], ["h"], name="gap"),
    helper.make_node("Flatten", ["h"], ["i"], name="flatten", axis=1),
    helper.make_node("MatMul", ["i", "head.weight"], ["j"], name="matmul"),
    helper.make_node("Add", ["j", "head.bias"], ["k"], name="add"),
    helper.make_node("Softmax", ["k"], ["output"], name="softmax", axis=-1),
]
graph = helper.make_graph(nodes, "depthwise_asymmetric",
                          [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", c, 9, 10])],
                          [helper.make_tensor_value_info("output", TensorProto.FLOAT, ["N", 4])], inits)
model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="make_onnx_fixtures")
model.ir_version = 8
onnx.checker.check_model(model)
os.makedirs(os.path.join(MODELS, "depthwise_asymmetric_pads"))
onnx.save(model, os.path.join(MODELS, "depthwise_asymmetric_pads", "model.onnx"))
finish("depthwise_asymmetric_pads", "hand-built: depthwise Conv with asymmetric pads, HardSwish, HardSigmoid, MatMul head",
       rng.normal(0, 1, (2, c, 9, 10)).astype(np.float32))

# --- The ONNX backend test cases for the operators ttl supports (2-D only) -------------------
backend = os.path.join(os.path.dirname(onnx.__file__), "backend", "test", "data")
out = os.path.join(ROOT, "onnx-backend")
shutil.rmtree(out, ignore_errors=True)
# ELU, PReLU_2d, SELU, Softplus, Tanh, ReflectionPad2d and ReplicationPad2d (and the node cases)
# are copied by make_onnx_op_fixtures.py, which runs after this script (make fixtures).
skip = ("1d", "3d", "Transpose", "ELU", "Embedding", "GLU", "LogSoftmax", "PReLU", "PixelShuffle", "Poisson",
        "Reflection", "Replication", "SELU", "Softmin", "Softplus", "Softsign", "Tanh", "log_softmax", "chunk",
        "concat2", "exp", "index", "_max", "_min", "non_float", "pow", "reduced_sum", "repeat", "selu", "sqrt",
        "symbolic_override", "gpu")
copied = []
for suite in ("pytorch-converted", "pytorch-operator"):
    for case in sorted(os.listdir(os.path.join(backend, suite))):
        if any(s in case for s in skip):
            continue
        shutil.copytree(os.path.join(backend, suite, case), os.path.join(out, suite, case))
        copied.append(f"{suite}/{case}")
license_src = [p for p in (os.path.join(os.path.dirname(onnx.__file__), "..", f"onnx-{onnx.__version__}.dist-info", n)
                           for n in ("LICENSE", "licenses/LICENSE")) if os.path.exists(p)]
with open(os.path.join(out, "NOTICE.md"), "w") as f:
    f.write("These test cases are copied unchanged from the onnx Python package "
            f"{onnx.__version__} (onnx/backend/test/data/), Copyright (c) ONNX Project Contributors, "
            "licensed under the Apache License 2.0 (LICENSE beside this file).\n")
if license_src:
    shutil.copy(license_src[0], os.path.join(out, "LICENSE"))
print(f"copied {len(copied)} backend cases")
