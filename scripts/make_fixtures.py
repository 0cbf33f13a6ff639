#!/usr/bin/env python3
"""Writes the kernel fixtures: small seeded inputs, PyTorch's outputs and gradients.

Pinned: python 3.11, torch==2.13.0 (CPU build), numpy==2.4.6.
    pip install torch==2.13.0 numpy==2.4.6
    python3 scripts/make_fixtures.py

Each case is a folder Tests/TTLCoreTests/Fixtures/kernels/<name>/ holding case.json
(the op and its parameters) and .npy files: the inputs (x, w, b, a, ...), the upstream
gradient dy, the output y and the gradients d<input>. Inputs are drawn in float32;
PyTorch then computes in float64 from exactly those float32 values, and outputs are stored
as float32, so the tolerance in the Swift tests measures ttl's error, not PyTorch's rounding.
"""
import json
import math
import os
import shutil
import sys

import numpy as np
import torch
import torch.nn.functional as F

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Tests", "TTLCoreTests", "Fixtures", "kernels")
assert torch.__version__.startswith("2.13.0"), torch.__version__
assert np.__version__ == "2.4.6", np.__version__

gen = torch.Generator().manual_seed(20261126)
shutil.rmtree(ROOT, ignore_errors=True)
os.makedirs(ROOT)


def randn(*shape, scale=1.0):
    return (torch.randn(*shape, generator=gen, dtype=torch.float32) * scale).double().requires_grad_(True)


def rand(*shape, lo=0.0, hi=1.0):
    return (torch.rand(*shape, generator=gen, dtype=torch.float32) * (hi - lo) + lo).double().requires_grad_(True)


def save(folder, name, t):
    a = t.detach().to(torch.float32).numpy() if isinstance(t, torch.Tensor) else np.asarray(t)
    a = np.array(a, order="C")  # C order; keeps 0-d arrays 0-d
    np.save(os.path.join(folder, name + ".npy"), a)


def case(name, op, params, inputs, forward, extra_outputs=None):
    """inputs: dict name -> tensor (float64, requires_grad where a gradient is wanted)."""
    folder = os.path.join(ROOT, name)
    os.makedirs(folder)
    y = forward(**inputs)
    if y.dim() == 0:
        dy = torch.ones((), dtype=torch.float64)
    else:
        dy = torch.randn(*y.shape, generator=gen, dtype=torch.float32).double()
    diff = {k: v for k, v in inputs.items() if isinstance(v, torch.Tensor) and v.requires_grad}
    grads = torch.autograd.grad(y, list(diff.values()), dy, allow_unused=True)
    for k, v in inputs.items():
        save(folder, k, v)
    save(folder, "y", y)
    save(folder, "dy", dy)
    for k, g in zip(diff.keys(), grads):
        save(folder, "d" + k, g if g is not None else torch.zeros_like(diff[k]))
    for k, v in (extra_outputs or {}).items():
        save(folder, k, v)
    with open(os.path.join(folder, "case.json"), "w") as f:
        json.dump({"op": op, "params": params}, f, indent=1, sort_keys=True)


# --- conv2d -----------------------------------------------------------------------------

def conv_case(name, n, cin, h, w, cout, k, stride=(1, 1), dilation=(1, 1), pads=(0, 0, 0, 0), groups=1, bias=True):
    kh, kw = (k, k) if isinstance(k, int) else k
    pt, pl, pb, pr = pads
    inputs = {"x": randn(n, cin, h, w), "w": randn(cout, cin // groups, kh, kw, scale=0.5)}
    if bias:
        inputs["b"] = randn(cout)

    def fwd(x, w, b=None):
        # F.pad takes (left, right, top, bottom); asymmetric pads are how TF 'SAME' reaches PyTorch.
        xp = F.pad(x, (pl, pr, pt, pb)) if any(pads) else x
        return F.conv2d(xp, w, b, stride=stride, dilation=dilation, groups=groups)

    case(name, "conv2d", {"stride": list(stride), "dilation": list(dilation), "pads": list(pads),
                          "groups": groups, "bias": bias}, inputs, fwd)


def tf_same(size, k, s, d=1):
    out = (size + s - 1) // s
    total = max((out - 1) * s + (k - 1) * d + 1 - size, 0)
    return total // 2, total - total // 2


conv_case("conv2d_3x3_pad1", 2, 3, 7, 6, 4, 3, pads=(1, 1, 1, 1))
conv_case("conv2d_stride2_nobias", 2, 4, 9, 9, 5, 3, stride=(2, 2), pads=(1, 1, 1, 1), bias=False)
conv_case("conv2d_dilation2", 1, 3, 10, 9, 2, 3, dilation=(2, 2), pads=(2, 2, 2, 2))
conv_case("conv2d_groups2", 2, 4, 6, 6, 6, 3, pads=(1, 1, 1, 1), groups=2)
conv_case("conv2d_resnext_groups4", 2, 8, 5, 5, 8, 3, stride=(2, 2), pads=(1, 1, 1, 1), groups=4, bias=False)
conv_case("conv2d_depthwise_stride2", 2, 4, 9, 8, 4, 3, stride=(2, 2), pads=(1, 1, 1, 1), groups=4)
conv_case("conv2d_depthwise_multiplier2", 2, 3, 6, 7, 6, 3, pads=(1, 1, 1, 1), groups=3, bias=False)
t, b = tf_same(8, 3, 2); l, r = tf_same(10, 3, 2)
conv_case("conv2d_tf_same_stride2", 2, 3, 8, 10, 4, 3, stride=(2, 2), pads=(t, l, b, r))
t, b = tf_same(8, 5, 2); l, r = tf_same(9, 5, 2)
conv_case("conv2d_depthwise_5x5_tf_same", 1, 4, 8, 9, 4, 5, stride=(2, 2), pads=(t, l, b, r), groups=4)
conv_case("conv2d_pointwise", 3, 6, 4, 5, 5, 1)
conv_case("conv2d_pointwise_stride2", 2, 6, 7, 7, 4, 1, stride=(2, 2), bias=False)
conv_case("conv2d_stem_7x7_stride2", 1, 3, 16, 16, 4, 7, stride=(2, 2), pads=(3, 3, 3, 3), bias=False)
conv_case("conv2d_rect_kernel_stride", 2, 2, 9, 11, 3, (3, 2), stride=(2, 3), pads=(1, 0, 2, 1))

# --- batch norm -------------------------------------------------------------------------

def bn_case(name, shape, eps, training, momentum=0.1):
    c = shape[1]
    inputs = {"x": randn(*shape, scale=2.0), "scale": rand(c, lo=0.5, hi=1.5), "bias": randn(c)}
    mean = torch.randn(c, generator=gen, dtype=torch.float32).double()
    var = (torch.rand(c, generator=gen, dtype=torch.float32) * 2 + 0.1).double()
    inputs["mean"], inputs["variance"] = mean, var
    rm, rv = mean.clone(), var.clone()

    def fwd(x, scale, bias, mean, variance):
        return F.batch_norm(x, rm, rv, scale, bias, training=training, momentum=momentum, eps=eps)

    case(name, "batchnorm", {"epsilon": eps, "training": training, "momentum": momentum}, inputs, fwd,
         extra_outputs={"mean_out": rm, "variance_out": rv} if training else None)


bn_case("batchnorm_inference", (2, 3, 4, 5), 1e-5, False)
bn_case("batchnorm_inference_eps1e-3_2d", (5, 4), 1e-3, False)
bn_case("batchnorm_training", (3, 4, 3, 3), 1e-5, True, 0.1)
bn_case("batchnorm_training_momentum0.3", (2, 3, 5, 4), 1e-3, True, 0.3)

# --- activations ------------------------------------------------------------------------

def act_case(name, op, params, fn, shape=(2, 3, 4, 5), scale=4.0):
    case(name, op, params, {"x": randn(*shape, scale=scale)}, fn)


act_case("relu", "relu", {}, lambda x: F.relu(x))
act_case("relu6", "clip", {"min": 0.0, "max": 6.0}, lambda x: F.relu6(x))
act_case("clip_asymmetric", "clip", {"min": -0.5, "max": 0.7}, lambda x: torch.clamp(x, -0.5, 0.7), scale=1.0)
act_case("leaky_relu_0.01", "leaky_relu", {"slope": 0.01}, lambda x: F.leaky_relu(x, 0.01))
act_case("leaky_relu_0.2", "leaky_relu", {"slope": 0.2}, lambda x: F.leaky_relu(x, 0.2))
act_case("sigmoid", "sigmoid", {}, lambda x: torch.sigmoid(x), scale=6.0)
act_case("hard_sigmoid_torch", "hard_sigmoid", {"alpha": 1 / 6, "beta": 0.5}, lambda x: F.hardsigmoid(x))
act_case("hard_sigmoid_onnx", "hard_sigmoid", {"alpha": 0.2, "beta": 0.5},
         lambda x: torch.clamp(0.2 * x + 0.5, 0.0, 1.0))
act_case("hard_swish", "hard_swish", {}, lambda x: F.hardswish(x))

# --- pooling ----------------------------------------------------------------------------

def pool_case(name, op, shape, k, s, pads=(0, 0, 0, 0), ceil=False, include_pad=True, dilation=(1, 1)):
    t, l, b, r = pads
    symmetric = t == b and l == r
    params = {"kernel": list(k), "stride": list(s), "pads": list(pads), "ceil_mode": ceil, "dilation": list(dilation)}
    if op == "avgpool":
        params["count_include_pad"] = include_pad

    def fwd(x):
        if op == "maxpool":
            if symmetric:
                return F.max_pool2d(x, k, s, (t, l), dilation=dilation, ceil_mode=ceil)
            return F.max_pool2d(F.pad(x, (l, r, t, b), value=-math.inf), k, s, 0, dilation=dilation, ceil_mode=ceil)
        if symmetric:
            return F.avg_pool2d(x, k, s, (t, l), ceil_mode=ceil, count_include_pad=include_pad)
        assert include_pad  # zero padding counted: the ONNX count_include_pad=1 case
        return F.avg_pool2d(F.pad(x, (l, r, t, b)), k, s, 0, ceil_mode=ceil)

    case(name, op, params, {"x": randn(*shape)}, fwd)


pool_case("maxpool_3x3_s2_p1", "maxpool", (2, 3, 9, 8), (3, 3), (2, 2), (1, 1, 1, 1))
pool_case("maxpool_2x2_s2", "maxpool", (1, 2, 6, 6), (2, 2), (2, 2))
pool_case("maxpool_ceil", "maxpool", (2, 2, 7, 8), (3, 3), (2, 2), ceil=True)
pool_case("maxpool_dilation2", "maxpool", (1, 2, 9, 9), (3, 3), (1, 1), (1, 1, 1, 1), dilation=(2, 2))
pool_case("maxpool_asymmetric_pads", "maxpool", (1, 3, 8, 9), (3, 3), (2, 2), (0, 0, 1, 1))
pool_case("avgpool_3x3_s2_p1_include_pad", "avgpool", (2, 3, 9, 8), (3, 3), (2, 2), (1, 1, 1, 1))
pool_case("avgpool_3x3_s2_p1_exclude_pad", "avgpool", (2, 3, 9, 8), (3, 3), (2, 2), (1, 1, 1, 1), include_pad=False)
pool_case("avgpool_ceil_include_pad", "avgpool", (1, 2, 8, 7), (3, 3), (2, 2), (1, 1, 1, 1), ceil=True)
pool_case("avgpool_ceil_exclude_pad", "avgpool", (1, 2, 8, 7), (3, 3), (2, 2), (1, 1, 1, 1), ceil=True, include_pad=False)
pool_case("avgpool_2x2_s2", "avgpool", (2, 2, 6, 6), (2, 2), (2, 2))
pool_case("avgpool_asymmetric_pads", "avgpool", (1, 2, 7, 6), (3, 2), (2, 2), (1, 0, 0, 1))
case("global_avgpool", "global_avgpool", {}, {"x": randn(2, 5, 4, 3)}, lambda x: x.mean(dim=(2, 3), keepdim=True))

# --- constant padding -------------------------------------------------------------------

case("pad2d_zero_asymmetric", "pad2d", {"pads": [1, 0, 2, 3], "value": 0.0}, {"x": randn(2, 3, 4, 5)},
     lambda x: F.pad(x, (0, 3, 1, 2)))
case("pad2d_value", "pad2d", {"pads": [2, 2, 2, 2], "value": -1.5}, {"x": randn(1, 2, 3, 3)},
     lambda x: F.pad(x, (2, 2, 2, 2), value=-1.5))

# --- elementwise binary with broadcasting ------------------------------------------------

def binary_case(name, op, sa, sb, positive_b=False):
    b = rand(*sb, lo=0.5, hi=2.0) if positive_b else randn(*sb)
    fn = {"add": torch.add, "sub": torch.sub, "mul": torch.mul, "div": torch.div}[op]
    case(name, "binary", {"op": op}, {"a": randn(*sa), "b": b}, lambda a, b: fn(a, b))


binary_case("add_same_shape", "add", (2, 3, 4, 4), (2, 3, 4, 4))
binary_case("add_channel_bias", "add", (2, 3, 4, 5), (1, 3, 1, 1))
binary_case("sub_channel_rank3", "sub", (2, 3, 4, 5), (3, 1, 1))
binary_case("mul_squeeze_excite", "mul", (2, 3, 4, 4), (2, 3, 1, 1))
binary_case("div_channel", "div", (2, 3, 4, 4), (1, 3, 1, 1), positive_b=True)
binary_case("mul_scalar", "mul", (2, 3, 4), (1,))
binary_case("add_row_vector", "add", (4, 6), (6,))
binary_case("sub_both_broadcast", "sub", (3, 1, 5), (1, 4, 1))
binary_case("div_same_shape", "div", (3, 7), (3, 7), positive_b=True)

# --- gemm -------------------------------------------------------------------------------

def gemm_case(name, m, k, n, trans_a=False, trans_b=False, alpha=1.0, beta=1.0, c_shape=None):
    a = randn(k, m) if trans_a else randn(m, k)
    b = randn(n, k) if trans_b else randn(k, n)
    inputs = {"a": a, "b": b}
    if c_shape is not None:
        inputs["c"] = randn(*c_shape)

    def fwd(a, b, c=None):
        y = alpha * ((a.t() if trans_a else a) @ (b.t() if trans_b else b))
        return y + beta * c if c is not None else y

    case(name, "gemm", {"trans_a": trans_a, "trans_b": trans_b, "alpha": alpha, "beta": beta}, inputs, fwd)


gemm_case("gemm_plain", 4, 5, 3)
gemm_case("gemm_linear", 5, 8, 3, trans_b=True, c_shape=(3,))
gemm_case("gemm_trans_a", 3, 6, 4, trans_a=True, c_shape=(3, 4))
gemm_case("gemm_both_alpha_beta", 4, 3, 5, trans_a=True, trans_b=True, alpha=0.5, beta=2.0, c_shape=(4, 1))

# --- layout -----------------------------------------------------------------------------

for perm, shape in (([0, 2, 3, 1], (2, 3, 4, 5)), ([1, 0], (3, 7)), ([2, 0, 1], (2, 3, 4))):
    case("transpose_" + "".join(map(str, perm)), "transpose", {"perm": perm}, {"x": randn(*shape)},
         lambda x, perm=perm: x.permute(*perm))
case("flatten_axis1", "flatten", {"axis": 1}, {"x": randn(2, 3, 2, 2)}, lambda x: torch.flatten(x, 1))
case("flatten_axis2", "flatten", {"axis": 2}, {"x": randn(2, 3, 2, 2)}, lambda x: x.reshape(6, 4))
case("reshape", "reshape", {"shape": [4, 6]}, {"x": randn(2, 3, 4)}, lambda x: x.reshape(4, 6))

# --- softmax and cross-entropy -----------------------------------------------------------

case("softmax_last", "softmax", {"axis": -1}, {"x": randn(4, 10, scale=3.0)}, lambda x: torch.softmax(x, -1))
case("softmax_axis1", "softmax", {"axis": 1}, {"x": randn(2, 5, 3, scale=3.0)}, lambda x: torch.softmax(x, 1))


def ce_case(name, n, c, smoothing):
    labels = torch.randint(0, c, (n,), generator=gen)

    def fwd(logits):
        return F.cross_entropy(logits, labels, label_smoothing=smoothing)

    case(name, "cross_entropy", {"label_smoothing": smoothing}, {"logits": randn(n, c, scale=2.0)}, fwd,
         extra_outputs={"labels": labels.numpy().astype(np.int64)})


ce_case("cross_entropy", 6, 5, 0.0)
ce_case("cross_entropy_label_smoothing", 8, 4, 0.1)


# --- binary cross-entropy on logits (multi-label) ------------------------------------------

def bce_case(name, n, c, scale):
    # Targets: hard 0/1 labels and a few soft ones; logits large enough (scale) to test the
    # stable form far from 0. Appended last, so the generator's earlier draws are unchanged.
    hard = torch.bernoulli(torch.full((n, c), 0.4), generator=gen)
    soft = torch.rand(n, c, generator=gen, dtype=torch.float32)
    mask = torch.rand(n, c, generator=gen) < 0.25
    targets = torch.where(mask, soft, hard.float()).double()

    def fwd(logits, targets):
        return F.binary_cross_entropy_with_logits(logits, targets, reduction="mean")

    case(name, "bce_with_logits", {}, {"logits": randn(n, c, scale=scale), "targets": targets}, fwd)


bce_case("bce_with_logits", 6, 5, 2.0)
bce_case("bce_with_logits_large", 4, 7, 12.0)

if __name__ == "__main__":
    print("wrote", len(os.listdir(ROOT)), "cases to", os.path.normpath(ROOT), file=sys.stderr)
