#!/usr/bin/env python3
"""Checks a Keras model file against an input/expected-output pair with the reference frameworks.

    python3 scripts/check_keras_export.py MODEL.h5 INPUT.npy EXPECTED.npy [--atol 1e-4]
        [--frameworks tf_keras,keras3]

Loads MODEL with tf_keras (Keras 2) `tf_keras.models.load_model(path, compile=False)` and with
Keras 3 `keras.models.load_model(path, compile=False)` (Keras 3 reads legacy full-model .h5 through
its legacy_h5_format loader; .keras zips are Keras 3 only, so tf_keras is skipped for them), runs
`model.predict` on INPUT, and compares with EXPECTED: max abs difference and, for 2-D outputs,
top-1 agreement. Prints one line per framework; exits 1 if any framework fails to load the file or
disagrees, 2 on bad arguments.

Pinned (same as scripts/make_keras_fixtures.py): tensorflow-cpu==2.21.0, tf_keras==2.21.0
(--no-deps), keras==3.15.1, h5py==3.14.0, numpy==2.4.6.
"""
import argparse
import os
import sys
import warnings

os.environ["KERAS_BACKEND"] = "tensorflow"
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.pop("TF_USE_LEGACY_KERAS", None)
warnings.filterwarnings("ignore")

import numpy as np  # noqa: E402


def compare(name, predicted, expected, atol):
    predicted = np.asarray(predicted, dtype=np.float32)
    if predicted.shape != expected.shape:
        print(f"{name}: FAIL output shape {predicted.shape}, expected {expected.shape}")
        return False
    diff = float(np.max(np.abs(predicted - expected))) if predicted.size else 0.0
    ok = diff <= atol
    top1 = ""
    if predicted.ndim == 2 and predicted.shape[1] > 1:
        agree = int(np.sum(np.argmax(predicted, 1) == np.argmax(expected, 1)))
        top1 = f", top-1 {agree}/{predicted.shape[0]} agree"
        ok = ok and agree == predicted.shape[0]
    print(f"{name}: {'OK' if ok else 'FAIL'} max abs diff {diff:.3g} (atol {atol:g}){top1}")
    return ok


def keras3_loader(keras):
    """Keras 3 load_model; for legacy .h5 written by tf_keras, retries with a DepthwiseConv2D that
    ignores the 'groups' key tf_keras puts in its config (Keras 3's DepthwiseConv2D rejects it)."""

    class DepthwiseConv2DIgnoringGroups(keras.layers.DepthwiseConv2D):
        def __init__(self, *a, groups=1, **kw):
            if groups != 1:
                raise ValueError(f"DepthwiseConv2D with groups={groups}")
            super().__init__(*a, **kw)

    def load(p):
        try:
            return keras.models.load_model(p, compile=False)
        except TypeError as e:
            if not (p.endswith(".h5") and "DepthwiseConv2D" in str(e) and "groups" in str(e)):
                raise
        model = keras.models.load_model(p, compile=False,
                                        custom_objects={"DepthwiseConv2D": DepthwiseConv2DIgnoringGroups})
        model._ttl_note = "retried with DepthwiseConv2D ignoring tf_keras's 'groups': 1"
        return model
    return load


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("model")
    parser.add_argument("input")
    parser.add_argument("expected")
    parser.add_argument("--atol", type=float, default=1e-4)
    parser.add_argument("--frameworks", default="tf_keras,keras3",
                        help="comma-separated subset of tf_keras,keras3 (default both)")
    args = parser.parse_args()
    frameworks = [f.strip() for f in args.frameworks.split(",") if f.strip()]
    unknown = set(frameworks) - {"tf_keras", "keras3"}
    if unknown or not frameworks:
        parser.error(f"unknown frameworks {sorted(unknown)}")
    for p in (args.model, args.input, args.expected):
        if not os.path.exists(p):
            parser.error(f"no such file: {p}")

    x = np.load(args.input).astype(np.float32)
    expected = np.load(args.expected).astype(np.float32)

    import tensorflow as tf
    tf.get_logger().setLevel("ERROR")
    tf.config.threading.set_intra_op_parallelism_threads(2)
    tf.config.threading.set_inter_op_parallelism_threads(1)

    all_ok = True
    for fw in frameworks:
        if fw == "tf_keras":
            import tf_keras as K
            label = f"tf_keras {K.__version__}"
            if args.model.endswith(".keras"):
                print(f"{label}: skipped (a .keras zip is a Keras 3 format)")
                continue
            load = lambda p: K.models.load_model(p, compile=False)  # noqa: E731
        else:
            import keras as K
            label = f"keras {K.__version__} ({K.backend.backend()})"
            load = keras3_loader(K)
        try:
            model = load(args.model)
        except Exception as e:  # report, don't crash: the other framework may still work
            print(f"{label}: FAIL cannot load: {type(e).__name__}: {str(e).splitlines()[0][:300]}")
            all_ok = False
            continue
        if getattr(model, "_ttl_note", None):
            label += f" [{model._ttl_note}]"
        predicted = model.predict(x, verbose=0)
        all_ok = compare(label, predicted, expected, args.atol) and all_ok
    return 0 if all_ok else 1


if __name__ == "__main__":
    sys.exit(main())
