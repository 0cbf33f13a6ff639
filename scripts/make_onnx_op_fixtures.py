#!/usr/bin/env python3
"""Writes the ONNX operator fixtures of issue 13: small graphs built with the onnx helper API
in the Caffe2 / old-converter style (IR 3, opset 7-9: weights listed as graph inputs and made
by ConstantOfShape, Sum residuals, LRN, Dropout with its mask) and in opset 13+ (PRelu, Elu,
Selu, Tanh, Neg, Exp, Sqrt, Pow, Erf, Softplus, Mean/Max/Min, Pad on any axes in constant,
reflect and edge modes), each with an input and onnxruntime's output; the onnx package's
"light" Caffe2 Model Zoo classics that ttl can run at test speed, with the package's own
expected outputs; and the ONNX backend pytorch-converted cases of the operators added here (the
node cases: scripts/make_onnx_node_fixtures.py).

Pinned: python 3.11, onnx==1.23.2, onnxruntime==1.31.1, numpy==2.4.6.
    pip install onnx==1.23.2 onnxruntime==1.31.1 numpy==2.4.6
    python3 scripts/make_onnx_op_fixtures.py

Each Tests/TTLONNXTests/Fixtures/ops/<case>/ holds model.onnx, input.npy, output.npy
(onnxruntime, CPU provider, float32) and case.json.
"""
import json
import os
import shutil
import sys

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

assert onnx.__version__ == "1.23.2", onnx.__version__
assert ort.__version__ == "1.31.1", ort.__version__
assert np.__version__ == "2.4.6", np.__version__

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Tests", "TTLONNXTests", "Fixtures")
OPS = os.path.join(ROOT, "ops")
shutil.rmtree(OPS, ignore_errors=True)
os.makedirs(OPS)
rng = np.random.default_rng(20261203)


def const(name, array, dtype=TensorProto.FLOAT):
    array = np.asarray(array)
    return helper.make_tensor(name, dtype, array.shape, array.flatten().tolist())


def value(name, shape):
    return helper.make_tensor_value_info(name, TensorProto.FLOAT, shape)


def save(name, nodes, inputs, outputs, inits, opset, ir, x, notes, weights_as_inputs=False):
    """Checks and saves the model, runs onnxruntime on `x` and records input, output and notes."""
    graph_inputs = list(inputs)
    if weights_as_inputs:  # Caffe2 style: every initializer is also a graph input
        graph_inputs += [value(t.name, list(t.dims)) if t.data_type == TensorProto.FLOAT
                         else helper.make_tensor_value_info(t.name, t.data_type, list(t.dims)) for t in inits]
    graph = helper.make_graph(nodes, name, graph_inputs, outputs, inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)], producer_name="make_onnx_op_fixtures")
    model.ir_version = ir
    onnx.checker.check_model(model)
    folder = os.path.join(OPS, name)
    os.makedirs(folder)
    path = os.path.join(folder, "model.onnx")
    onnx.save(model, path)
    sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    out = sess.run(None, {inputs[0].name: x})[0]
    assert np.all(np.isfinite(out)), name
    np.save(os.path.join(folder, "input.npy"), x)
    np.save(os.path.join(folder, "output.npy"), out.astype(np.float32))
    ops = sorted({n.op_type for n in nodes})
    with open(os.path.join(folder, "case.json"), "w") as f:
        json.dump({"ir_version": ir, "opset": opset, "ops": ops, "notes": notes}, f, indent=1)
    print(f"{name}: IR {ir}, opset {opset}, ops {ops}, output {out.shape}")


def normal(*shape, scale=1.0):
    return rng.normal(0, scale, shape).astype(np.float32)


def shape_const(name, dims):
    return const(name, np.array(dims, dtype=np.int64), TensorProto.INT64)


def constant_of_shape(name, out, fill):
    return helper.make_node("ConstantOfShape", [name + "__SHAPE"], [out], name=name,
                            value=helper.make_tensor("value", TensorProto.FLOAT, [1], [fill]))


# 1. Caffe2 ResNet style (IR 3, opset 7, before ConstantOfShape existed): weights listed as
#    inputs, a three-way Sum residual, LRN, Dropout (opset 7 form: ratio attribute) with its mask.
c = 6
inits = [const("conv1_w_0", normal(c, 3, 3, 3, scale=0.4)), const("conv1_b_0", normal(c, scale=0.1)),
         const("res_a_w_0", normal(c, c, 3, 3, scale=0.2)), const("res_b_w_0", normal(c, c, 1, 1, scale=0.3)),
         const("fc_w_0", normal(4, c, scale=0.5)), const("fc_b_0", normal(4, scale=0.1))]
nodes = [
    helper.make_node("Conv", ["data_0", "conv1_w_0", "conv1_b_0"], ["conv1"], name="conv1", kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
    helper.make_node("Relu", ["conv1"], ["relu1"], name="relu1"),
    helper.make_node("LRN", ["relu1"], ["norm1"], name="norm1", size=5, alpha=0.001, beta=0.75, bias=1.5),
    helper.make_node("Conv", ["norm1", "res_a_w_0"], ["res_a"], name="res_a", kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
    helper.make_node("Conv", ["norm1", "res_b_w_0"], ["res_b"], name="res_b", kernel_shape=[1, 1]),
    helper.make_node("Sum", ["norm1", "res_a", "res_b"], ["res_sum"], name="res_sum"),
    helper.make_node("Relu", ["res_sum"], ["res_relu"], name="res_relu"),
    helper.make_node("MaxPool", ["res_relu"], ["pool"], name="pool", kernel_shape=[2, 2], strides=[2, 2]),
    helper.make_node("Dropout", ["pool"], ["drop", "drop_mask"], name="drop", ratio=0.5),
    helper.make_node("GlobalAveragePool", ["drop"], ["gap"], name="gap"),
    helper.make_node("Reshape", ["gap", "flat_shape"], ["flat"], name="flat"),
    helper.make_node("Gemm", ["flat", "fc_w_0", "fc_b_0"], ["fc"], name="fc", transB=1),
    helper.make_node("Softmax", ["fc"], ["softmax"], name="softmax"),
]
inits.append(shape_const("flat_shape", [1, c]))
save("caffe2_sum_lrn_dropout_opset7", nodes, [value("data_0", [1, 3, 12, 12])], [value("softmax", [1, 4])], inits, 7, 3,
     normal(1, 3, 12, 12), "Caffe2 style: IR 3, opset 7, weights as graph inputs, Sum of three, LRN, Dropout with mask",
     weights_as_inputs=True)

# 2. SqueezeNet from Caffe2 (IR 3, opset 9): fire module (Concat), Dropout with its (bool) mask,
#    final 1x1 convolution classifier, LRN, Max and Min of branches.
inits = [const("squeeze_w", normal(4, 3, 1, 1, scale=0.5)), const("e1_w", normal(4, 4, 1, 1, scale=0.5)),
         const("e3_w", normal(4, 4, 3, 3, scale=0.3)), const("cls_w", normal(5, 8, 1, 1, scale=0.4)),
         shape_const("cls_b__SHAPE", [5])]
nodes = [
    helper.make_node("Conv", ["data_0", "squeeze_w"], ["sq"], name="squeeze", kernel_shape=[1, 1]),
    helper.make_node("Relu", ["sq"], ["sq_r"], name="squeeze_relu"),
    helper.make_node("Conv", ["sq_r", "e1_w"], ["e1"], name="expand1x1", kernel_shape=[1, 1]),
    helper.make_node("Conv", ["sq_r", "e3_w"], ["e3"], name="expand3x3", kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
    helper.make_node("Max", ["e1", "e3"], ["emax"], name="branch_max"),
    helper.make_node("Min", ["e1", "e3", "sq_r"], ["emin"], name="branch_min"),
    helper.make_node("Concat", ["emax", "emin"], ["cat"], name="concat", axis=1),
    helper.make_node("LRN", ["cat"], ["norm"], name="norm3", size=3, alpha=0.01, beta=0.5),
    helper.make_node("Dropout", ["norm"], ["drop", "drop_mask"], name="drop9", ratio=0.3),
    constant_of_shape("cls_b", "cls_b", -0.125),
    helper.make_node("Conv", ["drop", "cls_w", "cls_b"], ["cls"], name="classifier", kernel_shape=[1, 1]),
    helper.make_node("Relu", ["cls"], ["cls_r"], name="classifier_relu"),
    helper.make_node("GlobalAveragePool", ["cls_r"], ["gap"], name="gap"),
    helper.make_node("Flatten", ["gap"], ["flat"], name="flatten"),
    helper.make_node("Softmax", ["flat"], ["softmax"], name="softmax"),
]
save("caffe2_squeezenet_dropout_mask_opset9", nodes, [value("data_0", [2, 3, 9, 9])], [value("softmax", [2, 5])], inits, 9, 3,
     normal(2, 3, 9, 9), "SqueezeNet style: Dropout with mask (opset 9, bool), Max/Min of branches, LRN of size 3",
     weights_as_inputs=True)

# 3. VGG/AlexNet fully connected weights from ConstantOfShape, past the old 16 Mi-element cap:
#    [1000, 25088] is VGG-16's fc6-sized 25 M elements (100 MB).
inits = [shape_const("fc6_w__SHAPE", [1000, 25088]), shape_const("fc6_b__SHAPE", [1000])]
nodes = [
    helper.make_node("ConstantOfShape", ["fc6_w__SHAPE"], ["fc6_w"], name="fc6_w",
                     value=helper.make_tensor("value", TensorProto.FLOAT, [1], [0.001])),
    helper.make_node("ConstantOfShape", ["fc6_b__SHAPE"], ["fc6_b"], name="fc6_b",
                     value=helper.make_tensor("value", TensorProto.FLOAT, [1], [0.5])),
    helper.make_node("Gemm", ["data_0", "fc6_w", "fc6_b"], ["fc6"], name="fc6", transB=1),
    helper.make_node("Relu", ["fc6"], ["fc6_r"], name="fc6_relu"),
]
save("vgg_fc6_constant_of_shape_25M", nodes, [value("data_0", [1, 25088])], [value("fc6_r", [1, 1000])], inits, 9, 3,
     normal(1, 25088, scale=0.1), "a 25 M-element ConstantOfShape weight (VGG fc6 size), IR 3, opset 9",
     weights_as_inputs=True)

# 4. Opset 13 elementwise family: PRelu (per-channel and shared slope), Elu, Selu, Tanh, Neg,
#    Exp, Sqrt, Pow, Erf (GELU), Softplus, Mean, Dropout (ratio and training_mode inputs, mask).
c = 4
inits = [const("conv_w", normal(c, 3, 3, 3, scale=0.4)), const("slope", np.abs(normal(c, 1, 1, scale=0.3))),
         const("slope1", np.array([0.2], dtype=np.float32)), const("half", np.array(0.5, dtype=np.float32)),
         const("sqrt2", np.array(np.sqrt(2.0), dtype=np.float32)), const("one", np.array(1.0, dtype=np.float32)),
         const("two", np.array(2.0, dtype=np.float32)), const("ratio", np.array(0.25, dtype=np.float32)),
         const("train", np.array(False), TensorProto.BOOL), const("fc_w", normal(c * 4, 3, scale=0.3))]
nodes = [
    helper.make_node("Conv", ["input", "conv_w"], ["a"], name="conv", kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
    helper.make_node("PRelu", ["a"] + ["slope"], ["b"], name="prelu"),
    helper.make_node("Elu", ["b"], ["c1"], name="elu", alpha=0.7),
    helper.make_node("Selu", ["a"], ["c2"], name="selu"),
    helper.make_node("Tanh", ["a"], ["c3"], name="tanh"),
    helper.make_node("PRelu", ["a", "slope1"], ["c4"], name="prelu_shared"),
    helper.make_node("Mean", ["c1", "c2", "c3", "c4"], ["d"], name="mean"),
    # GELU: x · ½ · (1 + erf(x / √2))
    helper.make_node("Div", ["d", "sqrt2"], ["g1"], name="gelu_div"),
    helper.make_node("Erf", ["g1"], ["g2"], name="gelu_erf"),
    helper.make_node("Add", ["g2", "one"], ["g3"], name="gelu_add"),
    helper.make_node("Mul", ["d", "g3"], ["g4"], name="gelu_mul"),
    helper.make_node("Mul", ["g4", "half"], ["e"], name="gelu_half"),
    helper.make_node("Softplus", ["e"], ["f"], name="softplus"),
    helper.make_node("Sqrt", ["f"], ["g"], name="sqrt"),
    helper.make_node("Pow", ["g", "two"], ["h"], name="pow"),
    helper.make_node("Neg", ["h"], ["i"], name="neg"),
    helper.make_node("Exp", ["i"], ["j"], name="exp"),
    helper.make_node("Dropout", ["j", "ratio", "train"], ["k", "k_mask"], name="dropout13"),
    helper.make_node("Max", ["k", "e"], ["l"], name="max"),
    helper.make_node("AveragePool", ["l"], ["m"], name="pool", kernel_shape=[4, 4], strides=[4, 4]),
    helper.make_node("Flatten", ["m"], ["n"], name="flatten"),
    helper.make_node("MatMul", ["n", "fc_w"], ["output"], name="fc"),
]
save("opset13_elementwise_gelu_prelu", nodes, [value("input", ["N", 3, 8, 8])], [value("output", ["N", 3])], inits, 13, 8,
     normal(2, 3, 8, 8), "PRelu, Elu, Selu, Tanh, Mean, GELU from Erf, Softplus, Sqrt, Pow, Neg, Exp, Dropout 13 with mask")

# 5. Pad in every mode and on any axes: reflect and edge of NCHW H/W, an NHWC model's Pad of
#    H and W (opset 13, full pads), opset 18 `axes`, negative pads (cropping).
inits = [const("conv_w", normal(3, 3, 3, 3, scale=0.4)),
         shape_const("pads_reflect", [0, 0, 2, 1, 0, 0, 1, 2]), shape_const("pads_edge", [0, 0, 1, 0, 0, 0, 0, 3]),
         shape_const("pads_nhwc", [0, 1, 2, 0, 0, 2, 1, 0]), const("pad_value", np.array(0.75, dtype=np.float32))]
nodes = [
    helper.make_node("Pad", ["input", "pads_reflect"], ["a"], name="pad_reflect", mode="reflect"),
    helper.make_node("Pad", ["a", "pads_edge"], ["b"], name="pad_edge", mode="edge"),
    helper.make_node("Conv", ["b", "conv_w"], ["c"], name="conv", kernel_shape=[3, 3]),
    helper.make_node("Transpose", ["c"], ["d"], name="to_nhwc", perm=[0, 2, 3, 1]),
    helper.make_node("Pad", ["d", "pads_nhwc", "pad_value"], ["e"], name="pad_nhwc", mode="constant"),
    helper.make_node("Tanh", ["e"], ["f"], name="tanh"),
    helper.make_node("Transpose", ["f"], ["output"], name="to_nchw", perm=[0, 3, 1, 2]),
]
save("opset13_pad_reflect_edge_nhwc", nodes, [value("input", ["N", 3, 7, 6])], [value("output", ["N", 3, 12, 13])], inits, 13, 8,
     normal(2, 3, 7, 6), "Pad reflect and edge of H/W, constant Pad of an NHWC tensor's H and W")

inits = [const("conv_w", normal(3, 3, 1, 1, scale=0.5)), shape_const("pads", [2, -1, 1, 3]), shape_const("axes", [-1, 2]),
         shape_const("pads_c", [1, 0, 2, 0]), shape_const("axes_c", [1, 3])]
nodes = [
    helper.make_node("Pad", ["input", "pads", "", "axes"], ["a"], name="pad_axes_crop", mode="constant"),
    helper.make_node("Pad", ["a", "pads_c", "", "axes_c"], ["b"], name="pad_channels_edge", mode="edge"),
    helper.make_node("Elu", ["b"], ["output"], name="elu"),
]
save("opset18_pad_axes_negative", nodes, [value("input", ["N", 3, 6, 5])], [value("output", ["N", 6, 8, 8])], inits, 18, 8,
     normal(2, 3, 6, 5), "opset 18 Pad with an axes input, negative pads (crop), edge padding of the channel axis")

# 6. Resize in the forms real graphs use beyond nearest and linear: bicubic (PyTorch's a = -0.75
#    and TensorFlow's -0.5 with exclude_outside), antialiased linear and cubic downsampling
#    (torchvision's antialias=True, opset 18), sizes of H and W alone through `axes`, and
#    tf_crop_and_resize with an extrapolation value. Sizes, or scales whose output lengths are
#    whole, where onnxruntime and the ONNX reference implementation agree.
inits = [const("conv_w", normal(4, 3, 3, 3, scale=0.4)),
         shape_const("sizes_a", [7, 9]), const("scales_b", np.array([1, 1, 0.5, 0.5], dtype=np.float32)),
         const("scales_c", np.array([1, 1, 2, 2], dtype=np.float32)), shape_const("sizes_d", [5, 4]),
         const("roi_d", np.array([0.1, -0.2, 0.8, 1.1], dtype=np.float32)), shape_const("sizes_e", [9, 6])]
nodes = [
    helper.make_node("Conv", ["input", "conv_w"], ["a0"], name="conv", kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
    helper.make_node("Resize", ["a0", "", "", "sizes_a"], ["a"], name="cubic_antialias_sizes", mode="cubic", antialias=1,
                     axes=[2, 3], cubic_coeff_a=-0.5),
    helper.make_node("Tanh", ["a"], ["b0"], name="tanh"),
    helper.make_node("Resize", ["b0", "", "scales_b"], ["b"], name="linear_antialias_scales", mode="linear", antialias=1),
    helper.make_node("Resize", ["b", "", "scales_c"], ["c"], name="cubic_exclude_outside", mode="cubic", exclude_outside=1,
                     cubic_coeff_a=-0.5, coordinate_transformation_mode="asymmetric"),
    helper.make_node("Resize", ["c", "roi_d", "", "sizes_d"], ["d"], name="tf_crop_and_resize", mode="cubic", axes=[2, 3],
                     coordinate_transformation_mode="tf_crop_and_resize", extrapolation_value=0.25),
    helper.make_node("Resize", ["d", "", "", "sizes_e"], ["output"], name="cubic_pytorch_half_pixel", mode="cubic", axes=[2, 3],
                     coordinate_transformation_mode="pytorch_half_pixel"),
]
save("opset18_resize_cubic_antialias_crop", nodes, [value("input", ["N", 3, 12, 15])], [value("output", ["N", 4, 9, 6])], inits, 18, 8,
     normal(2, 3, 12, 15), "Resize: cubic antialiased to sizes of H and W (a = -0.5), linear antialiased by scales, cubic with "
     "exclude_outside, tf_crop_and_resize (cubic, extrapolation 0.25), cubic pytorch_half_pixel")

# 7. 1-D windows (Conv1d, MaxPool1d, AvgPool1d of N x C x L, as in audio and sequence heads) and
#    dilated AveragePool (opset 19) with padding, ceil mode and count_include_pad.
inits = [const("conv1d_w", normal(5, 3, 3, scale=0.4)), const("conv1d_b", normal(5, scale=0.1)),
         const("dw_w", normal(5, 1, 4, scale=0.4)), shape_const("to_2d", [0, 5, 3, -1])]
nodes = [
    helper.make_node("Conv", ["input", "conv1d_w", "conv1d_b"], ["a"], name="conv1d", kernel_shape=[3], pads=[2, 1],
                     strides=[2], dilations=[2]),
    helper.make_node("Relu", ["a"], ["b"], name="relu"),
    helper.make_node("Conv", ["b", "dw_w"], ["c"], name="depthwise1d", group=5, auto_pad="SAME_UPPER", kernel_shape=[4]),
    helper.make_node("MaxPool", ["c"], ["d"], name="maxpool1d", kernel_shape=[3], strides=[1], pads=[1, 1]),
    helper.make_node("AveragePool", ["d"], ["e"], name="avgpool1d", kernel_shape=[2], strides=[1], pads=[0, 1], ceil_mode=1),
    helper.make_node("Reshape", ["e", "to_2d"], ["f"], name="to_2d"),
    helper.make_node("AveragePool", ["f"], ["g"], name="avgpool_dilated_pad", kernel_shape=[2, 2], dilations=[2, 2], pads=[1, 1, 1, 1],
                     count_include_pad=1, ceil_mode=1),
    helper.make_node("AveragePool", ["g"], ["output"], name="avgpool_dilated", kernel_shape=[2, 3], dilations=[1, 2], pads=[0, 1, 1, 1],
                     strides=[1, 2]),
]
save("opset19_window1d_avgpool_dilated", nodes, [value("input", ["N", 3, 37])], [value("output", ["N", 5, "H", "W"])], inits, 19, 8,
     normal(2, 3, 37), "Conv of N x C x L (strided, dilated, padded; depthwise SAME_UPPER), MaxPool and AveragePool 1-D, "
     "dilated AveragePool with pads, ceil mode and count_include_pad")

# --- The onnx package's light Caffe2 Model Zoo classics, with the package's own outputs ----
# Inputs as onnx.backend.test.runner makes them (np.arange(n)/n, float32); the classics that run
# at test speed here (VGG-19 is 20 GFLOPs and 575 MB of weights, left to a check script).
LIGHT = os.path.join(ROOT, "light")
shutil.rmtree(LIGHT, ignore_errors=True)
os.makedirs(LIGHT)
light = os.path.join(os.path.dirname(onnx.__file__), "backend", "test", "data", "light")
for name in ("bvlc_alexnet", "squeezenet", "zfnet512", "resnet50", "inception_v1"):
    model = onnx.load(os.path.join(light, f"light_{name}.onnx"))
    inits = {i.name for i in model.graph.initializer}
    feeds = [i for i in model.graph.input if i.name not in inits]
    assert len(feeds) == 1, name
    shape = tuple(d.dim_value if d.HasField("dim_value") else 1 for d in feeds[0].type.tensor_type.shape.dim)
    n = int(np.prod(shape))
    x = (np.arange(n).reshape(shape) / n).astype(np.float32)
    expected = numpy_helper.to_array(onnx.load_tensor(os.path.join(light, f"light_{name}_output_0.pb")))
    got = ort.InferenceSession(os.path.join(light, f"light_{name}.onnx"), providers=["CPUExecutionProvider"]).run(None, {feeds[0].name: x})[0]
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-6)
    # Every weight is one ConstantOfShape fill, so all classes' logits are equal in exact
    # arithmetic (about 1e10 in SqueezeNet, where a float32 ulp is 1024) and the final softmax
    # only reflects rounding order: the logits, the Softmax's input, are what tests compare.
    softmax = [n for n in model.graph.node if n.op_type == "Softmax"][-1]
    logits_name = softmax.input[0]
    probe = onnx.load(os.path.join(light, f"light_{name}.onnx"))
    probe.graph.output.extend([helper.make_tensor_value_info(logits_name, TensorProto.FLOAT, None)])
    logits = ort.InferenceSession(probe.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, {feeds[0].name: x})[1]
    folder = os.path.join(LIGHT, name)
    os.makedirs(folder)
    np.save(os.path.join(folder, "logits.npy"), logits.astype(np.float32))
    with open(os.path.join(folder, "case.json"), "w") as f:
        json.dump({"logits": logits_name, "notes": "onnx package light model (Caffe2 export); output.npy is the package's, logits.npy onnxruntime's"}, f, indent=1)
    shutil.copy(os.path.join(light, f"light_{name}.onnx"), os.path.join(folder, "model.onnx"))
    np.save(os.path.join(folder, "input.npy"), x)
    np.save(os.path.join(folder, "output.npy"), expected.astype(np.float32))
    print(f"light {name}: {shape} -> {expected.shape}, onnxruntime agrees")

# --- ONNX backend cases of the operators added here -----------------------------------------
BACKEND = os.path.join(ROOT, "onnx-backend")
data = os.path.join(os.path.dirname(onnx.__file__), "backend", "test", "data")
pytorch_cases = {"pytorch-converted": ["test_ELU", "test_PReLU_2d", "test_PReLU_2d_multiparam", "test_SELU", "test_Softplus",
                                       "test_Tanh", "test_ReflectionPad2d", "test_ReplicationPad2d"],
                 "pytorch-operator": []}
for suite, cases in pytorch_cases.items():
    for case in cases:
        dst = os.path.join(BACKEND, suite, case)
        shutil.rmtree(dst, ignore_errors=True)
        shutil.copytree(os.path.join(data, suite, case), dst)
# The node cases are written by scripts/make_onnx_node_fixtures.py (every case whose operator
# types ttl imports), which runs after this script (make fixtures).
print(f"copied {sum(map(len, pytorch_cases.values()))} pytorch backend cases")
