#!/usr/bin/env python3
"""Import -> export -> onnxruntime: every ONNX backend node case ttl runs
(Tests/TTLONNXTests/Fixtures/onnx-backend/node, scripts/make_onnx_node_fixtures.py) and every
operator fixture (Fixtures/ops, scripts/make_onnx_op_fixtures.py) is exported by the ttl CLI
(`ttl export MODEL --output X.onnx`), checked by onnx.checker and run by onnxruntime on the
case's inputs. The exported file must mean to onnxruntime what the original means to it:
outputs equal within 1e-5 * max(1, |ref|) (onnxruntime on the original; the case's expected
output where onnxruntime cannot load the original). The in-suite half of this check is
ONNXBackendTests.testNodeCases (export -> ttl import gives bit-identical outputs).

Pinned: python 3.11, onnx==1.23.2, onnxruntime==1.31.1, numpy==2.4.6.
    swift build -c release && python3 scripts/check_exported_onnx.py [--ttl .build/release/ttl]
"""
import argparse
import glob
import os
import subprocess
import sys
import tempfile

import numpy as np
import onnx
import onnxruntime as ort
from onnx import numpy_helper

assert onnx.__version__ == "1.23.2", onnx.__version__
assert ort.__version__ == "1.31.1", ort.__version__
assert np.__version__ == "2.4.6", np.__version__

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
FIXTURES = os.path.join(ROOT, "Tests", "TTLONNXTests", "Fixtures")


def session(model):
    if model.ir_version > 10:  # onnxruntime 1.31 reads IR <= 10 for these opsets
        model.ir_version = 10
    return ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])


def cases():
    for folder in sorted(glob.glob(os.path.join(FIXTURES, "onnx-backend", "node", "test_*"))):
        data = os.path.join(folder, "test_data_set_0")
        load = lambda kind: [numpy_helper.to_array(onnx.load_tensor(p))
                             for p in sorted(glob.glob(os.path.join(data, f"{kind}_*.pb")))]
        yield os.path.basename(folder), os.path.join(folder, "model.onnx"), load("input"), load("output")
    for folder in sorted(glob.glob(os.path.join(FIXTURES, "ops", "*"))):
        yield ("ops/" + os.path.basename(folder), os.path.join(folder, "model.onnx"),
               [np.load(os.path.join(folder, "input.npy"))], [np.load(os.path.join(folder, "output.npy"))])


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--ttl", default=os.path.join(ROOT, ".build", "release", "ttl"))
    args = parser.parse_args()
    failures, checked = [], 0
    with tempfile.TemporaryDirectory() as tmp:
        env = dict(os.environ, TTL_HOME=os.path.join(tmp, "home"))
        for name, path, inputs, expected in cases():
            out = os.path.join(tmp, "exported.onnx")
            r = subprocess.run([args.ttl, "export", path, "--output", out], capture_output=True, text=True, env=env)
            if r.returncode != 0:
                failures.append(f"{name}: ttl export failed: {r.stderr.strip()}")
                continue
            exported = onnx.load(out)
            try:
                onnx.checker.check_model(exported)
                got = session(exported).run(None, dict(zip([i.name for i in exported.graph.input], inputs)))
            except Exception as e:  # noqa: BLE001 - reported, not raised
                failures.append(f"{name}: onnxruntime on the exported file: {str(e).splitlines()[0][:200]}")
                continue
            try:
                original = onnx.load(path)
                sess = session(original)
                feeds = [i.name for i in sess.get_inputs()]
                ref, what = sess.run(None, dict(zip(feeds, inputs))), "onnxruntime on the original"
            except Exception:  # noqa: BLE001 - onnxruntime refuses some reference cases
                ref, what = expected, "the expected output"
            for k, (a, b) in enumerate(zip(got, ref)):
                b = np.asarray(b, dtype=np.float32)
                if a.shape != b.shape:
                    failures.append(f"{name} output {k}: shape {a.shape}, {what} {b.shape}")
                    continue
                finite = np.isfinite(b)
                scale = max(1.0, float(np.abs(b[finite]).max()) if finite.any() else 0.0)
                err = float(np.abs(a[finite] - b[finite]).max()) if finite.any() else 0.0
                if err > 1e-5 * scale or not np.array_equal(np.isnan(a), np.isnan(b)):
                    failures.append(f"{name} output {k}: max error {err:.3g} against {what}")
            checked += 1
    print(f"{checked} exported models checked in onnxruntime, {len(failures)} failures")
    for f in failures:
        print("  " + f)
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
