#!/usr/bin/env python3
"""onnxruntime's ResNet-18 throughput on this machine, to set beside `ttl-bench --network resnet18`.

Pinned: python 3.11, torch==2.13.0 (CPU), torchvision==0.29.2 (--no-deps; model definition only),
onnx==1.23.2, onnxruntime==1.31.1, numpy==2.4.6.
    python3 scripts/bench_onnxruntime.py [--batch 32] [--threads 2] [--repeat 5] [--model resnet18]

Exports torchvision's architecture with random weights (speed does not depend on the values)
with the TorchScript exporter to a temporary file, then times onnxruntime's CPU provider with
all graph optimizations, intra-op threads as given, best of --repeat runs after a warm-up.
"""
import argparse
import os
import resource
import sys
import tempfile
import time
import types

import numpy as np
import torch

sys.modules["torchvision._meta_registrations"] = types.ModuleType("torchvision._meta_registrations")
import torchvision  # noqa: E402
import onnxruntime as ort  # noqa: E402

p = argparse.ArgumentParser()
p.add_argument("--batch", type=int, default=32)
p.add_argument("--threads", type=int, default=2)
p.add_argument("--repeat", type=int, default=5)
p.add_argument("--model", default="resnet18")
a = p.parse_args()

model = getattr(torchvision.models, a.model)(weights=None).eval()
path = os.path.join(tempfile.mkdtemp(), a.model + ".onnx")
x = torch.randn(a.batch, 3, 224, 224)
torch.onnx.export(model, (x,), path, dynamo=False, input_names=["input"], output_names=["logits"],
                  dynamic_axes={"input": {0: "N"}, "logits": {0: "N"}})
so = ort.SessionOptions()
so.intra_op_num_threads = a.threads
so.inter_op_num_threads = 1
so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
sess = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
feed = {"input": x.numpy()}
sess.run(None, feed)
best = min((lambda t0: (sess.run(None, feed), time.perf_counter() - t0)[1])(time.perf_counter()) for _ in range(a.repeat))
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(f"onnxruntime {ort.__version__} {a.model} inference batch {a.batch}, {a.threads} threads: "
      f"{a.batch / best:.1f} images/s ({best:.3f} s/batch), peak memory {peak:.0f} MiB (whole Python process)")
