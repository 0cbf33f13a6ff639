#!/usr/bin/env python3
"""Writes the Keras-3.4 fixtures: files saved by an OLD Keras 3 (before 3.6), whose .weights.h5
groups `layers/<snake_case(class)>[_k]/vars` carry NO "name" attribute (Keras 3.6+ adds one with the
layer's real name), so a reader has to map the class-counter group names through the model's
layer order. Adds to Tests/TTLHDF5Tests/Fixtures/ (written first by scripts/make_keras_fixtures.py,
which calls this script at its end):

  resnet_v1_tiny.weights_keras34.h5, resnet_v2_tiny.weights_keras34.h5
      Keras 3.4.1 model.save_weights of the same tiny ResNets as resnet_v{1,2}_tiny.*, with the same
      weights (copied by layer name from resnet_v{1,2}_tiny.weights.h5); they share that stem's
      input.npy/output.npy, and Keras 3.4.1's prediction must match output.npy within 1e-5.
  layers_keras34.keras (+ layers_keras34.input.npy/.output.npy)
      The "layers" model of layers.keras (same architecture, weights copied by layer name from
      layers.keras), saved by Keras 3.4.1 as a .keras zip; output.npy is Keras 3.4.1's prediction.

and their entries in MANIFEST.json (replacing older *_keras34 entries) and sections in layouts.txt.

Pinned: python 3.11, keras==3.4.1 on the torch backend (torch==2.13.0+cpu, the installed one),
h5py==3.14.0, numpy==2.4.6. Keras 3.4.1 is installed ISOLATED, never over the global keras 3.15.1:
    pip install --no-deps --target /tmp/keras34 keras==3.4.1
    # its requirements absl-py, numpy, rich, namex, h5py, optree, ml-dtypes, packaging are already
    # there with tensorflow-cpu 2.21.0 / keras 3.15.1; torch comes with the project's environment
    PYTHONPATH=/tmp/keras34 KERAS_BACKEND=torch python3 scripts/make_keras34_fixtures.py
Run plainly (`python3 scripts/make_keras34_fixtures.py`) it does both steps itself: it installs
keras 3.4.1 into $KERAS34_DIR (default /tmp/keras34) if that folder has no keras 3.4.1, then
re-runs itself with that PYTHONPATH and KERAS_BACKEND=torch.
(Keras 3.4.1 on the tensorflow 2.21 backend also runs; torch keeps TensorFlow out of this process.)
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile

KERAS_OLD = "3.4.1"
KERAS34_DIR = os.environ.get("KERAS34_DIR", "/tmp/keras34")
PINNED = {"keras": KERAS_OLD, "torch": "2.13.0+cpu", "h5py": "3.14.0", "numpy": "2.4.6"}
HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", "Tests", "TTLHDF5Tests", "Fixtures"))
NOTE = "Keras 3 before 3.6: vars groups carry no name attribute"


def installed_version(folder):
    init = os.path.join(folder, "keras", "src", "version.py")
    if not os.path.exists(init):
        return None
    for line in open(init):
        if line.startswith("__version__"):
            return line.split("=")[1].strip().strip("\"'")
    return None


if os.environ.get("_TTL_KERAS34_CHILD") != "1":
    # Parent: make sure the isolated Keras 3.4.1 is there, then re-run with it first on the path.
    if installed_version(KERAS34_DIR) != KERAS_OLD:
        subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target",
                        KERAS34_DIR, f"keras=={KERAS_OLD}"], check=True)
    env = dict(os.environ)
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # keras 3.4.1 imports tensorflow too, if it is there
    env.update({"_TTL_KERAS34_CHILD": "1", "KERAS_BACKEND": "torch", "TF_USE_LEGACY_KERAS": "0",
                "PYTHONPATH": os.pathsep.join([KERAS34_DIR] + [p for p in [env.get("PYTHONPATH")] if p])})
    sys.exit(subprocess.run([sys.executable, os.path.abspath(__file__)] + sys.argv[1:], env=env).returncode)

# ---------------------------------------------------------------------------------------------
# Child: runs with Keras 3.4.1.

import h5py  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

torch.set_num_threads(2)  # shared 2-core machine

import keras  # noqa: E402
from keras.src.applications import resnet as k3_resnet  # noqa: E402
from keras.src.utils import naming  # noqa: E402

FOUND = {"keras": keras.__version__, "torch": torch.__version__, "h5py": h5py.__version__,
         "numpy": np.__version__}
assert keras.__version__ == KERAS_OLD, (keras.__version__, keras.__file__)
assert keras.backend.backend() == "torch", keras.backend.backend()
for _pkg, _want in PINNED.items():
    if FOUND[_pkg] != _want:
        print(f"warning: {_pkg} is {FOUND[_pkg]}, the Keras 3.4 fixtures were made with {_want}", file=sys.stderr)
for needed in ("MANIFEST.json", "resnet_v1_tiny.weights.h5", "resnet_v2_tiny.weights.h5", "layers.keras"):
    if not os.path.exists(os.path.join(ROOT, needed)):
        sys.exit(f"{needed} missing in {ROOT}: run scripts/make_keras_fixtures.py (which runs this script too)")


def path(name):
    return os.path.join(ROOT, name)


with open(path("MANIFEST.json")) as fh:
    MANIFEST = json.load(fh)
MANIFEST["fixtures"] = [e for e in MANIFEST["fixtures"] if "keras34" not in e["file"]]
MANIFEST["versions_keras34"] = {**FOUND, "generator": "scripts/make_keras34_fixtures.py"}
NEW_ENTRIES = []


def predict(model, x):
    return np.asarray(model.predict(x, verbose=0), dtype=np.float32)


def max_diff(a, b, what, atol):
    assert a.shape == b.shape, (what, a.shape, b.shape)
    diff = float(np.max(np.abs(a - b)))
    assert diff <= atol, f"{what}: max abs diff {diff}"
    return diff


def named_weights_from_keras3_h5(h5):
    """{layer name: [arrays]} from a Keras >= 3.6 weights file (its vars groups have "name")."""
    out = {}
    for g in h5["layers"]:
        v = h5[f"layers/{g}/vars"]
        if len(v):
            out[v.attrs["name"]] = [v[str(i)][()] for i in range(len(v))]
    return out


def copy_weights(model, named):
    for layer in model.layers:
        if layer.weights:
            layer.set_weights(named.pop(layer.name))
            if hasattr(layer, "finalize_state"):
                layer.finalize_state()  # Normalization: adapt_mean/variance -> mean/variance
    assert not named, f"weights of {sorted(named)} not used"


def check_weight_groups(model, file_path):
    """The class-counter rule, checked against the file: every layer of model.layers, in that order,
    has the group layers/<snake_case(class)>[_k] (k = 1, 2 ... for a class's second, third ... layer,
    counting weightless layers too), holding exactly its weights as vars/0, vars/1 ... Returns the
    group list in model order and asserts that no vars group has a "name" attribute."""
    counters, groups = {}, []
    with h5py.File(file_path, "r") as f:
        named = [n for n, o in _walk(f) if isinstance(o, h5py.Group) and "name" in o.attrs]
        assert not named, f"{file_path}: groups with a name attribute: {named}"
        for layer in model.layers:
            base = naming.to_snake_case(type(layer).__name__)
            k = counters.get(base)
            counters[base] = 0 if k is None else k + 1
            group = f"layers/{base}" if k is None else f"layers/{base}_{k + 1}"
            vars_ = f[f"{group}/vars"]
            weights = layer.get_weights()
            assert len(vars_) == len(weights), (group, layer.name, len(vars_), len(weights))
            for i, w in enumerate(weights):
                assert np.array_equal(vars_[str(i)][()], w), (group, layer.name, i)
            groups.append({"group": group, "layer": layer.name, "class_name": type(layer).__name__,
                           "vars": len(vars_)})
        assert sorted(f"layers/{g}" for g in f["layers"]) == sorted(g["group"] for g in groups), \
            "groups under layers/ that are not model layers"
        top = sorted(f.keys())
    return groups, top


def _walk(f):
    items = [("/", f)]
    f.visititems(lambda n, o: items.append((n, o)) and None)
    return items


# ---------------------------------------------------------------------------------------------
# 1. The tiny ResNets: the same architecture code as make_keras_fixtures.py, Keras 3.4.1's own
#    keras.src.applications.resnet.

def stack_fn(arch):
    stack = k3_resnet.stack_residual_blocks_v2 if arch["preactivation"] else k3_resnet.stack_residual_blocks_v1

    def fn(x):
        for i, (blocks, stride1) in enumerate(zip(arch["stacks"], arch["stride1"])):
            x = stack(x, arch["base_filters"] << i, blocks, stride1=stride1, name=f"conv{i + 2}")
        return x
    return fn


def build_resnet(name, arch):
    keras.backend.clear_session()
    return k3_resnet.ResNet(stack_fn(arch), arch["preactivation"], True, include_top=True, weights=None,
                            input_shape=(arch["image_size"], arch["image_size"], 3), classes=arch["classes"],
                            name=name)


def source_entry(file):
    return next(e for e in MANIFEST["fixtures"] if e["file"] == file)


for seed, stem in enumerate(["resnet_v1_tiny", "resnet_v2_tiny"], start=5):
    src = source_entry(f"{stem}.weights.h5")
    arch = src["architecture"]
    x = np.load(path(src["input"]))
    y = np.load(path(src["output"]))
    keras.utils.set_random_seed(seed * 100 + 4)
    model = build_resnet(stem, arch)
    with h5py.File(path(f"{stem}.weights.h5"), "r") as f:
        named = named_weights_from_keras3_h5(f)
    copied = len(named)
    copy_weights(model, named)
    y34 = predict(model, x)
    diff = max_diff(y34, y, f"{stem}: Keras {KERAS_OLD} vs {src['output']}", 1e-5)
    out = f"{stem}.weights_keras34.h5"
    with tempfile.TemporaryDirectory() as tmp:
        tmp_file = os.path.join(tmp, f"{stem}.weights.h5")  # save_weights wants *.weights.h5
        model.save_weights(tmp_file)
        shutil.copyfile(tmp_file, path(out))
    keras.utils.set_random_seed(seed * 100 + 5)
    fresh = build_resnet(stem, arch)
    with tempfile.TemporaryDirectory() as tmp:
        shutil.copyfile(path(out), os.path.join(tmp, "x.weights.h5"))
        fresh.load_weights(os.path.join(tmp, "x.weights.h5"))
    max_diff(predict(fresh, x), y34, f"reload {out}", 1e-6)
    groups, top = check_weight_groups(model, path(out))
    NEW_ENTRIES.append({
        "file": out, "layout": "weights-h5-keras3", "framework": "keras", "framework_version": keras.__version__,
        "backend": "torch", "input": src["input"], "output": src["output"], "input_shape": list(x.shape),
        "output_shape": list(y.shape), "string_attributes": "none at the root", "architecture": arch,
        "weight_groups_in_model_order": groups, "vars_name_attribute": False, "top_level_keys": top,
        "keras34_vs_output_max_abs_diff_below": 1e-5,
        "note": NOTE,
        "source": f"weights copied layer by layer (by name) from {stem}.weights.h5; output.npy is tf_keras's"})
    same_groups = [g["group"] for g in groups] == [g["group"] for g in src["weight_groups_in_model_order"]]
    print(f"{out}: Keras {KERAS_OLD}, {copied} layers with weights, vs {src['output']} max abs diff {diff:.3g}, "
          f"groups {'the same as' if same_groups else 'DIFFERENT from'} {stem}.weights.h5, "
          f"{os.path.getsize(path(out))} bytes")

# ---------------------------------------------------------------------------------------------
# 2. The "layers" model (as build_layers_model in make_keras_fixtures.py, Normalization without
#    mean/variance so that it has the variables mean, variance, count), weights from layers.keras.

def build_layers_model(K):
    L = K.layers
    inp = K.Input(shape=(20, 20, 3))
    x = L.Rescaling(scale=1 / 127.5, offset=-1.0)(inp)
    x = L.Normalization(axis=-1)(x)                                             # weights set from layers.keras
    x = L.Conv2D(6, 3, padding="valid", use_bias=True)(x)                     # conv2d
    x = L.BatchNormalization()(x)
    x = L.Activation("relu")(x)
    x = L.Conv2D(8, 3, strides=2, padding="same", use_bias=False)(x)          # conv2d_1
    x = L.BatchNormalization(epsilon=1.001e-5)(x)
    x = L.ReLU(max_value=6.0)(x)
    x = L.ZeroPadding2D(((1, 2), (0, 1)))(x)
    x = L.DepthwiseConv2D(3, padding="same", use_bias=True)(x)
    x = L.BatchNormalization(center=False)(x)
    x = L.Activation("relu")(x)
    x = L.Conv2D(8, 1, activation="relu")(x)                                   # conv2d_2
    se = L.GlobalAveragePooling2D(keepdims=True)(x)
    se = L.Conv2D(4, 1, activation="relu")(se)                                 # conv2d_3
    se = L.Conv2D(8, 1)(se)                                                    # conv2d_4
    se = L.Activation("sigmoid")(se)
    x = L.Multiply()([x, se])
    r = L.Conv2D(8, 1)(x)                                                      # conv2d_5
    x = L.Add()([x, r])
    x = L.MaxPooling2D(2)(x)
    x = L.Conv2D(8, 3, padding="same")(x)                                      # conv2d_6
    x = L.BatchNormalization(scale=False)(x)
    x = L.MaxPooling2D(3, strides=2, padding="same")(x)
    x = L.Conv2D(6, 1)(x)                                                      # conv2d_7
    x = L.Conv2D(6, 1, activation="relu")(x)                                   # conv2d_8
    x = L.AveragePooling2D(2, strides=1)(x)
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


keras.backend.clear_session()
keras.utils.set_random_seed(303)
src = source_entry("layers.keras")
lm = build_layers_model(keras)
with zipfile.ZipFile(path("layers.keras")) as z, tempfile.TemporaryDirectory() as tmp:
    z.extract("model.weights.h5", tmp)
    with h5py.File(os.path.join(tmp, "model.weights.h5"), "r") as f:
        named = named_weights_from_keras3_h5(f)
copy_weights(lm, named)
x = np.load(path(src["input"]))  # the same image batch as layers_keras3, stored again under this stem
y_new = np.load(path(src["output"]))
y = predict(lm, x)
diff = max_diff(y, y_new, f"layers: Keras {KERAS_OLD} vs Keras 3.15 ({src['output']})", 1e-5)
lm.save(path("layers_keras34.keras"))
reloaded = keras.models.load_model(path("layers_keras34.keras"), compile=False)
max_diff(predict(reloaded, x), y, "reload layers_keras34.keras", 1e-6)
np.save(path("layers_keras34.input.npy"), x.astype(np.float32))
np.save(path("layers_keras34.output.npy"), y.astype(np.float32))
with zipfile.ZipFile(path("layers_keras34.keras")) as z, tempfile.TemporaryDirectory() as tmp:
    members = [{"name": i.filename, "compression": {zipfile.ZIP_STORED: "stored", zipfile.ZIP_DEFLATED: "deflated"}
                .get(i.compress_type, str(i.compress_type)), "size": i.file_size, "compressed_size": i.compress_size}
               for i in z.infolist()]
    metadata = json.loads(z.read("metadata.json"))
    z.extract("model.weights.h5", tmp)
    layer_groups, top = check_weight_groups(lm, os.path.join(tmp, "model.weights.h5"))
assert metadata.get("keras_version") == KERAS_OLD, metadata
NEW_ENTRIES.append({
    "file": "layers_keras34.keras", "layout": "keras-zip", "framework": "keras", "framework_version": keras.__version__,
    "backend": "torch", "input": "layers_keras34.input.npy", "output": "layers_keras34.output.npy",
    "input_shape": list(x.shape), "output_shape": list(y.shape), "zip_members": members,
    "zip_all_stored": all(m["compression"] == "stored" for m in members), "metadata": metadata,
    "normalization": "weights (variables mean, variance, count; copied from layers.keras)",
    "layer_names": [layer.name for layer in lm.layers], "weight_groups_in_model_order": layer_groups,
    "vars_name_attribute": False, "top_level_keys": top,
    "keras34_vs_layers_keras3_output_max_abs_diff": diff,
    "note": NOTE,
    "source": "architecture of layers.keras, weights copied layer by layer (by name) from it; input.npy is "
              "layers_keras3.input.npy; output.npy is Keras 3.4.1's own prediction"})
print(f"layers_keras34.keras: Keras {KERAS_OLD}, vs layers_keras3.output.npy max abs diff {diff:.3g}, "
      f"{os.path.getsize(path('layers_keras34.keras'))} bytes")

# ---------------------------------------------------------------------------------------------
# MANIFEST.json and layouts.txt.

MANIFEST["fixtures"].extend(NEW_ENTRIES)
notes = [n for n in MANIFEST["notes"] if "keras34" not in n]
notes.append("The *_keras34 files are from Keras 3.4.1 (scripts/make_keras34_fixtures.py): before Keras 3.6 "
             "the vars groups of a .weights.h5 (and of model.weights.h5 in a .keras) have no 'name' attribute; "
             "layers/<snake_case(class)>[_k] must be matched to model.layers in order (k = 1, 2 ... for the "
             "second, third ... layer of a class, weightless layers counted too).")
MANIFEST["notes"] = notes
with open(path("MANIFEST.json"), "w") as fh:
    json.dump(MANIFEST, fh, indent=1)
    fh.write("\n")


def dump_h5(file_path, limit):
    lines = []
    with h5py.File(file_path, "r") as f:
        for key in f.attrs:
            lines.append(f"/ @{key} = {f.attrs[key]!r}")

        def visit(name, obj):
            lines.append(f"/{name}  Dataset {obj.shape} {obj.dtype}" if isinstance(obj, h5py.Dataset)
                         else f"/{name}/  Group")
            for key in obj.attrs:
                lines.append(f"    @{key} = {obj.attrs[key]!r}")
        f.visititems(visit)
    total = len(lines)
    return lines[:limit] + ([f"... ({total - limit} more lines)"] if total > limit else [])


MARK = "=== Keras 3.4.1 files (scripts/make_keras34_fixtures.py)"
with open(path("layouts.txt")) as fh:
    text = fh.read()
text = text.split(MARK)[0].rstrip("\n") + "\n\n"
out = [MARK, "No 'name' attribute on any vars group (Keras 3.6+ writes one).", ""]
for file, limit in [("resnet_v1_tiny.weights_keras34.h5", 120), ("resnet_v2_tiny.weights_keras34.h5", 60)]:
    out += [f"=== {file}: weights-h5-keras3, Keras {KERAS_OLD}"] + dump_h5(path(file), limit) + [""]
with zipfile.ZipFile(path("layers_keras34.keras")) as z, tempfile.TemporaryDirectory() as tmp:
    out += ["=== layers_keras34.keras: zip members"]
    out += [f"{m['name']}  size {m['size']}  compressed {m['compressed_size']}  {m['compression']}" for m in members]
    out += ["", "--- layers_keras34.keras: metadata.json", z.read("metadata.json").decode(), ""]
    z.extract("model.weights.h5", tmp)
    out += ["--- layers_keras34.keras: model.weights.h5"] + dump_h5(os.path.join(tmp, "model.weights.h5"), 80)
with open(path("layouts.txt"), "w") as fh:
    fh.write(text + "\n".join(out) + "\n")
print(f"Keras {KERAS_OLD} fixtures: {len(NEW_ENTRIES)} entries added to MANIFEST.json")
