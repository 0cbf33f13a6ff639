#!/usr/bin/env python3
"""Full-size ONNX check, outside `make test`: torchvision ResNet-18 and ResNet-50 at 224×224,
exported by both PyTorch exporters, run by onnxruntime and by `ttl run`, compared.
Also times `ttl import` and `ttl run` (whole processes, peak memory from /usr/bin/time).
With --torchvision, every torchvision CNN family instead, at its full size (224×224; 299×299
for Inception v3), exported by both exporters, run by `ttl run` on both engines (oneDNN and
TTL_ENGINE=reference) next to onnxruntime; takes about 30 minutes on 2 cores.

Pinned: python 3.11, torch==2.13.0 (CPU), torchvision==0.29.2 (--no-deps; definitions only),
onnx==1.23.2, onnxruntime==1.31.1, onnxscript==0.7.2, numpy==2.4.6.
    swift build -c release --product ttl
    python3 scripts/check_full_size_onnx.py [--ttl .build/release/ttl] [--torchvision [--only NAME ...]]

No weights can be downloaded here, so the models carry torchvision's random initialisation
with batch-norm statistics randomised (values do not change what is being checked: import,
every operator, and numerics at full size).
"""
import argparse
import os
import subprocess
import sys
import tempfile
import time

import numpy as np
import onnxruntime as ort
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tiny_models import randomise_batch_norms  # noqa: E402  (also stubs torchvision's compiled ops)
import torchvision  # noqa: E402

p = argparse.ArgumentParser()
p.add_argument("--ttl", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".build", "release", "ttl"))
p.add_argument("--torchvision", action="store_true", help="every torchvision family instead of ResNet-18/50")
p.add_argument("--only", nargs="*", default=None, help="with --torchvision: these constructors only (e.g. alexnet convnext_tiny)")
p.add_argument("--more", action="store_true", help="with --torchvision: the other members of each family (MORE), several hours on 2 cores")
a = p.parse_args()
work = tempfile.mkdtemp()
env = dict(os.environ, TTL_HOME=os.path.join(work, "home"))


def timed(cmd):
    """Runs a command under /usr/bin/time -v; returns (wall seconds, peak MiB, stdout)."""
    r = subprocess.run(["/usr/bin/time", "-v"] + cmd, capture_output=True, text=True, env=env)
    if r.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed: {r.stderr[-2000:]}")
    fields = dict(line.strip().split(": ", 1) for line in r.stderr.splitlines() if ": " in line)
    wall = fields["Elapsed (wall clock) time (h:mm:ss or m:ss)"].split(":")
    seconds = float(wall[-1]) + 60 * float(wall[-2])
    return seconds, int(fields["Maximum resident set size (kbytes)"]) / 1024, r.stdout


# (constructor, keyword arguments, input size): GoogLeNet and Inception v3 with the
# `transform_input` of their pretrained weights (a Gather of each input channel).
FAMILIES = [
    ("alexnet", {}, 224), ("vgg11", {}, 224), ("vgg16_bn", {}, 224),
    ("googlenet", {"transform_input": True, "aux_logits": False, "init_weights": False}, 224),
    ("inception_v3", {"transform_input": True, "aux_logits": False, "init_weights": False}, 299),
    ("resnext50_32x4d", {}, 224), ("wide_resnet50_2", {}, 224), ("squeezenet1_0", {}, 224), ("squeezenet1_1", {}, 224),
    ("shufflenet_v2_x1_0", {}, 224), ("densenet121", {}, 224), ("mobilenet_v2", {}, 224), ("mobilenet_v3_small", {}, 224),
    ("mobilenet_v3_large", {}, 224), ("mnasnet1_0", {}, 224), ("efficientnet_b0", {}, 224), ("efficientnet_v2_s", {}, 224),
    ("regnet_x_400mf", {}, 224), ("regnet_y_400mf", {}, 224), ("convnext_tiny", {}, 224),
]
# The members of the families above not individually listed (same operators, other depths,
# widths and resolutions' worth of blocks): with --more.
MORE = [
    ("vgg13", {}, 224), ("vgg16", {}, 224), ("vgg19", {}, 224), ("vgg11_bn", {}, 224), ("vgg13_bn", {}, 224), ("vgg19_bn", {}, 224),
    ("densenet169", {}, 224), ("densenet201", {}, 224), ("densenet161", {}, 224),
    ("efficientnet_b1", {}, 240), ("efficientnet_b2", {}, 260), ("efficientnet_b3", {}, 300), ("efficientnet_b4", {}, 380),
    ("efficientnet_b5", {}, 456), ("efficientnet_b6", {}, 528), ("efficientnet_b7", {}, 600),
    ("efficientnet_v2_m", {}, 224), ("efficientnet_v2_l", {}, 224),
    ("regnet_x_800mf", {}, 224), ("regnet_y_800mf", {}, 224), ("regnet_x_1_6gf", {}, 224), ("regnet_y_1_6gf", {}, 224),
    ("convnext_small", {}, 224),
]
# Models ttl refuses, by (constructor, exporter): none since ConvNeXt's dynamo export (its
# identity `as_strided`, a Gather at indices computed from the batch size) imports.
REFUSED = set()


def torchvision_families():
    failures = 0
    for arch, kwargs, size in (MORE if a.more else FAMILIES):
        if a.only and arch not in a.only:
            continue
        torch.manual_seed(0)
        model = getattr(torchvision.models, arch)(weights=None, **kwargs).eval()
        randomise_batch_norms(model)
        x = np.random.default_rng(0).normal(0, 1, (2, 3, size, size)).astype(np.float32)
        for exporter in ["torchscript", "dynamo"]:
            folder = os.path.join(work, f"{arch}-{exporter}")
            os.makedirs(folder)
            path = os.path.join(folder, "model.onnx")
            try:
                if exporter == "torchscript":
                    torch.onnx.export(model, (torch.from_numpy(x),), path, dynamo=False, opset_version=17, input_names=["input"],
                                      output_names=["logits"], dynamic_axes={"input": {0: "N"}, "logits": {0: "N"}})
                else:
                    prog = torch.onnx.export(model, (torch.from_numpy(x),), dynamo=True, input_names=["input"], output_names=["logits"],
                                             dynamic_shapes=({0: torch.export.Dim("N")},))
                    prog.save(path, external_data=True)
            except Exception as e:  # an exporter failing is PyTorch's limit, not ttl's
                print(f"{arch} {exporter:11s}: PyTorch's exporter failed ({type(e).__name__}); skipped")
                continue
            ref = ort.InferenceSession(path, providers=["CPUExecutionProvider"]).run(None, {"input": x})[0]
            np.save(os.path.join(folder, "x.npy"), x)
            results = []
            for engine in ["onednn", "reference"]:
                out = os.path.join(folder, f"y-{engine}.npy")
                r = subprocess.run([a.ttl, "run", path, "--input", os.path.join(folder, "x.npy"), "--output", out],
                                   capture_output=True, text=True, env=dict(env, TTL_ENGINE=engine))
                if r.returncode != 0:
                    results.append(f"{engine}: refused: {r.stderr.strip().splitlines()[-1] if r.stderr.strip() else r.returncode}")
                    ok = (arch, exporter) in REFUSED
                    failures += 0 if ok else 1
                    continue
                y = np.load(out)
                err = float(np.abs(y - ref).max())
                bound = 1e-5 * max(1.0, float(np.abs(ref).max()))
                top1 = bool((y.argmax(1) == ref.argmax(1)).all())
                ok = err <= bound and top1
                failures += 0 if ok else 1
                results.append(f"{engine}: max |ttl - ort| {err:.1e} (bound {bound:.1e}), top-1 equal {top1}: {'ok' if ok else 'FAIL'}")
            print(f"{arch} {exporter:11s} {'; '.join(results)}", flush=True)
    raise SystemExit(1 if failures else 0)


if a.torchvision:
    torchvision_families()

torch.manual_seed(0)
x1 = np.random.default_rng(0).normal(0, 1, (1, 3, 224, 224)).astype(np.float32)
x8 = np.random.default_rng(1).normal(0, 1, (8, 3, 224, 224)).astype(np.float32)
for arch in ["resnet18", "resnet50"]:
    model = getattr(torchvision.models, arch)(weights=None).eval()
    randomise_batch_norms(model)
    for exporter in ["torchscript", "dynamo"]:
        folder = os.path.join(work, f"{arch}-{exporter}")
        os.makedirs(folder)
        path = os.path.join(folder, "model.onnx")
        if exporter == "torchscript":
            torch.onnx.export(model, (torch.from_numpy(x1),), path, dynamo=False, input_names=["input"], output_names=["logits"],
                              dynamic_axes={"input": {0: "N"}, "logits": {0: "N"}})
        else:
            prog = torch.onnx.export(model, (torch.from_numpy(x1),), dynamo=True, input_names=["input"], output_names=["logits"],
                                     dynamic_shapes=({0: torch.export.Dim("N")},))
            prog.save(path, external_data=True)
        size = sum(os.path.getsize(os.path.join(folder, f)) for f in os.listdir(folder)) / 1e6
        sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
        ref = sess.run(None, {"input": x8})[0]
        np.save(os.path.join(folder, "x.npy"), x8)
        t_import, m_import, _ = timed([a.ttl, "import", path, "--name", f"{arch}-{exporter}"])
        t_run, m_run, _ = timed([a.ttl, "run", path, "--input", os.path.join(folder, "x.npy"), "--output", os.path.join(folder, "y.npy")])
        y = np.load(os.path.join(folder, "y.npy"))
        err = float(np.abs(y - ref).max())
        bound = 1e-4 * max(1.0, float(np.abs(ref).max()))
        top1 = bool((y.argmax(1) == ref.argmax(1)).all())
        status = "ok" if err <= bound and top1 else "FAIL"
        print(f"{arch} {exporter:11s} {size:6.1f} MB: max |ttl - ort| {err:.2e} (bound {bound:.2e}), top-1 equal {top1}: {status}; "
              f"ttl import {t_import:.2f} s, {m_import:.0f} MiB peak; ttl run (batch 8, whole process) {t_run:.2f} s")

# Batch 1, whole process, ResNet-18: ttl run next to onnxruntime's Python process.
folder = os.path.join(work, "resnet18-torchscript")
np.save(os.path.join(folder, "x1.npy"), x1)
script = ("import numpy as np, onnxruntime as ort; s = ort.InferenceSession(%r, providers=['CPUExecutionProvider']); "
          "np.save(%r, s.run(None, {'input': np.load(%r)})[0])" % (os.path.join(folder, "model.onnx"), os.path.join(folder, "o1.npy"), os.path.join(folder, "x1.npy")))
t_ort, m_ort, _ = timed([sys.executable, "-c", script])
t_ttl, m_ttl, _ = timed([a.ttl, "run", "resnet18-torchscript", "--input", os.path.join(folder, "x1.npy"), "--output", os.path.join(folder, "y1.npy")])
print(f"resnet18 batch 1, whole process: ttl run {t_ttl:.2f} s ({m_ttl:.0f} MiB), onnxruntime python {t_ort:.2f} s ({m_ort:.0f} MiB)")
