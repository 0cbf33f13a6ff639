#!/usr/bin/env python3
"""Writes the ONNX backend *node* test cases that apply to ttl into
Tests/TTLONNXTests/Fixtures/onnx-backend/node/, for ONNXBackendTests.testNodeCases.

The onnx wheel does not ship onnx/backend/test/data/node/; its cases are generated here from the
package's own case definitions (onnx.backend.test.case.node, whose expected outputs are the
package's numpy reference implementations), exactly as `backend-test-tools generate-data` does.

Selection (by operator type, then by what a ttl model can be):
  * a case is selected when every operator type of its graph is one that ttl imports: the types
    registered in Sources/TTLONNX/Nodes/*.swift (`onnxTypes = [...]`), read by this script, so the
    selection follows the registry;
  * excluded, with the reason written to node/cases.json:
      - "not float32": an input or output that is an integer, bool, string, float16, bfloat16,
        double or 8/4/2-bit float tensor (ttl computes in float32 only; a float16 or double
        reference carries that type's rounding) or a sequence/optional (ttl has tensors only);
      - "training mode": Dropout or BatchNormalization cases of training mode (random masks,
        running-statistics outputs: ttl imports inference graphs);
      - "empty tensor": a dimension of size 0 (ttl's activations have no empty dimension);
      - "3-D window": Conv of 3-D data, NCDHW (ttl's windows are 2-D; 1-D ones run as 2-D over a
        unit H axis, 3-D pooling as two 2-D poolings: it imports image classifiers).
  * graph inputs that stand for what a trained model stores as initializers (weights, biases,
    BN statistics, slopes, clip bounds, pad values, and shape-like integer operands: axes, pads,
    starts/ends/steps, split sizes, Reshape targets) are turned into initializers holding the
    data set's value, because ttl, like every ahead-of-time converter, needs them at import;
    so are all int32/int64 graph inputs (in the expanded function cases, shape operands).
    Each such case records which inputs were folded in cases.json.

Pinned: python 3.11, onnx==1.23.2, numpy==2.4.6.
    pip install onnx==1.23.2 numpy==2.4.6
    python3 scripts/make_onnx_node_fixtures.py
"""
import glob
import json
import os
import re
import shutil
import warnings

import numpy as np
import onnx
from onnx import TensorProto, numpy_helper

assert onnx.__version__ == "1.23.2", onnx.__version__
assert np.__version__ == "2.4.6", np.__version__

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "Tests", "TTLONNXTests", "Fixtures", "onnx-backend", "node")

# The operator types ttl registers (one mapping file per operator in Sources/TTLONNX/Nodes).
SUPPORTED = set()
for path in glob.glob(os.path.join(HERE, "..", "Sources", "TTLONNX", "Nodes", "*.swift")):
    for m in re.finditer(r"onnxTypes\s*=\s*\[([^\]]*)\]", open(path).read()):
        SUPPORTED |= set(re.findall(r'"(\w+)"', m.group(1)))

# Inputs (by index) that a trained model holds as initializers: turned into initializers.
FOLDED = {
    "BatchNormalization": [1, 2, 3, 4], "InstanceNormalization": [1, 2], "LayerNormalization": [1, 2],
    "Conv": [1, 2], "Gemm": [1, 2], "PRelu": [1], "Clip": [1, 2], "Dropout": [1, 2], "Pad": [1, 2, 3],
    "Reshape": [1], "Slice": [1, 2, 3, 4], "Split": [1], "Squeeze": [1], "Unsqueeze": [1],
    "ReduceMean": [1], "ReduceSum": [1], "ReduceMax": [1], "ReduceMin": [1], "Resize": [1, 2, 3],
    "ConstantOfShape": [0], "Gather": [1], "Expand": [1], "Tile": [1], "Range": [0, 1, 2], "Upsample": [1],
}
FLOAT = TensorProto.FLOAT
INTEGER = {TensorProto.INT64, TensorProto.INT32}


def elem_type(value_info):
    t = value_info.type
    return t.tensor_type.elem_type if t.HasField("tensor_type") else None


def main():
    np.random.seed(0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from onnx.backend.test.case import node as node_cases
        cases = node_cases.collect_testcases(None)
    shutil.rmtree(OUT, ignore_errors=True)
    os.makedirs(OUT)
    manifest = {"onnx": onnx.__version__, "supported_types": sorted(SUPPORTED), "cases": {}, "excluded": {},
                "notes": "Written by scripts/make_onnx_node_fixtures.py from the onnx package's node test case definitions "
                         "(Apache-2.0, see ../LICENSE); folded_inputs were graph inputs made initializers."}
    total_bytes = 0
    for case in sorted(cases, key=lambda c: c.name):
        model = onnx.ModelProto()
        model.CopyFrom(case.model)
        graph = model.graph
        ops = sorted({n.op_type for n in graph.node})
        if any(n.domain not in ("", "ai.onnx") for n in graph.node) or not set(ops) <= SUPPORTED:
            continue
        inputs, outputs = case.data_sets[0]
        if len(case.data_sets) != 1:
            manifest["excluded"][case.name] = "several data sets"
            continue
        if "training" in case.name or any(n.op_type == "Dropout" and len(n.input) > 2 and n.input[2] for n in graph.node) \
                or any(n.op_type == "BatchNormalization" and len(n.output) > 1 for n in graph.node):
            manifest["excluded"][case.name] = "training mode"
            continue
        values = dict(zip([i.name for i in graph.input], inputs))
        fold = []
        for n in graph.node:
            for k in FOLDED.get(n.op_type, []):
                if k < len(n.input) and n.input[k] in values and n.input[k] not in fold:
                    fold.append(n.input[k])
        for i in graph.input:  # integer inputs are shape-like operands (axes, pads, sizes, indices)
            if i.name not in fold and elem_type(i) in INTEGER:
                fold.append(i.name)
        if not all(isinstance(v, (np.ndarray, np.generic)) for v in list(inputs) + list(outputs)):
            manifest["excluded"][case.name] = "not float32"
            continue
        kept = [i for i in graph.input if i.name not in fold]
        if any(elem_type(i) != FLOAT for i in kept) or any(elem_type(o) != FLOAT for o in graph.output) \
                or any(np.asarray(v).dtype != np.float32 for v in outputs):
            manifest["excluded"][case.name] = "not float32"
            continue
        if any(0 in np.asarray(v).shape for v in list(inputs) + list(outputs)):
            manifest["excluded"][case.name] = "empty tensor"
            continue
        ranks = {i.name: len(i.type.tensor_type.shape.dim) for i in graph.input}
        if any(n.op_type == "Conv" and ranks.get(n.input[0], 4) not in (3, 4) for n in graph.node):
            manifest["excluded"][case.name] = "3-D window"
            continue
        for name in fold:
            graph.initializer.append(numpy_helper.from_array(np.asarray(values[name]), name))
        del graph.input[:]
        graph.input.extend(kept)
        folder = os.path.join(OUT, case.name)
        data = os.path.join(folder, "test_data_set_0")
        os.makedirs(data)
        onnx.save(model, os.path.join(folder, "model.onnx"))
        feeds = [values[i.name] for i in kept]
        for kind, vals, infos in (("input", feeds, kept), ("output", outputs, graph.output)):
            for j, (v, info) in enumerate(zip(vals, infos)):
                with open(os.path.join(data, f"{kind}_{j}.pb"), "wb") as f:
                    f.write(numpy_helper.from_array(np.asarray(v), info.name).SerializeToString())
        total_bytes += sum(os.path.getsize(p) for p in glob.glob(os.path.join(folder, "**", "*"), recursive=True) if os.path.isfile(p))
        manifest["cases"][case.name] = {"ops": ops, "folded_inputs": fold} if fold else {"ops": ops}
    with open(os.path.join(OUT, "cases.json"), "w") as f:
        json.dump(manifest, f, indent=1, sort_keys=True)
    print(f"{len(manifest['cases'])} node cases written ({total_bytes / 1e6:.2f} MB), {len(manifest['excluded'])} excluded")


if __name__ == "__main__":
    main()
