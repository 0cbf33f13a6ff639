#!/usr/bin/env python3
"""Writes the Keras HDF5 importer fixtures: small seeded Keras models saved in every file layout
ttl reads (legacy full-model .h5 from tf_keras and from Keras 3, Keras 3 .keras zip, legacy
weights-only .h5, Keras 3 .weights.h5), each with an input and the saving framework's own output,
plus a few deliberately broken files, MANIFEST.json and layouts.txt (an h5py dump of each layout).

Pinned: python 3.11, tensorflow-cpu==2.21.0, tf_keras==2.21.0, keras==3.15.1, h5py==3.14.0,
numpy==2.4.6.
    pip install tensorflow-cpu==2.21.0          # pulls h5py<3.15 (3.14.0), keras>=3.12 stays 3.15.1
    pip install --no-deps tf_keras==2.21.0      # its "tensorflow" requirement is met by tensorflow-cpu;
                                                # without --no-deps pip adds the 570 MB GPU wheel
    python3 scripts/make_keras_fixtures.py

At its end it runs scripts/make_keras34_fixtures.py (Keras 3.4.1, installed by that script in
isolation into $KERAS34_DIR, default /tmp/keras34, on the torch backend) for the *_keras34 files:
.weights.h5 and .keras written before Keras 3.6, whose vars groups have no "name" attribute.

tf_keras is Keras 2 (`import tf_keras`); `keras` is Keras 3 on the TensorFlow backend.
Everything goes to Tests/TTLHDF5Tests/Fixtures/ (the folder is rewritten).
Check any Keras file against an input/expected pair with scripts/check_keras_export.py.
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import warnings
import zipfile

os.environ["KERAS_BACKEND"] = "tensorflow"
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.pop("TF_USE_LEGACY_KERAS", None)  # keep `keras` = Keras 3, `tf_keras` = Keras 2
warnings.filterwarnings("ignore", message=".*HDF5 file.*legacy.*")

import h5py  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

tf.get_logger().setLevel("ERROR")  # retracing and "compiled metrics" chatter

tf.config.threading.set_intra_op_parallelism_threads(2)  # shared 2-core machine
tf.config.threading.set_inter_op_parallelism_threads(1)

import keras  # noqa: E402
import tf_keras  # noqa: E402
from keras.src.applications import resnet as k3_resnet  # noqa: E402
from tf_keras.src.applications import resnet as tfk_resnet  # noqa: E402

PINNED = {"tensorflow-cpu": "2.21.0", "tf_keras": "2.21.0", "keras": "3.15.1", "h5py": "3.14.0", "numpy": "2.4.6"}
FOUND = {"tensorflow-cpu": tf.__version__, "tf_keras": tf_keras.__version__, "keras": keras.__version__,
         "h5py": h5py.__version__, "numpy": np.__version__}
for _pkg, _want in PINNED.items():
    if FOUND[_pkg] != _want:
        print(f"warning: {_pkg} is {FOUND[_pkg]}, the fixtures were made with {_want}", file=sys.stderr)
assert keras.backend.backend() == "tensorflow", keras.backend.backend()

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Tests", "TTLHDF5Tests",
                                     "Fixtures"))
# families/ is scripts/make_keras_family_fixtures.py's
for _entry in os.listdir(ROOT) if os.path.isdir(ROOT) else []:
    if _entry != "families":
        _path = os.path.join(ROOT, _entry)
        shutil.rmtree(_path) if os.path.isdir(_path) else os.remove(_path)
os.makedirs(ROOT, exist_ok=True)

MANIFEST = {
    "generator": "scripts/make_keras_fixtures.py",
    "versions": FOUND,
    "notes": [
        "Inputs are float32 NHWC, batch 2. Outputs are the saving framework's model.predict on that input.",
        "Every BatchNormalization has random gamma U(0.5,1.5), beta N(0,0.3), moving_mean N(0,0.5), "
        "moving_variance U(0.5,2.0); every Conv2D/DepthwiseConv2D/Dense kernel is He-normal (a softmax "
        "classifier's a quarter of that) and bias N(0,0.1) (not zero).",
        "Inputs are seeded random images with per-image structure (channel offsets, gradients, stripes, "
        "noise): about N(0,1), or 0..255 for the models that start with Rescaling.",
        "The 'layers' models use auto-generated layer names conv2d, conv2d_1 ... conv2d_11, so HDF5's "
        "alphabetical group order (conv2d_10 before conv2d_2) differs from the model's layer order.",
    ],
    "fixtures": [],
    "bad_fixtures": [],
}


def path(name):
    return os.path.join(ROOT, name)


# ---------------------------------------------------------------------------------------------
# Helpers shared by both frameworks (tf_keras and Keras 3 have the same layer API for these).

def short_name(variable):
    """'batch_normalization/gamma:0' (tf_keras) or 'gamma' (Keras 3) -> 'gamma'."""
    return variable.name.split("/")[-1].split(":")[0]


def randomise(model, rng):
    """Random BN statistics/affine and non-zero biases, set through set_weights."""
    for layer in model.layers:
        kind = type(layer).__name__
        if kind == "BatchNormalization":
            values = []
            for w in layer.weights:
                shape = tuple(w.shape)
                n = short_name(w)
                if n == "gamma":
                    v = rng.uniform(0.5, 1.5, shape)
                elif n == "beta":
                    v = rng.normal(0.0, 0.3, shape)
                elif n == "moving_mean":
                    v = rng.normal(0.0, 0.5, shape)
                elif n == "moving_variance":
                    v = rng.uniform(0.5, 2.0, shape)
                else:
                    raise ValueError(f"unexpected BN variable {w.name}")
                values.append(v.astype(np.float32))
            layer.set_weights(values)
        elif kind in ("Conv2D", "DepthwiseConv2D", "Dense"):
            # He-normal kernels keep the activations near unit scale through the random BNs and
            # ReLUs (Glorot-uniform let them fade until the output no longer depended on the input).
            values = layer.get_weights()
            shape = values[0].shape
            fan_in = shape[0] * shape[1] if kind == "DepthwiseConv2D" else int(np.prod(shape[:-1]))
            std = np.sqrt(2.0 / fan_in)
            if getattr(getattr(layer, "activation", None), "__name__", "") == "softmax":
                std /= 4.0  # softer probabilities: errors in every class stay visible
            values[0] = rng.normal(0.0, std, shape).astype(np.float32)
            if len(values) > 1:
                values[1] = rng.normal(0.0, 0.1, values[1].shape).astype(np.float32)
            layer.set_weights(values)


def image_batch(seed, shape, pixels=False):
    """Seeded random images with per-image structure (channel offsets, gradients, a stripe pattern,
    noise), so the two images still differ after global pooling. About N(0, 1) per value, or mapped
    to 0..255 (pixels=True) for the models that start with Rescaling."""
    rng = np.random.default_rng(seed)
    n, h, w, c = shape
    yy, xx = np.meshgrid(np.linspace(-1, 1, h), np.linspace(-1, 1, w), indexing="ij")
    out = np.empty(shape, np.float64)
    for i in range(n):
        for ch in range(c):
            a, b, d = rng.uniform(-1, 1, 3)
            freq, phase = rng.uniform(1, 6), rng.uniform(0, 2 * np.pi)
            angle = rng.uniform(0, np.pi)
            stripes = np.sin(freq * (np.cos(angle) * xx + np.sin(angle) * yy) * np.pi + phase)
            out[i, :, :, ch] = a + b * yy + d * xx + 0.5 * stripes + 0.3 * rng.normal(size=(h, w))
    if pixels:
        out = np.clip(127.5 + 70.0 * out, 0.0, 255.0)
    return out.astype(np.float32)


def predict(model, x):
    return np.asarray(model.predict(x, verbose=0), dtype=np.float32)


def assert_same(a, b, what, atol=1e-6):
    assert a.shape == b.shape, (what, a.shape, b.shape)
    diff = float(np.max(np.abs(a - b)))
    assert diff <= atol, f"{what}: max abs diff {diff}"
    return diff


def write_io(stem, x, y):
    np.save(path(f"{stem}.input.npy"), x.astype(np.float32))
    np.save(path(f"{stem}.output.npy"), y.astype(np.float32))
    return f"{stem}.input.npy", f"{stem}.output.npy"


def add_fixture(file, layout, framework, stem, x, y, **extra):
    framework_version = tf_keras.__version__ if framework == "tf_keras" else keras.__version__
    entry = {"file": file, "layout": layout, "framework": framework, "framework_version": framework_version,
             "input": f"{stem}.input.npy", "output": f"{stem}.output.npy",
             "input_shape": list(x.shape), "output_shape": list(y.shape)}
    if file.endswith(".h5") and "string_attributes" not in extra:
        with h5py.File(path(file), "r") as f:
            kinds = set()
            for obj in (f, f.get("model_weights")):
                for key in (obj.attrs if obj is not None else []):
                    info = h5py.check_string_dtype(obj.attrs.get_id(key).dtype)
                    if info is not None:
                        kinds.add("variable-length" if info.length is None else "fixed-length")
            entry["string_attributes"] = "/".join(sorted(kinds)) if kinds else "none at the root"
    entry.update(extra)
    MANIFEST["fixtures"].append(entry)
    print(f"{file}: {layout}, {framework} {framework_version}, {os.path.getsize(path(file))} bytes")


# ---------------------------------------------------------------------------------------------
# 1-3. The "layers" model: every layer type the importer supports, at least 11 Conv2D.

NORM_MEAN = [0.1, -0.2, 0.05]
NORM_VARIANCE = [0.5, 1.5, 0.8]


def build_layers_model(K, normalization_adapt_data=None):
    """K is tf_keras or keras. Layer construction order = auto-name order = model order."""
    L = K.layers
    inp = K.Input(shape=(20, 20, 3))
    x = L.Rescaling(scale=1 / 127.5, offset=-1.0)(inp)
    if normalization_adapt_data is None:
        x = L.Normalization(axis=-1, mean=NORM_MEAN, variance=NORM_VARIANCE)(x)
    else:
        norm = L.Normalization(axis=-1)
        norm.adapt(normalization_adapt_data)
        x = norm(x)
    x = L.Conv2D(6, 3, padding="valid", use_bias=True)(x)                     # conv2d: 20x20 -> 18x18
    x = L.BatchNormalization()(x)                                              # epsilon 1e-3
    x = L.Activation("relu")(x)
    x = L.Conv2D(8, 3, strides=2, padding="same", use_bias=False)(x)          # conv2d_1: 18 -> 9, pad (0,1)
    x = L.BatchNormalization(epsilon=1.001e-5)(x)
    x = L.ReLU(max_value=6.0)(x)
    x = L.ZeroPadding2D(((1, 2), (0, 1)))(x)                                   # 9x9 -> 12x10
    x = L.DepthwiseConv2D(3, padding="same", use_bias=True)(x)
    x = L.BatchNormalization(center=False)(x)                                  # no beta
    x = L.Activation("relu")(x)
    x = L.Conv2D(8, 1, activation="relu")(x)                                   # conv2d_2
    se = L.GlobalAveragePooling2D(keepdims=True)(x)                            # SE branch
    se = L.Conv2D(4, 1, activation="relu")(se)                                 # conv2d_3
    se = L.Conv2D(8, 1)(se)                                                    # conv2d_4
    se = L.Activation("sigmoid")(se)
    x = L.Multiply()([x, se])
    r = L.Conv2D(8, 1)(x)                                                      # conv2d_5
    x = L.Add()([x, r])                                                        # residual
    x = L.MaxPooling2D(2)(x)                                                   # 12x10 -> 6x5
    x = L.Conv2D(8, 3, padding="same")(x)                                      # conv2d_6
    x = L.BatchNormalization(scale=False)(x)                                   # no gamma
    x = L.MaxPooling2D(3, strides=2, padding="same")(x)                        # 6x5 -> 3x3
    x = L.Conv2D(6, 1)(x)                                                      # conv2d_7
    x = L.Conv2D(6, 1, activation="relu")(x)                                   # conv2d_8
    x = L.AveragePooling2D(2, strides=1)(x)                                    # 3x3 -> 2x2
    x = L.Conv2D(8, 1)(x)                                                      # conv2d_9
    x = L.Conv2D(8, 1, activation="relu")(x)                                   # conv2d_10
    x = L.Conv2D(8, 1)(x)                                                      # conv2d_11
    x = L.Dropout(0.3)(x)
    x = L.GlobalAveragePooling2D()(x)
    x = L.Dense(12, activation="relu")(x)
    out = L.Dense(5, activation="softmax")(x)
    model = K.Model(inp, out)
    names = [layer.name for layer in model.layers]
    assert "conv2d_10" in names and "conv2d_11" in names, names
    return model


def layers_input(seed):
    return image_batch(seed, (2, 20, 20, 3), pixels=True)


# 1. tf_keras, legacy full-model h5.
tf_keras.backend.clear_session()
tf_keras.utils.set_random_seed(101)
m = build_layers_model(tf_keras)
randomise(m, np.random.default_rng(1001))
x = layers_input(11)
y = predict(m, x)
m.save(path("layers_tfkeras.h5"), save_format="h5")
assert_same(predict(tf_keras.models.load_model(path("layers_tfkeras.h5"), compile=False), x), y,
            "reload layers_tfkeras.h5")
write_io("layers_tfkeras", x, y)
add_fixture("layers_tfkeras.h5", "full-h5-tfkeras", "tf_keras", "layers_tfkeras", x, y,
            normalization="config (mean/variance in the layer config; the layer has no weights)",
            layer_names=[layer.name for layer in m.layers])
layers_tfkeras_names = [layer.name for layer in m.layers]

# 2. Keras 3, legacy full-model h5 (Normalization adapted -> mean/variance/count saved as weights).
keras.backend.clear_session()
keras.utils.set_random_seed(202)
adapt = (np.random.default_rng(22).uniform(0.0, 255.0, (16, 20, 20, 3)).astype(np.float32) / 127.5 - 1.0)
adapt = adapt * np.array([0.7, 1.2, 0.9], np.float32) + np.array([0.1, -0.2, 0.05], np.float32)
m3 = build_layers_model(keras, normalization_adapt_data=adapt)
randomise(m3, np.random.default_rng(2002))
x = layers_input(12)
y = predict(m3, x)
m3.save(path("layers_keras3.h5"))
assert_same(predict(keras.models.load_model(path("layers_keras3.h5"), compile=False), x), y,
            "reload layers_keras3.h5")
write_io("layers_keras3", x, y)
add_fixture("layers_keras3.h5", "full-h5-keras3", "keras", "layers_keras3", x, y,
            normalization="weights (adapted: variables mean, variance, count)",
            layer_names=[layer.name for layer in m3.layers])

# 3. The same Keras 3 model as a .keras zip; shares layers_keras3.input/output.npy.
m3.save(path("layers.keras"))
assert_same(predict(keras.models.load_model(path("layers.keras"), compile=False), x), y, "reload layers.keras")
with zipfile.ZipFile(path("layers.keras")) as z:
    members = [{"name": i.filename, "compression": {zipfile.ZIP_STORED: "stored", zipfile.ZIP_DEFLATED: "deflated"}
                .get(i.compress_type, str(i.compress_type)), "size": i.file_size, "compressed_size": i.compress_size}
               for i in z.infolist()]
all_stored = all(mm["compression"] == "stored" for mm in members)
add_fixture("layers.keras", "keras-zip", "keras", "layers_keras3", x, y, zip_members=members,
            zip_all_stored=all_stored, normalization="weights (adapted: variables mean, variance, count)")
if not all_stored:
    # The Swift reader may only handle stored members: write the same archive uncompressed.
    with zipfile.ZipFile(path("layers.keras")) as src, \
            zipfile.ZipFile(path("layers_stored.keras"), "w", compression=zipfile.ZIP_STORED) as dst:
        for info in src.infolist():
            new = zipfile.ZipInfo(info.filename, date_time=info.date_time)
            new.compress_type = zipfile.ZIP_STORED
            new.external_attr = info.external_attr
            dst.writestr(new, src.read(info.filename))
    assert_same(predict(keras.models.load_model(path("layers_stored.keras"), compile=False), x), y,
                "reload layers_stored.keras")
    add_fixture("layers_stored.keras", "keras-zip", "keras", "layers_keras3", x, y, zip_all_stored=True,
                note="layers.keras rewritten with ZIP_STORED members")

# 4. tf_keras Sequential: Flatten order (NHWC) and the Sequential config form.
tf_keras.backend.clear_session()
tf_keras.utils.set_random_seed(404)
L = tf_keras.layers
seq = tf_keras.Sequential([tf_keras.Input(shape=(8, 8, 3)), L.Conv2D(4, 3), L.MaxPooling2D(2), L.Flatten(),
                           L.Dense(6)])
randomise(seq, np.random.default_rng(4004))
x = image_batch(44, (2, 8, 8, 3))
y = predict(seq, x)
seq.save(path("flatten_tfkeras.h5"), save_format="h5")
assert_same(predict(tf_keras.models.load_model(path("flatten_tfkeras.h5"), compile=False), x), y,
            "reload flatten_tfkeras.h5")
write_io("flatten_tfkeras", x, y)
add_fixture("flatten_tfkeras.h5", "full-h5-tfkeras", "tf_keras", "flatten_tfkeras", x, y,
            layer_names=[layer.name for layer in seq.layers])


def to_fixed_length_strings(file_path):
    """Rewrites every string attribute as a fixed-length byte string (array), which is how files
    written by Keras 2.x with h5py 2.x look, e.g. the keras-applications ImageNet .h5 downloads.
    Empty weight_names stay the float64 empty arrays Keras writes."""
    with h5py.File(file_path, "r+") as f:
        objects = [f]
        f.visititems(lambda _name, obj: objects.append(obj) and None)
        for obj in objects:
            for key in list(obj.attrs):
                if h5py.check_string_dtype(obj.attrs.get_id(key).dtype) is None:
                    continue
                value = obj.attrs[key]
                if isinstance(value, np.ndarray):
                    new = np.array([v.encode() if isinstance(v, str) else v for v in value.tolist()], dtype="S")
                else:
                    new = np.bytes_(value.encode() if isinstance(value, str) else value)
                del obj.attrs[key]
                obj.attrs[key] = new


# 4b. The same model with fixed-length string attributes (model_config, layer_names, weight_names,
#     backend, keras_version: the same attribute kinds a weights-only legacy file has at its root).
shutil.copy(path("flatten_tfkeras.h5"), path("flatten_tfkeras_fixedlen.h5"))
to_fixed_length_strings(path("flatten_tfkeras_fixedlen.h5"))
assert_same(predict(tf_keras.models.load_model(path("flatten_tfkeras_fixedlen.h5"), compile=False), x), y,
            "reload flatten_tfkeras_fixedlen.h5")
add_fixture("flatten_tfkeras_fixedlen.h5", "full-h5-tfkeras", "tf_keras", "flatten_tfkeras", x, y,
            string_attributes="fixed-length",
            note="flatten_tfkeras.h5 with every string attribute rewritten as fixed-length bytes (h5py 2.x style)")

# ---------------------------------------------------------------------------------------------
# 5. Tiny Keras-applications ResNets built with the applications' own code.

RESNETS = {
    # v1 like ResNet50: stride on the first block of a stack (in its 1x1 _1_conv and _0_conv).
    "resnet_v1_tiny": {"stacks": [1, 2], "base_filters": 4, "preactivation": False, "classes": 7,
                       "image_size": 32, "stride1": [1, 2], "use_bias": True},
    # v2 like ResNet50V2: stride on the LAST block of a stack (3x3 _2_conv after an explicit _2_pad;
    # identity shortcut MaxPooling2D(1, strides=2)), and like ResNet50V2's conv5 the last stack has
    # stride1=1. stack2 names its first and last block "_block1" and "_block{blocks}", so a 1-block
    # v2 stack is impossible (duplicate layer names). [2, 2] with stride1 [2, 1] covers all three v2
    # block kinds: conv shortcut (block1), strided identity (conv2_block2), plain identity (conv3_block2).
    "resnet_v2_tiny": {"stacks": [2, 2], "base_filters": 4, "preactivation": True, "classes": 7,
                       "image_size": 32, "stride1": [2, 1], "use_bias": True},
}


def tfk_stack_fn(arch):
    stack = tfk_resnet.stack2 if arch["preactivation"] else tfk_resnet.stack1

    def fn(x):
        for i, (blocks, stride1) in enumerate(zip(arch["stacks"], arch["stride1"])):
            x = stack(x, arch["base_filters"] << i, blocks, stride1=stride1, name=f"conv{i + 2}")
        return x
    return fn


def k3_stack_fn(arch):
    stack = k3_resnet.stack_residual_blocks_v2 if arch["preactivation"] else k3_resnet.stack_residual_blocks_v1

    def fn(x):
        for i, (blocks, stride1) in enumerate(zip(arch["stacks"], arch["stride1"])):
            x = stack(x, arch["base_filters"] << i, blocks, stride1=stride1, name=f"conv{i + 2}")
        return x
    return fn


def build_tfk_resnet(name, arch):
    tf_keras.backend.clear_session()
    return tfk_resnet.ResNet(tfk_stack_fn(arch), arch["preactivation"], arch["use_bias"], model_name=name,
                             include_top=True, weights=None,
                             input_shape=(arch["image_size"], arch["image_size"], 3), classes=arch["classes"])


def build_k3_resnet(name, arch):
    keras.backend.clear_session()
    return k3_resnet.ResNet(k3_stack_fn(arch), arch["preactivation"], arch["use_bias"], include_top=True,
                            weights=None, input_shape=(arch["image_size"], arch["image_size"], 3),
                            classes=arch["classes"], name=name)


for seed, (stem, arch) in enumerate(RESNETS.items(), start=5):
    tf_keras.utils.set_random_seed(seed * 100)
    tm = build_tfk_resnet(stem, arch)
    randomise(tm, np.random.default_rng(seed * 1000))
    x = image_batch(seed * 11, (2, 32, 32, 3))
    y = predict(tm, x)
    write_io(stem, x, y)
    arch_json = {k: arch[k] for k in ("stacks", "base_filters", "preactivation", "classes", "image_size")}
    arch_json["stride1"] = arch["stride1"]
    tfk_names = [layer.name for layer in tm.layers]

    # tf_keras full model.
    tm.save(path(f"{stem}.tfkeras.h5"), save_format="h5")
    assert_same(predict(tf_keras.models.load_model(path(f"{stem}.tfkeras.h5"), compile=False), x), y,
                f"reload {stem}.tfkeras.h5")
    add_fixture(f"{stem}.tfkeras.h5", "full-h5-tfkeras", "tf_keras", stem, x, y, architecture=arch_json,
                layer_names=tfk_names)

    # tf_keras legacy weights-only h5.
    tm.save_weights(path(f"{stem}.weights_legacy.h5"))
    tf_keras.utils.set_random_seed(seed * 100 + 1)
    fresh = build_tfk_resnet(stem, arch)
    fresh.load_weights(path(f"{stem}.weights_legacy.h5"))
    assert_same(predict(fresh, x), y, f"reload {stem}.weights_legacy.h5")
    add_fixture(f"{stem}.weights_legacy.h5", "weights-h5-legacy", "tf_keras", stem, x, y, architecture=arch_json)

    # Keras 3 with the same weights, copied by layer name.
    keras.utils.set_random_seed(seed * 100 + 2)
    km = build_k3_resnet(stem, arch)
    k3_names = [layer.name for layer in km.layers]
    # Only the input layer (input_1 / input_layer) and the auto-named MaxPooling2D(1) shortcuts of v2
    # may differ; none of those has weights.
    assert [n for n in k3_names[1:] if not n.startswith("max_pooling2d")] == \
        [n for n in tfk_names[1:] if not n.startswith("max_pooling2d")], (k3_names, tfk_names)
    copied = 0
    for layer in tm.layers:
        weights = layer.get_weights()
        if weights:
            km.get_layer(layer.name).set_weights(weights)
            copied += 1
    y3 = predict(km, x)
    k3_diff = assert_same(y3, y, f"{stem}: Keras 3 vs tf_keras", atol=1e-5)
    km.save_weights(path(f"{stem}.weights.h5"))
    keras.utils.set_random_seed(seed * 100 + 3)
    fresh3 = build_k3_resnet(stem, arch)
    fresh3.load_weights(path(f"{stem}.weights.h5"))
    assert_same(predict(fresh3, x), y3, f"reload {stem}.weights.h5")
    # Keras 3 names the groups layers/<snake_case(class name)>[_<k>], k counting per class in
    # model.layers order, and puts the layer's own name in the attribute "name" of .../vars.
    with h5py.File(path(f"{stem}.weights.h5"), "r") as f:
        groups = {f[f"layers/{g}/vars"].attrs["name"]: (f"layers/{g}", len(f[f"layers/{g}/vars"]))
                  for g in f["layers"]}
    weight_groups = [{"group": groups[layer.name][0], "layer": layer.name, "class_name": type(layer).__name__,
                      "vars": groups[layer.name][1]} for layer in km.layers]
    add_fixture(f"{stem}.weights.h5", "weights-h5-keras3", "keras", stem, x, y, architecture=arch_json,
                weight_groups_in_model_order=weight_groups,
                keras3_vs_tfkeras_max_abs_diff_below=1e-5,
                note="weights copied layer by layer from the tf_keras model; output.npy is tf_keras's")
    print(f"{stem}: {copied} layers with weights, Keras 3 vs tf_keras max abs diff {k3_diff:.3g}")

# ---------------------------------------------------------------------------------------------
# 5b. An EfficientNet/MobileNet-style block: swish, a squeeze-and-excitation branch through
#     Reshape((1, 1, C)), a strided 'same' convolution, Concatenate (channels, width, vectors),
#     GlobalMaxPooling2D; tf_keras .h5 and a
#     Keras 3 .keras (whose Reshape and activations are serialized in Keras 3's forms).


def build_blocks_model(K):
    L = K.layers
    inp = K.Input(shape=(16, 16, 3))
    x = L.Conv2D(16, 3, strides=2, padding="same", use_bias=False)(inp)
    x = L.BatchNormalization()(x)
    x = L.Activation("swish")(x)
    x = L.DepthwiseConv2D(3, padding="same", use_bias=False)(x)
    x = L.BatchNormalization()(x)
    x = L.Activation("swish")(x)
    se = L.GlobalAveragePooling2D()(x)
    se = L.Reshape((1, 1, 16))(se)
    se = L.Conv2D(4, 1, activation="swish")(se)
    se = L.Conv2D(16, 1, activation="sigmoid")(se)
    x = L.Multiply()([x, se])
    x = L.Concatenate()([x, L.Conv2D(4, 1)(x)])                  # channels: 16 + 4
    x = L.Concatenate(axis=2)([x, L.Conv2D(20, 1)(x)])           # along the width: 8×16
    x = L.Conv2D(8, 1, use_bias=False)(x)
    x = L.BatchNormalization()(x)
    v = L.Reshape((-1,))(L.GlobalAveragePooling2D(keepdims=True)(x))
    x = L.GlobalMaxPooling2D()(x)
    x = L.Concatenate()([L.Add()([x, v]), v])                    # vectors: 8 + 8
    out = L.Dense(4, activation="softmax")(x)
    return K.Model(inp, out)


for K, framework, file, layout in [(tf_keras, "tf_keras", "blocks_tfkeras.h5", "full-h5-tfkeras"),
                                   (keras, "keras", "blocks.keras", "keras-zip")]:
    K.utils.set_random_seed(303)
    m = build_blocks_model(K)
    randomise(m, np.random.default_rng(3003))
    stem = file.replace(".", "_").replace("_h5", "").replace("_keras", "_keras3") if framework == "keras" else "blocks_tfkeras"
    x = image_batch(33, (2, 16, 16, 3))
    y = predict(m, x)
    if framework == "tf_keras":
        m.save(path(file), save_format="h5")
        again = tf_keras.models.load_model(path(file), compile=False)
    else:
        m.save(path(file))
        again = keras.models.load_model(path(file), compile=False)
    assert_same(predict(again, x), y, "reload " + file)
    write_io(stem, x, y)
    add_fixture(file, layout, framework, stem, x, y)

# ---------------------------------------------------------------------------------------------
# 6. Broken files made with h5py from copies of a good full-model file. The source is the small
#    flatten_tfkeras.h5 (Sequential, 17 KB): copies of layers_tfkeras.h5 (105 KB each, almost all
#    HDF5 group overhead) pushed the folder past 2 MB. Every other part of the copy stays valid.
BAD_SOURCE = "flatten_tfkeras.h5"


def conv_kernel_path(f, layer):
    names = [n.decode() if isinstance(n, bytes) else n for n in f["model_weights"][layer].attrs["weight_names"]]
    kernel = [n for n in names if n.split("/")[-1].startswith("kernel")]
    return f"model_weights/{layer}/{kernel[0]}"


shutil.copy(path(BAD_SOURCE), path("bad_missing_dataset.h5"))
with h5py.File(path("bad_missing_dataset.h5"), "r+") as f:
    missing = conv_kernel_path(f, "conv2d")
    del f[missing]
MANIFEST["bad_fixtures"].append({"file": "bad_missing_dataset.h5", "source": BAD_SOURCE,
                                 "problem": "missing-dataset", "layer": "conv2d", "deleted_path": missing,
                                 "note": "weight_names still lists the kernel; the bias is still there"})

shutil.copy(path(BAD_SOURCE), path("bad_kernel_shape.h5"))
with h5py.File(path("bad_kernel_shape.h5"), "r+") as f:
    wrong = conv_kernel_path(f, "conv2d")
    good_shape = list(f[wrong].shape)
    bad_shape = [good_shape[0], good_shape[1], good_shape[2] + 1, good_shape[3]]
    del f[wrong]
    f.create_dataset(wrong, data=np.zeros(bad_shape, np.float32))
MANIFEST["bad_fixtures"].append({"file": "bad_kernel_shape.h5", "source": BAD_SOURCE,
                                 "problem": "kernel-shape", "layer": "conv2d", "path": wrong,
                                 "original_shape": good_shape, "bad_shape": bad_shape})

shutil.copy(path(BAD_SOURCE), path("bad_unsupported_layers.h5"))
with h5py.File(path("bad_unsupported_layers.h5"), "r+") as f:
    attr_dtype = f.attrs.get_id("model_config").dtype
    raw = f.attrs["model_config"]
    config = json.loads(raw.decode() if isinstance(raw, bytes) else raw)
    replaced = {"conv2d": "Conv3D", "flatten": "LSTM"}
    for layer in config["config"]["layers"]:
        if layer["config"]["name"] in replaced:
            layer["class_name"] = replaced[layer["config"]["name"]]
    assert sum(layer["class_name"] in ("Conv3D", "LSTM") for layer in config["config"]["layers"]) == 2
    text = json.dumps(config)
    del f.attrs["model_config"]
    info = h5py.check_string_dtype(attr_dtype)
    if info.length is None:  # keep the original variable-length string type and its encoding
        f.attrs.create("model_config", text.encode(), dtype=h5py.string_dtype(info.encoding))
    else:
        f.attrs["model_config"] = np.bytes_(text.encode())
MANIFEST["bad_fixtures"].append({"file": "bad_unsupported_layers.h5", "source": BAD_SOURCE,
                                 "problem": "unsupported-layers",
                                 "layers": [{"name": k, "class_name": v} for k, v in replaced.items()],
                                 "note": "model_config JSON edited (class_name only: the Conv3D keeps its Conv2D config and "
                                         "weights; LSTM has none); weights untouched"})


# ---------------------------------------------------------------------------------------------
# layouts.txt: h5py dump of each layout (first lines of each).


def describe_attr(obj, key):
    aid = obj.attrs.get_id(key)
    dt = aid.dtype
    info = h5py.check_string_dtype(dt)
    if info is not None:
        kind = f"str {'variable-length' if info.length is None else f'fixed-length {info.length}'} {info.encoding}"
    else:
        kind = f"{dt}"
    value = obj.attrs[key]
    shape = aid.shape
    if isinstance(value, np.ndarray):
        if value.dtype.kind == "S":
            shown = [v.decode() for v in value.tolist()]
        elif value.dtype.kind == "O":
            shown = [v.decode() if isinstance(v, bytes) else v for v in value.tolist()]
        else:
            shown = value.tolist()
        if value.size == 0 and info is None:
            kind = f"{dt} (empty array; h5py float64 default)" if dt == np.float64 else kind
    elif isinstance(value, bytes):
        shown = value.decode()
    else:
        shown = value
    text = json.dumps(shown, default=str)
    if len(text) > 160:
        text = text[:160] + f"... ({len(text)} chars)"
    return f"@{key} [{kind}, shape {shape}] = {text}"


def dump_h5(file_path, limit):
    lines = []
    with h5py.File(file_path, "r") as f:
        for key in f.attrs:
            lines.append("/ " + describe_attr(f, key))

        def visit(name, obj):
            if isinstance(obj, h5py.Dataset):
                lines.append(f"/{name}  Dataset {obj.shape} {obj.dtype}")
            else:
                lines.append(f"/{name}/  Group")
            for key in obj.attrs:
                lines.append(f"    {describe_attr(obj, key)}")
        f.visititems(visit)
    total = len(lines)
    if total > limit:
        lines = lines[:limit] + [f"... ({total - limit} more lines)"]
    return lines


out = ["HDF5 layouts of the Keras fixtures (h5py visititems order = alphabetical by name).",
       "Attribute types: 'str fixed-length N' = HDF5 fixed-size string; 'str variable-length' = HDF5 vlen string.",
       ""]
for title, file, limit in [
    ("full-h5-tfkeras (tf_keras model.save(..., save_format='h5'))", "layers_tfkeras.h5", 80),
    ("full-h5-tfkeras, Sequential", "flatten_tfkeras.h5", 40),
    ("full-h5-keras3 (Keras 3 model.save('x.h5'))", "layers_keras3.h5", 80),
    ("full-h5-tfkeras with fixed-length string attributes (h5py 2.x style)", "flatten_tfkeras_fixedlen.h5", 40),
    ("weights-h5-legacy (tf_keras save_weights('x.h5'))", "resnet_v1_tiny.weights_legacy.h5", 60),
    ("weights-h5-keras3 (Keras 3 save_weights('x.weights.h5')), v1", "resnet_v1_tiny.weights.h5", 120),
    ("weights-h5-keras3, v2", "resnet_v2_tiny.weights.h5", 60),
]:
    out += [f"=== {file}: {title}"] + dump_h5(path(file), limit) + [""]
with zipfile.ZipFile(path("layers.keras")) as z, tempfile.TemporaryDirectory() as tmp:
    out += ["=== layers.keras: zip members"]
    out += [f"{i.filename}  size {i.file_size}  compressed {i.compress_size}  "
            f"{'stored' if i.compress_type == zipfile.ZIP_STORED else 'compress_type ' + str(i.compress_type)}"
            for i in z.infolist()]
    out += ["", "--- layers.keras: metadata.json", z.read("metadata.json").decode(), ""]
    z.extract("model.weights.h5", tmp)
    out += ["--- layers.keras: model.weights.h5"] + dump_h5(os.path.join(tmp, "model.weights.h5"), 80) + [""]
    cfg = json.loads(z.read("config.json"))
    out += ["--- layers.keras: config.json, first layers (indented)",
            json.dumps({**cfg, "config": {**cfg["config"], "layers": cfg["config"]["layers"][:3]}}, indent=1), ""]
with open(path("layouts.txt"), "w") as fh:
    fh.write("\n".join(out) + "\n")

with open(path("MANIFEST.json"), "w") as fh:
    json.dump(MANIFEST, fh, indent=1)
    fh.write("\n")

# ---------------------------------------------------------------------------------------------
# 7. Files from Keras 3.4.1 (another process: an isolated old keras on the torch backend). It adds
#    its entries to MANIFEST.json and its sections to layouts.txt. Then check that this Keras 3.15
#    reads them (by the class-counter group names) to the same outputs.
subprocess.run([sys.executable, os.path.join(os.path.dirname(os.path.abspath(__file__)), "make_keras34_fixtures.py")],
               check=True, env={k: v for k, v in os.environ.items() if k != "KERAS_BACKEND"})
with open(path("MANIFEST.json")) as fh:
    keras34_entries = [e for e in json.load(fh)["fixtures"] if "keras34" in e["file"]]
assert len(keras34_entries) == 3, [e["file"] for e in keras34_entries]
for entry in keras34_entries:
    x, y = np.load(path(entry["input"])), np.load(path(entry["output"]))
    if entry["layout"] == "keras-zip":
        reread = keras.models.load_model(path(entry["file"]), compile=False)
    else:
        stem = entry["file"].split(".")[0]
        keras.utils.set_random_seed(909)
        reread = build_k3_resnet(stem, RESNETS[stem])
        with tempfile.TemporaryDirectory() as tmp:  # load_weights wants *.weights.h5
            shutil.copyfile(path(entry["file"]), os.path.join(tmp, "w.weights.h5"))
            reread.load_weights(os.path.join(tmp, "w.weights.h5"))
    diff = assert_same(predict(reread, x), y, f"Keras {keras.__version__} reading {entry['file']}", atol=1e-5)
    print(f"{entry['file']}: Keras {keras.__version__} reads it, max abs diff {diff:.3g}")

total = sum(os.path.getsize(path(n)) for n in os.listdir(ROOT))
print(f"wrote {len(os.listdir(ROOT))} files, {total} bytes, to {ROOT}")
