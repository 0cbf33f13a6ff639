#!/usr/bin/env python3
"""A multi-label model that ttl fine-tunes and exports runs in onnxruntime and Keras with ttl's
probabilities, ends in a Sigmoid, and carries `multi_label` and its thresholds.

Pinned: python 3.11, onnx==1.23.2, onnxruntime==1.31.1, numpy==2.4.6, h5py==3.14.0, and for the
Keras check (same as scripts/make_keras_fixtures.py) tensorflow-cpu==2.21.0, tf_keras==2.21.0
(--no-deps), keras==3.15.1.
    swift build -c release --product ttl
    python3 scripts/check_multilabel_export.py [--ttl .build/release/ttl] [--write-fixture]

Builds the sample colours (Tests/TTLFineTuneTests/Fixtures/dataset) as a folder-per-label set
(each image under its colour, the green and red ones also under not-blue/), runs
`ttl finetune --multi-label` on the small ResNet fixture, exports .onnx and .h5, and feeds a
seeded input to `ttl run`, onnxruntime, tf_keras and Keras 3. Every pair must agree within
1e-5·max(1, max|ref|). With --write-fixture the files, the input and onnxruntime's and Keras's
outputs go to Tests/TTLTests/Fixtures/multilabel/, where MultiLabelCommandTests checks that
ttl's re-run of the same files gives those probabilities (CI has no Python).
Prints one line per check; exits 1 on any disagreement.
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile

os.environ["KERAS_BACKEND"] = "tensorflow"
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.pop("TF_USE_LEGACY_KERAS", None)

import h5py  # noqa: E402
import numpy as np  # noqa: E402
import onnx  # noqa: E402
import onnxruntime as ort  # noqa: E402

assert np.__version__ == "2.4.6", np.__version__
assert onnx.__version__ == "1.23.2", onnx.__version__
assert ort.__version__ == "1.31.1", ort.__version__
assert h5py.__version__ == "3.14.0", h5py.__version__

REPO = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
DATASET = os.path.join(REPO, "Tests", "TTLFineTuneTests", "Fixtures", "dataset")
BACKBONE = os.path.join(REPO, "Tests", "TTLONNXTests", "Fixtures", "models", "torchscript_folded_bn", "model.onnx")
FIXTURE = os.path.join(REPO, "Tests", "TTLTests", "Fixtures", "multilabel")

failures = []


def check(name, ok, detail=""):
    print(("ok    " if ok else "FAIL  ") + name + (": " + detail if detail else ""))
    if not ok:
        failures.append(name)


def close(name, got, ref):
    got, ref = np.asarray(got, np.float64), np.asarray(ref, np.float64)
    if got.shape != ref.shape:
        return check(name, False, f"shape {got.shape} vs {ref.shape}")
    err = float(np.max(np.abs(got - ref)))
    tol = 1e-5 * max(1.0, float(np.max(np.abs(ref))))
    check(name, err <= tol, f"max |error| {err:.3g} (tolerance {tol:.3g})")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ttl", default=os.path.join(REPO, ".build", "release", "ttl"))
    ap.add_argument("--write-fixture", action="store_true")
    args = ap.parse_args()
    work = tempfile.mkdtemp(prefix="ttl-multilabel-")
    env = dict(os.environ, TTL_HOME=os.path.join(work, "home"))

    def ttl(*a):
        r = subprocess.run([args.ttl, *a], env=env, capture_output=True, text=True)
        if r.returncode != 0:
            sys.exit(f"ttl {' '.join(a)}: {r.stderr.strip()}")
        return r.stdout

    data = os.path.join(work, "data")
    for colour in ["blue", "green", "red"]:
        for f in sorted(os.listdir(os.path.join(DATASET, colour))):
            for label in [colour] + ([] if colour == "blue" else ["not-blue"]):
                os.makedirs(os.path.join(data, label), exist_ok=True)
                shutil.copy(os.path.join(DATASET, colour, f), os.path.join(data, label, f))
    print(ttl("finetune", "--multi-label", "--data", data, "--model", BACKBONE, "--epochs", "20", "--lr", "0.05",
              "--batch-size", "8", "--resize", "squash", "--seed", "3", "--val-split", "0.25", "--output", "colors").strip().splitlines()[-1])
    onnx_path, h5_path = os.path.join(work, "model.onnx"), os.path.join(work, "model.h5")
    ttl("export", "colors", "--output", onnx_path)
    ttl("export", "colors", "--output", h5_path)

    x = np.random.default_rng(20261204).standard_normal((6, 3, 32, 32)).astype(np.float32)
    np.save(os.path.join(work, "input.npy"), x)
    outputs = {}
    for name, path in [("ttl_onnx", onnx_path), ("ttl_h5", h5_path)]:
        ttl("run", path, "--input", os.path.join(work, "input.npy"), "--output", os.path.join(work, name + ".npy"))
        outputs[name] = np.load(os.path.join(work, name + ".npy"))

    # ONNX: the graph ends in Sigmoid, the metadata says multi-label with a threshold per label.
    m = onnx.load(onnx_path)
    last = [n for n in m.graph.node if m.graph.output[0].name in n.output][0]
    check("onnx: the output comes from a Sigmoid", last.op_type == "Sigmoid", last.op_type)
    meta = {p.key: p.value for p in m.metadata_props}
    labels, thresholds = json.loads(meta["labels"]), json.loads(meta.get("thresholds", "[]"))
    check("onnx: metadata multi_label is true", meta.get("multi_label") == "true", str(meta.get("multi_label")))
    check("onnx: one threshold per label", len(thresholds) == len(labels) == 4, f"{labels} {thresholds}")
    sess = ort.InferenceSession(onnx_path, providers=["CPUExecutionProvider"])
    outputs["onnxruntime"] = sess.run(None, {sess.get_inputs()[0].name: x})[0]
    close("onnxruntime vs ttl (onnx file)", outputs["ttl_onnx"], outputs["onnxruntime"])
    check("probabilities in [0, 1]", bool(np.all((outputs["onnxruntime"] >= 0) & (outputs["onnxruntime"] <= 1))))

    # Keras: the same metadata in ttl_metadata, a final sigmoid, the same probabilities.
    with h5py.File(h5_path, "r") as f:
        raw = f.attrs["ttl_metadata"]
        kmeta = json.loads(raw.decode() if isinstance(raw, bytes) else raw)
        config = json.loads(f.attrs["model_config"] if isinstance(f.attrs["model_config"], str) else f.attrs["model_config"].decode())
    check("h5: ttl_metadata matches the ONNX metadata", all(kmeta.get(k) == meta.get(k) for k in ["labels", "preprocessing", "multi_label", "thresholds"]))
    final = config["config"]["layers"][-1]["config"]
    check("h5: the last layer's activation is sigmoid", final.get("activation") == "sigmoid", str(final.get("activation")))
    import keras  # noqa: E402
    import tf_keras  # noqa: E402
    assert keras.__version__ == "3.15.1", keras.__version__
    outputs["keras"] = keras.models.load_model(h5_path, compile=False).predict(x, verbose=0)
    outputs["tf_keras"] = tf_keras.models.load_model(h5_path, compile=False).predict(x, verbose=0)
    close("Keras 3 vs ttl (h5 file)", outputs["ttl_h5"], outputs["keras"])
    close("tf_keras vs ttl (h5 file)", outputs["ttl_h5"], outputs["tf_keras"])
    close("ttl: h5 vs onnx", outputs["ttl_h5"], outputs["ttl_onnx"])

    if args.write_fixture and not failures:
        os.makedirs(FIXTURE, exist_ok=True)
        for src, dst in [(onnx_path, "model.onnx"), (h5_path, "model.h5"), (os.path.join(work, "input.npy"), "input.npy")]:
            shutil.copy(src, os.path.join(FIXTURE, dst))
        np.save(os.path.join(FIXTURE, "onnxruntime.npy"), outputs["onnxruntime"].astype(np.float32))
        np.save(os.path.join(FIXTURE, "keras.npy"), outputs["keras"].astype(np.float32))
        with open(os.path.join(FIXTURE, "metadata.json"), "w") as f:
            json.dump({k: meta[k] for k in ["labels", "preprocessing", "multi_label", "thresholds"]}, f, indent=1, sort_keys=True)
        print("wrote", FIXTURE)
    shutil.rmtree(work, ignore_errors=True)
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
