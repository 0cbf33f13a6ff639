#!/usr/bin/env python3
"""Writes Tests/TTLHDF5Tests/Fixtures/families/: small seeded members of Keras-application families
(issue 13), each saved by tf_keras as a full .h5 and by Keras 3 as a full .h5 and a .keras, with an
input and the saving framework's own output (logits: classifier_activation=None), plus MANIFEST.json.

  mobilenet_a025   the real keras.applications.MobileNet, alpha=0.25, 32×32 input, 10 classes
  vgg_replica      VGG16's layer types and names (block1_conv1 … fc1, fc2, predictions) with two
                   blocks of 8/16 filters and 32-wide fc layers at 32×32: the full VGG16 is 15 M
                   weights without its top, far too big to commit
  xception_replica Xception's entry-flow block types (Conv2D, SeparableConv2D without bias, batch
                   norms, ReLU, MaxPooling2D "same" stride 2, the strided 1×1 Conv2D shortcut, Add)
                   at 16/32 filters on 40×40, plus SeparableConv2D with depth_multiplier 2, bias and
                   a relu activation; the full Xception is 21 M weights

Weights are random; each batch norm gets a random scale and shift and moving statistics from a
calibration batch (as scripts/check_full_size_keras.py does), so the outputs depend on every layer.

Pinned as scripts/make_keras_fixtures.py: tensorflow-cpu==2.21.0, tf_keras==2.21.0 (--no-deps),
keras==3.15.1, h5py==3.14.0, numpy==2.4.6.   Usage: python3 scripts/make_keras_family_fixtures.py
"""
import json
import os
import shutil
import sys

os.environ["KERAS_BACKEND"] = "tensorflow"
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.pop("TF_USE_LEGACY_KERAS", None)

import h5py  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

tf.config.threading.set_intra_op_parallelism_threads(2)
tf.config.threading.set_inter_op_parallelism_threads(1)
import keras  # noqa: E402
import tf_keras  # noqa: E402

PINNED = {"tensorflow-cpu": "2.21.0", "tf_keras": "2.21.0", "keras": "3.15.1", "h5py": "3.14.0", "numpy": "2.4.6"}
FOUND = {"tensorflow-cpu": tf.__version__, "tf_keras": tf_keras.__version__, "keras": keras.__version__,
         "h5py": h5py.__version__, "numpy": np.__version__}
for _pkg, _want in PINNED.items():
    if FOUND[_pkg] != _want:
        print(f"warning: {_pkg} is {FOUND[_pkg]}, the fixtures were made with {_want}", file=sys.stderr)

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Tests", "TTLHDF5Tests",
                                     "Fixtures", "families"))
shutil.rmtree(ROOT, ignore_errors=True)
os.makedirs(ROOT)


def vgg_replica(k):
    """VGG16's structure (keras.applications.vgg16) at a size that can be committed."""
    x = inp = k.Input((32, 32, 3), name="input_1")
    for b, (convs, filters) in enumerate([(2, 8), (2, 16)], start=1):
        for c in range(1, convs + 1):
            x = k.layers.Conv2D(filters, 3, activation="relu", padding="same", name=f"block{b}_conv{c}")(x)
        x = k.layers.MaxPooling2D(2, strides=2, name=f"block{b}_pool")(x)
    x = k.layers.Flatten(name="flatten")(x)
    x = k.layers.Dense(32, activation="relu", name="fc1")(x)
    x = k.layers.Dense(32, activation="relu", name="fc2")(x)
    x = k.layers.Dense(10, name="predictions")(x)
    return k.Model(inp, x, name="vgg16")


def xception_replica(k):
    """keras.applications.xception's entry flow, two blocks wide 16 and 32."""
    L = k.layers
    x = inp = k.Input((40, 40, 3), name="input_1")
    x = L.Conv2D(8, 3, strides=2, use_bias=False, name="block1_conv1")(x)
    x = L.BatchNormalization(name="block1_conv1_bn")(x)
    x = L.Activation("relu", name="block1_conv1_act")(x)
    for b, filters in [(2, 16), (3, 32)]:
        residual = L.Conv2D(filters, 1, strides=2, padding="same", use_bias=False)(x)
        residual = L.BatchNormalization()(residual)
        if b > 2:
            x = L.Activation("relu", name=f"block{b}_sepconv1_act")(x)
        x = L.SeparableConv2D(filters, 3, padding="same", use_bias=False, name=f"block{b}_sepconv1")(x)
        x = L.BatchNormalization(name=f"block{b}_sepconv1_bn")(x)
        x = L.Activation("relu", name=f"block{b}_sepconv2_act")(x)
        x = L.SeparableConv2D(filters, 3, padding="same", use_bias=False, name=f"block{b}_sepconv2")(x)
        x = L.BatchNormalization(name=f"block{b}_sepconv2_bn")(x)
        x = L.MaxPooling2D(3, strides=2, padding="same", name=f"block{b}_pool")(x)
        x = L.add([x, residual])
    x = L.SeparableConv2D(24, 3, depth_multiplier=2, activation="relu", name="sepconv_multiplier")(x)
    x = L.GlobalAveragePooling2D(name="avg_pool")(x)
    x = L.Dense(10, name="predictions")(x)
    return k.Model(inp, x, name="xception")


FAMILIES = [
    ("mobilenet_a025", lambda k: k.applications.MobileNet(input_shape=(32, 32, 3), alpha=0.25, weights=None,
                                                          classes=10, classifier_activation=None)),
    ("vgg_replica", vgg_replica),
    ("xception_replica", xception_replica),
]


def calibrate(model, k, rng):
    for layer in model.layers:
        if isinstance(layer, k.layers.BatchNormalization):
            w = layer.get_weights()
            c = w[-1].shape[0]
            fresh = ([rng.uniform(0.5, 1.5, c)] if layer.scale else []) + ([rng.normal(0, 0.3, c)] if layer.center else [])
            layer.set_weights(fresh + w[-2:])
            layer.momentum = 0.0
    size = model.input_shape[1]
    model(rng.normal(0, 1, (8, size, size, 3)).astype(np.float32), training=True)


fixtures = []
for name, build in FAMILIES:
    for tag, k in [("tfkeras", tf_keras), ("keras3", keras)]:
        rng = np.random.default_rng(13)
        k.utils.set_random_seed(13)
        model = build(k)
        calibrate(model, k, rng)
        size = model.input_shape[1]
        x = rng.normal(0, 1, (2, size, size, 3)).astype(np.float32)
        y = np.asarray(model.predict(x, verbose=0))
        base = f"{name}_{tag}"
        np.save(os.path.join(ROOT, base + ".input.npy"), x)
        np.save(os.path.join(ROOT, base + ".output.npy"), y)
        files = [(base + ".h5", f"full-h5-{tag}")]
        if k is tf_keras:
            model.save(os.path.join(ROOT, base + ".h5"), save_format="h5")
        else:
            model.save(os.path.join(ROOT, base + ".h5"))
            model.save(os.path.join(ROOT, base + ".keras"))
            files.append((base + ".keras", "keras-zip"))
        for f, layout in files:
            fixtures.append({"file": f, "layout": layout, "family": name, "input": base + ".input.npy",
                             "output": base + ".output.npy"})
        print(f"{base}: {model.count_params()} weights, logits up to {float(np.abs(y).max()):.3g}")

with open(os.path.join(ROOT, "MANIFEST.json"), "w") as f:
    json.dump({"versions": FOUND, "fixtures": fixtures}, f, indent=1)
