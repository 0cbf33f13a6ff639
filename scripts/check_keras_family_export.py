#!/usr/bin/env python3
"""The fine-tune path of every Keras family fixture (issue 13): ttl imports the file, finds the
head, trains a new one, exports `.h5`, and tf_keras and Keras 3 load the export and predict what
ttl predicts; the unchanged model exported back predicts what Keras predicted from the original.

Pinned: python 3.11, tensorflow-cpu==2.21.0, tf_keras==2.21.0 (--no-deps), keras==3.15.1,
h5py==3.14.0, numpy==2.4.6 (as scripts/make_keras_family_fixtures.py).
    swift build -c release --product ttl
    python3 scripts/check_keras_family_export.py [--ttl .build/release/ttl] [--write-fixture] [family ...]

For each family of Tests/TTLHDF5Tests/Fixtures/families/MANIFEST.json (its tf_keras .h5, and its
Keras 3 .h5 for MobileNetV3, whose Keras 3 form holds `Activation("hard_swish")`, an activation
tf_keras lacks: ttl writes hard swish as Rescaling(offset 3) → ReLU(6) → Rescaling(1/6) → Multiply,
which both load; the check also asserts that no exported configuration names `hard_silu`/`hard_swish`):
  1. `ttl export` of the imported model; tf_keras and Keras 3 predict the fixture input within
     1e-4·max(1, max|ref|) of the fixture output (the saving Keras's own prediction);
  2. `ttl finetune` on the sample colours (Tests/TTLFineTuneTests/Fixtures/dataset, 3 classes;
     the default head fit), `ttl export` to .h5: the last layer is a Dense of 3 units, and tf_keras
     and Keras 3 predict what `ttl run` predicts on the same file within 1e-4·max(1, max|ref|).
With --write-fixture each fine-tuned .h5, the input and Keras 3's probabilities go to (with family
names: replace only those families' entries in)
Tests/TTLHDF5Tests/Fixtures/finetuned/ (MANIFEST.json), where KerasFineTunedExportTests checks that
ttl's run of the same files gives those probabilities (CI has no TensorFlow).
Prints one line per check; exits 1 on any failure.
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile

os.environ["KERAS_BACKEND"] = "tensorflow"
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.pop("TF_USE_LEGACY_KERAS", None)

import h5py  # noqa: E402
import numpy as np  # noqa: E402

REPO = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
FAMILIES = os.path.join(REPO, "Tests", "TTLHDF5Tests", "Fixtures", "families")
DATASET = os.path.join(REPO, "Tests", "TTLFineTuneTests", "Fixtures", "dataset")
FIXTURE = os.path.join(REPO, "Tests", "TTLHDF5Tests", "Fixtures", "finetuned")
failures = []


def check(name, ok, detail=""):
    print(("ok    " if ok else "FAIL  ") + name + (": " + detail if detail else ""), flush=True)
    if not ok:
        failures.append(name)


def close(name, got, ref):
    got, ref = np.asarray(got, np.float64), np.asarray(ref, np.float64)
    if got.shape != ref.shape:
        return check(name, False, f"shape {got.shape} vs {ref.shape}")
    err = float(np.max(np.abs(got - ref)))
    tol = 1e-4 * max(1.0, float(np.max(np.abs(ref))))
    top1 = bool((got.argmax(1) == ref.argmax(1)).all()) if got.ndim == 2 else True
    check(name, err <= tol and top1, f"max |error| {err:.3g} (tolerance {tol:.3g}), top-1 {'equal' if top1 else 'differs'}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ttl", default=os.path.join(REPO, ".build", "release", "ttl"))
    ap.add_argument("--write-fixture", action="store_true")
    ap.add_argument("families", nargs="*")
    args = ap.parse_args()
    import keras  # noqa: E402
    import tf_keras  # noqa: E402
    print(f"tensorflow-cpu/tf_keras {tf_keras.__version__}, keras {keras.__version__}, h5py {h5py.__version__}, numpy {np.__version__}")
    work = tempfile.mkdtemp(prefix="ttl-keras-families-")
    env = dict(os.environ, TTL_HOME=os.path.join(work, "home"))

    def ttl(*a):
        r = subprocess.run([args.ttl, *a], env=env, capture_output=True, text=True)
        if r.returncode != 0:
            raise RuntimeError(f"ttl {' '.join(a)}: {r.stderr.strip()}")
        return r.stdout

    loaders = {"tf_keras": lambda p: tf_keras.models.load_model(p, compile=False),
               "keras3": lambda p: keras.models.load_model(p, compile=False)}
    with open(os.path.join(FAMILIES, "MANIFEST.json")) as f:
        manifest = json.load(f)["fixtures"]
    chosen = [e for e in manifest if e["layout"] == "full-h5-tfkeras"
              or (e["layout"] == "full-h5-keras3" and e["family"] == "mobilenetv3_small")]
    if args.families:
        chosen = [e for e in chosen if e["family"] in args.families]
    written = []
    for e in chosen:
        tag = e["file"][:-3]
        frameworks = ["tf_keras", "keras3"]
        source = os.path.join(FAMILIES, e["file"])
        x = np.load(os.path.join(FAMILIES, e["input"]))
        np.save(os.path.join(work, "x.npy"), x)
        try:
            # 1. The imported model exported back.
            back = os.path.join(work, tag + "_ttl.h5")
            ttl("import", source, "--name", tag)
            ttl("export", tag, "--output", back)
            with h5py.File(back, "r") as h:
                raw = h.attrs["model_config"]
                text = raw.decode() if isinstance(raw, bytes) else raw
            check(f"{tag}: the export names no hard_silu/hard_swish activation (tf_keras has none)",
                  "hard_silu" not in text and "hard_swish" not in text)
            for fw in frameworks:
                close(f"{tag}: export of the imported model, {fw} vs the original's Keras output",
                      loaders[fw](back).predict(x, verbose=0), np.load(os.path.join(FAMILIES, e["output"])))
            # 2. Fine-tuned on the colours, exported, predicted by ttl and Keras.
            out = ttl("finetune", "--data", DATASET, "--model", source, "--seed", "3", "--output", tag + "_ft")
            check(f"{tag}: ttl finetune", True, out.strip().splitlines()[-1] if out.strip() else "")
            ft = os.path.join(work, tag + "_finetuned.h5")
            ttl("export", tag + "_ft", "--output", ft)
            with h5py.File(ft, "r") as h:
                raw = h.attrs["model_config"]
                config = json.loads(raw.decode() if isinstance(raw, bytes) else raw)
            dense = [layer for layer in config["config"]["layers"] if layer["class_name"] == "Dense"]
            check(f"{tag}: the export ends in a Dense of 3 units", bool(dense) and dense[-1]["config"]["units"] == 3,
                  str(dense[-1]["config"] if dense else config["config"]["layers"][-1]["class_name"]))
            ttl("run", ft, "--input", os.path.join(work, "x.npy"), "--output", os.path.join(work, "y.npy"))
            mine = np.load(os.path.join(work, "y.npy"))
            keras3 = None
            for fw in frameworks:
                predicted = loaders[fw](ft).predict(x, verbose=0)
                close(f"{tag}: fine-tuned export, {fw} vs ttl run", predicted, mine)
                if fw == "keras3":
                    keras3 = predicted
            written.append((tag, ft, x, keras3))
        except Exception as err:  # noqa: BLE001 - one line per failure, then the next family
            check(f"{tag}", False, str(err).splitlines()[0] if str(err) else type(err).__name__)
    if args.write_fixture:
        entries = []
        if args.families:  # rewrite only the families named: keep the others' entries and files
            with open(os.path.join(FIXTURE, "MANIFEST.json")) as f:
                redone = {tag + "_finetuned.h5" for tag, _, _, _ in written}
                entries = [e for e in json.load(f)["fixtures"] if e["file"] not in redone]
        else:
            shutil.rmtree(FIXTURE, ignore_errors=True)
            os.makedirs(FIXTURE)
        for tag, ft, x, predicted in written:
            shutil.copy(ft, os.path.join(FIXTURE, tag + "_finetuned.h5"))
            np.save(os.path.join(FIXTURE, tag + ".input.npy"), x)
            np.save(os.path.join(FIXTURE, tag + ".keras3.npy"), np.asarray(predicted, np.float32))
            entries.append({"file": tag + "_finetuned.h5", "input": tag + ".input.npy", "keras3": tag + ".keras3.npy"})
        with open(os.path.join(FIXTURE, "MANIFEST.json"), "w") as f:
            json.dump({"versions": {"tf_keras": tf_keras.__version__, "keras": keras.__version__, "numpy": np.__version__},
                       "fixtures": entries}, f, indent=1)
    shutil.rmtree(work, ignore_errors=True)
    print(f"{len(failures)} failure(s)")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
