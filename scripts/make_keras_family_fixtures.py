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
  mobilenetv3_small the applications' own MobileNetV3 builder (Rescaling from include_preprocessing,
                   hard-swish, squeeze-and-excite with hard-sigmoid (tf_keras: TFOpLambda add/multiply
                   by constants; Keras 3: Add/Multiply with a constant), the 1×1 convolution head) with
                   three of MobileNetV3Small's blocks, alpha 0.5 and a 64-wide last point, 32×32
  inception_resnet_v2_replica  the applications' own conv2d_bn and inception_resnet_block: a stem,
                   one block35 (scale 0.17) and the final block8 (scale 1, no activation), whose
                   CustomScaleLayer is the scaled residual; the full network is 54 M weights
  convnext_small_dims  the applications' own ConvNeXt builder (Normalization from
                   include_preprocessing, the nested Sequential stem and downsampling blocks,
                   LayerNormalization, pointwise Dense on images, exact GELU, LayerScale, the residual
                   as a TFOpLambda add in tf_keras) with depths 1,1,1,1 and widths 8,16,24,32, 32×32
  nasnet_small     the applications' own NASNet builder (NASNetMobile's cells: Cropping2D,
                   ZeroPadding2D, separable convolutions, average and max pooling) with 96 penultimate
                   filters, one block per stage and an 8-filter stem, 32×32
  densenet_1111    the applications' own DenseNet builder with one conv block per dense block, 32×32
  resnet50_small   the applications' own ResNet builder and ResNet50's stack (bottleneck blocks,
                   conv shortcuts, the stem's ZeroPadding2D and max pool) with stacks of 1 block
                   and 4/8 filters, 32×32
  resnet50v2_small the same for ResNet50V2 (pre-activation blocks, biases, the post batch norm,
                   stacks of 2 blocks: a V2 stack's stride is in its last block), 32×32
  mobilenetv2_replica  MobileNetV2's stem and its own _inverted_res_block (expansion, ZeroPadding2D
                   before strided depthwise convolutions, ReLU6, the residual Add) at alpha 0.5
                   with four blocks and a 64-wide last 1×1 convolution, 32×32; the full network's
                   1280-wide top is fixed whatever alpha
  inception_v3_replica  InceptionV3's own conv2d_bn (batch norm without scale) in its stem, a
                   mixed0-style block (1×1, 5×5, double 3×3 and 3×3 average pool branches), the
                   mixed3 reduction (strided 3×3s and max pool) and a mixed4-style block of 1×7/7×1
                   factorised convolutions, 48×48; the full network is 22 M weights
  efficientnet_b0_small  the applications' own EfficientNet builder (Rescaling and Normalization
                   inside, swish, squeeze-and-excite with Reshape and Multiply, drop-connect
                   Dropout, residual Adds) with B0's first three stages, one block each, width 0.25, 32×32
  efficientnetv2_small  the applications' own EfficientNetV2 builder (its Rescaling preprocessing,
                   fused MBConv and MBConv blocks with squeeze-and-excite) with three one-block
                   stages, width 0.25, 32×32
  extra_layers     not an application: the Keras layers ttl reads beyond the applications' (PReLU
                   shared over height and width and on a vector, ELU, Average, Maximum, Minimum,
                   the tanh, elu, selu, softplus and exponential activations), 16×16

Run with names to (re)generate only those families (the manifest keeps the others).

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
ONLY = set(sys.argv[1:])
if ONLY:
    with open(os.path.join(ROOT, "MANIFEST.json")) as f:
        kept = [e for e in json.load(f)["fixtures"] if e["family"] not in ONLY]
else:
    kept = []
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


def app_module(k, name):
    """The module of a Keras application, for its builder and block functions."""
    import importlib
    return importlib.import_module(("tf_keras.src.applications." if k is tf_keras else "keras.src.applications.") + name)


def mobilenetv3_small(k):
    m = app_module(k, "mobilenet_v3")

    def stack_fn(x, kernel, activation, se_ratio):
        def depth(d):
            return m._depth(d * 0.5)
        x = m._inverted_res_block(x, 1, depth(16), 3, 2, se_ratio, m.relu, 0)
        x = m._inverted_res_block(x, 4, depth(40), kernel, 2, se_ratio, activation, 1)
        x = m._inverted_res_block(x, 6, depth(40), kernel, 1, se_ratio, activation, 2)
        return x

    return m.MobileNetV3(stack_fn, 64, input_shape=(32, 32, 3), alpha=0.5, model_type="small", weights=None,
                         classes=10, classifier_activation=None)


def inception_resnet_v2_replica(k):
    m = app_module(k, "inception_resnet_v2")
    if getattr(m, "layers", None) is None:  # tf_keras sets its module-level `layers` inside InceptionResNetV2()
        m.layers = k.layers
    x = inp = k.Input((32, 32, 3), name="input_1")
    x = m.conv2d_bn(x, 32, 3, strides=2, padding="valid")
    x = m.inception_resnet_block(x, scale=0.17, block_type="block35", block_idx=1)
    x = m.inception_resnet_block(x, scale=1.0, activation=None, block_type="block8", block_idx=10)
    x = m.conv2d_bn(x, 64, 1, name="conv_7b")
    x = k.layers.GlobalAveragePooling2D(name="avg_pool")(x)
    x = k.layers.Dense(10, name="predictions")(x)
    return k.Model(inp, x, name="inception_resnet_v2")


def convnext_small_dims(k):
    m = app_module(k, "convnext")
    name = {"model_name" if k is tf_keras else "name": "convnext_tiny"}  # the keyword differs
    return m.ConvNeXt(depths=[1, 1, 1, 1], projection_dims=[8, 16, 24, 32], input_shape=(32, 32, 3),
                      weights=None, classes=10, classifier_activation=None, **name)


def nasnet_small(k):
    m = app_module(k, "nasnet")
    return m.NASNet(input_shape=(32, 32, 3), penultimate_filters=96, num_blocks=1, stem_block_filters=8, skip_reduction=False,
                    weights=None, classes=10, default_size=32, classifier_activation=None)


def densenet_1111(k):
    m = app_module(k, "densenet")
    return m.DenseNet([1, 1, 1, 1], input_shape=(32, 32, 3), weights=None, classes=10, classifier_activation=None)


def resnet_small(k, v2):
    """ResNet50 / ResNet50V2 built by the applications' own builder with two one-block stacks."""
    m = app_module(k, "resnet")
    if k is tf_keras:
        stack, name = (m.stack2, {"model_name": "resnet50v2"}) if v2 else (m.stack1, {"model_name": "resnet50"})
    else:
        stack = m.stack_residual_blocks_v2 if v2 else m.stack_residual_blocks_v1
        name = {"name": "resnet50v2" if v2 else "resnet50"}

    def stack_fn(x):
        if v2:  # a V2 stack of one block would name two blocks alike: two blocks, the last strided
            x = stack(x, 4, 2, name="conv2")
            return stack(x, 8, 2, stride1=1, name="conv3")
        x = stack(x, 4, 1, stride1=1, name="conv2")
        return stack(x, 8, 1, name="conv3")

    return m.ResNet(stack_fn, v2, True, input_shape=(32, 32, 3), weights=None, classes=10,
                    classifier_activation=None, **name)


def mobilenetv2_replica(k):
    """keras.applications.MobileNetV2's layers (stem, inverted residual blocks, Conv_1) at alpha 0.5."""
    m = app_module(k, "mobilenet_v2")
    if getattr(m, "layers", None) is None:
        m.layers = k.layers
    L = k.layers
    alpha = 0.5
    x = inp = k.Input((32, 32, 3), name="input_1")
    x = L.Conv2D(m._make_divisible(32 * alpha, 8), 3, strides=(2, 2), padding="same", use_bias=False, name="Conv1")(x)
    x = L.BatchNormalization(epsilon=1e-3, momentum=0.999, name="bn_Conv1")(x)
    x = L.ReLU(6.0, name="Conv1_relu")(x)
    x = m._inverted_res_block(x, filters=16, alpha=alpha, stride=1, expansion=1, block_id=0)
    x = m._inverted_res_block(x, filters=24, alpha=alpha, stride=2, expansion=6, block_id=1)
    x = m._inverted_res_block(x, filters=24, alpha=alpha, stride=1, expansion=6, block_id=2)
    x = m._inverted_res_block(x, filters=32, alpha=alpha, stride=2, expansion=6, block_id=3)
    x = L.Conv2D(64, 1, use_bias=False, name="Conv_1")(x)
    x = L.BatchNormalization(epsilon=1e-3, momentum=0.999, name="Conv_1_bn")(x)
    x = L.ReLU(6.0, name="out_relu")(x)
    x = L.GlobalAveragePooling2D()(x)
    x = L.Dense(10, name="predictions")(x)
    return k.Model(inp, x, name="mobilenetv2_0.50_32")


def inception_v3_replica(k):
    """keras.applications.InceptionV3's block types with its own conv2d_bn."""
    m = app_module(k, "inception_v3")
    if getattr(m, "layers", None) is None:
        m.layers = k.layers
    L = k.layers
    x = inp = k.Input((48, 48, 3), name="input_1")
    x = m.conv2d_bn(x, 8, 3, 3, strides=(2, 2), padding="valid")
    x = m.conv2d_bn(x, 8, 3, 3, padding="valid")
    x = m.conv2d_bn(x, 16, 3, 3)
    x = L.MaxPooling2D((3, 3), strides=(2, 2))(x)
    # mixed 0: 1×1, 5×5, double 3×3 and average-pool branches.
    b1 = m.conv2d_bn(x, 8, 1, 1)
    b5 = m.conv2d_bn(m.conv2d_bn(x, 6, 1, 1), 8, 5, 5)
    b3 = m.conv2d_bn(m.conv2d_bn(m.conv2d_bn(x, 8, 1, 1), 12, 3, 3), 12, 3, 3)
    bp = m.conv2d_bn(L.AveragePooling2D((3, 3), strides=(1, 1), padding="same")(x), 4, 1, 1)
    x = L.concatenate([b1, b5, b3, bp], axis=3, name="mixed0")
    # mixed 3: the reduction.
    b3 = m.conv2d_bn(x, 16, 3, 3, strides=(2, 2), padding="valid")
    bd = m.conv2d_bn(m.conv2d_bn(m.conv2d_bn(x, 8, 1, 1), 12, 3, 3), 12, 3, 3, strides=(2, 2), padding="valid")
    bp = L.MaxPooling2D((3, 3), strides=(2, 2))(x)
    x = L.concatenate([b3, bd, bp], axis=3, name="mixed3")
    # mixed 4: factorised 7×7 convolutions.
    b1 = m.conv2d_bn(x, 12, 1, 1)
    b7 = m.conv2d_bn(m.conv2d_bn(m.conv2d_bn(x, 8, 1, 1), 8, 1, 7), 12, 7, 1)
    bd = m.conv2d_bn(x, 8, 1, 1)
    for rows, cols in [(7, 1), (1, 7), (7, 1)]:
        bd = m.conv2d_bn(bd, 8, rows, cols)
    bd = m.conv2d_bn(bd, 12, 1, 7)
    bp = m.conv2d_bn(L.AveragePooling2D((3, 3), strides=(1, 1), padding="same")(x), 12, 1, 1)
    x = L.concatenate([b1, b7, bd, bp], axis=3, name="mixed4")
    x = L.GlobalAveragePooling2D(name="avg_pool")(x)
    x = L.Dense(10, name="predictions")(x)
    return k.Model(inp, x, name="inception_v3")


def efficientnet_b0_small(k):
    m = app_module(k, "efficientnet")
    blocks = [dict(b, repeats=1) for b in m.DEFAULT_BLOCKS_ARGS[:3]]
    name = {"model_name" if k is tf_keras else "name": "efficientnetb0"}
    return m.EfficientNet(0.25, 1.0, 32, blocks_args=blocks, input_shape=(32, 32, 3), weights=None, classes=10,
                          classifier_activation=None, **name)


def efficientnetv2_small(k):
    m = app_module(k, "efficientnet_v2")
    b0 = m.DEFAULT_BLOCKS_ARGS["efficientnetv2-b0"]
    blocks = [dict(b0[0], num_repeat=1), dict(b0[1], num_repeat=1), dict(b0[3], num_repeat=1, input_filters=32)]
    name = {"model_name" if k is tf_keras else "name": "efficientnetv2-b0"}
    return m.EfficientNetV2(0.25, 1.0, 32, blocks_args=blocks, input_shape=(32, 32, 3), weights=None, classes=10,
                            classifier_activation=None, **name)


def extra_layers(k):
    L = k.layers
    x = inp = k.Input((16, 16, 3), name="input_1")
    x = L.Conv2D(8, 3, activation="tanh", name="conv_tanh")(x)
    x = L.PReLU(shared_axes=[1, 2], name="prelu_channels")(x)
    x = L.Conv2D(8, 3, strides=2, activation="elu", name="conv_elu")(x)
    a = L.Conv2D(8, 1, activation="selu", name="conv_selu")(x)
    b = L.Conv2D(8, 1, activation="softplus", name="conv_softplus")(x)
    c = L.Conv2D(8, 1, name="conv_linear")(x)
    x = L.Concatenate(name="merges")([L.Average(name="average")([a, b, c]), L.Maximum(name="maximum")([a, b]),
                                      L.Minimum(name="minimum")([b, c])])
    x = L.ELU(alpha=0.5, name="elu_half")(x)
    x = L.Conv2D(8, 1, activation="exponential", name="conv_exp")(x)
    x = L.GlobalAveragePooling2D(name="avg_pool")(x)
    x = L.Dense(16, name="fc")(x)
    x = L.PReLU(name="prelu_vector")(x)
    x = L.Dense(10, name="predictions")(x)
    return k.Model(inp, x, name="extra_layers")


FAMILIES = [
    ("mobilenet_a025", lambda k: k.applications.MobileNet(input_shape=(32, 32, 3), alpha=0.25, weights=None,
                                                          classes=10, classifier_activation=None)),
    ("vgg_replica", vgg_replica),
    ("xception_replica", xception_replica),
    ("mobilenetv3_small", mobilenetv3_small),
    ("inception_resnet_v2_replica", inception_resnet_v2_replica),
    ("convnext_small_dims", convnext_small_dims),
    ("nasnet_small", nasnet_small),
    ("densenet_1111", densenet_1111),
    ("resnet50_small", lambda k: resnet_small(k, False)),
    ("resnet50v2_small", lambda k: resnet_small(k, True)),
    ("mobilenetv2_replica", mobilenetv2_replica),
    ("inception_v3_replica", inception_v3_replica),
    ("efficientnet_b0_small", efficientnet_b0_small),
    ("efficientnetv2_small", efficientnetv2_small),
    ("extra_layers", extra_layers),
]


def all_layers(model, k):
    for layer in model.layers:
        if isinstance(layer, k.Model):
            yield from all_layers(layer, k)
        else:
            yield layer


def calibrate(model, k, rng):
    for layer in all_layers(model, k):
        if isinstance(layer, k.layers.LayerNormalization) or type(layer).__name__ == "LayerScale":
            # ConvNeXt's layer scales start at 1e-6, which would hide every block: random ones.
            layer.set_weights([rng.uniform(0.5, 1.5, w.shape) if i == 0 else rng.normal(0, 0.3, w.shape)
                               for i, w in enumerate(layer.get_weights())])
        if isinstance(layer, k.layers.PReLU):  # its slopes start at 0, a plain ReLU: random ones
            layer.set_weights([rng.uniform(0.1, 0.4, w.shape) for w in layer.get_weights()])
        if isinstance(layer, k.layers.BatchNormalization):
            w = layer.get_weights()
            c = w[-1].shape[0]
            fresh = ([rng.uniform(0.5, 1.5, c)] if layer.scale else []) + ([rng.normal(0, 0.3, c)] if layer.center else [])
            layer.set_weights(fresh + w[-2:])
            layer.momentum = 0.0
    size = model.input_shape[1]
    model(sample(model, k, rng, 8), training=True)


def sample(model, k, rng, n):
    """Images for `model`: pixels (0–255) when it preprocesses them itself (Rescaling or Normalization
    first, as MobileNetV3 and ConvNeXt do), else standard normal values."""
    size = model.input_shape[1]
    if any(isinstance(layer, (k.layers.Rescaling, k.layers.Normalization)) for layer in model.layers[:3]):
        return rng.uniform(0, 255, (n, size, size, 3)).astype(np.float32)
    return rng.normal(0, 1, (n, size, size, 3)).astype(np.float32)


fixtures = kept
for name, build in FAMILIES:
    if ONLY and name not in ONLY:
        continue
    for tag, k in [("tfkeras", tf_keras), ("keras3", keras)]:
        rng = np.random.default_rng(13)
        k.utils.set_random_seed(13)
        model = build(k)
        calibrate(model, k, rng)
        x = sample(model, k, rng, 2)
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
