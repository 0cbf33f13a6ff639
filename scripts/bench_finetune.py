#!/usr/bin/env python3
"""Fine-tuning speed, whole jobs side by side: 500 images at 224×224, ResNet-18 backbone frozen,
10 epochs, 2 threads (decode, backbone, head, evaluation all counted).

  1. the PyTorch transfer-learning tutorial loop (torchvision transforms, DataLoader, the frozen
     backbone run every epoch);
  2. PyTorch with cached features (backbone once, then the head on the features);
  3. `ttl finetune` (backbone once through its feature cache, which starts empty), and again
     with the cache warm.
Then feature extraction end to end (`ttl features`: decode + resize + backbone, empty cache)
against the backbone alone (`ttl bench`, batch 32, the same process kind), for ResNet-18 and
the embedded EfficientNet-Lite0, and the fine-tune of `make demo` (`ttl finetune` on
examples/fashion-mnist, 15 epochs, empty cache). Everything prints on one table at the end.

Pinned: python 3.11, torch==2.13.0 (CPU), torchvision==0.29.2 (--no-deps), pillow==13.0.0,
numpy==2.4.6.
    swift build -c release --product ttl
    python3 scripts/bench_finetune.py [--ttl .build/release/ttl] [--skip-pytorch]

The images are Fashion-MNIST pictures from examples/ upscaled to 224×224 JPEGs (400 training,
100 validation, 10 classes); the backbone is torchvision's ResNet-18 with random weights
(speed does not depend on them), exported to ONNX for ttl.
"""
import argparse
import glob
import json
import os
import re
import subprocess
import sys
import tempfile
import time

import numpy as np
import torch
from PIL import Image

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tiny_models  # noqa: E402,F401  (stubs torchvision's compiled ops)
import torchvision  # noqa: E402
import torchvision.transforms as T  # noqa: E402

from machine import cpu_name, load_average  # scripts/machine.py

root = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
p = argparse.ArgumentParser()
p.add_argument("--ttl", default=os.path.join(root, ".build", "release", "ttl"))
p.add_argument("--skip-pytorch", action="store_true", help="only ttl's figures (feature extraction, the demo)")
a = p.parse_args()
torch.set_num_threads(2)
work = tempfile.mkdtemp()
data = os.path.join(work, "data")
for split, per_class in (("train", 40), ("val", 10)):
    for folder in sorted(glob.glob(os.path.join(root, "examples", "fashion-mnist", "train", "*"))):
        cls = os.path.basename(folder)
        os.makedirs(os.path.join(data, split, cls))
        files = sorted(glob.glob(os.path.join(folder, "*.png")))
        files = files[:per_class] if split == "train" else files[40:40 + per_class]
        for f in files:
            Image.open(f).convert("RGB").resize((224, 224), Image.BILINEAR).save(
                os.path.join(data, split, cls, os.path.basename(f)[:-4] + ".jpg"), quality=90)

model = torchvision.models.resnet18(weights=None).eval()
onnx_path = os.path.join(work, "resnet18.onnx")
torch.onnx.export(model, (torch.randn(1, 3, 224, 224),), onnx_path, dynamo=False, input_names=["input"],
                  output_names=["logits"], dynamic_axes={"input": {0: "N"}, "logits": {0: "N"}})
tf = T.Compose([T.Resize(256), T.CenterCrop(224), T.ToTensor(), T.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])])
train_set = torchvision.datasets.ImageFolder(os.path.join(data, "train"), tf)
val_set = torchvision.datasets.ImageFolder(os.path.join(data, "val"), tf)


def tutorial():
    """The tutorial's loop: frozen backbone, new fc, SGD, the backbone run every epoch."""
    net = torchvision.models.resnet18(weights=None)
    for q in net.parameters():
        q.requires_grad = False
    net.fc = torch.nn.Linear(512, 10)
    opt = torch.optim.SGD(net.fc.parameters(), lr=1e-3, momentum=0.9)
    loss_fn = torch.nn.CrossEntropyLoss()
    loaders = {s: torch.utils.data.DataLoader(d, batch_size=32, shuffle=s == "train", num_workers=0)
               for s, d in (("train", train_set), ("val", val_set))}
    for _ in range(10):
        net.train()
        for x, y in loaders["train"]:
            opt.zero_grad()
            loss_fn(net(x), y).backward()
            opt.step()
        net.eval()
        with torch.no_grad():
            for x, y in loaders["val"]:
                net(x)


def cached():
    """Backbone once per image, then 10 epochs of the head on the features."""
    net = torchvision.models.resnet18(weights=None).eval()
    net.fc = torch.nn.Identity()
    feats = {}
    with torch.no_grad():
        for s, d in (("train", train_set), ("val", val_set)):
            xs, ys = [], []
            for x, y in torch.utils.data.DataLoader(d, batch_size=32):
                xs.append(net(x))
                ys.append(y)
            feats[s] = (torch.cat(xs), torch.cat(ys))
    head = torch.nn.Linear(512, 10)
    opt = torch.optim.SGD(head.parameters(), lr=1e-3, momentum=0.9)
    x, y = feats["train"]
    for _ in range(10):
        for i in torch.randperm(len(y)).split(32):
            opt.zero_grad()
            torch.nn.functional.cross_entropy(head(x[i]), y[i]).backward()
            opt.step()
        with torch.no_grad():
            head(feats["val"][0])


def timed(fn):
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


env = dict(os.environ, TTL_HOME=os.path.join(work, "home"), TTL_NUM_THREADS="2")
def ttl():
    subprocess.run([a.ttl, "finetune", "--data", data, "--model", onnx_path, "--epochs", "10", "--optimizer", "sgd",
                    "--output", "bench"], check=True, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def features_end_to_end(model):
    """images/s of `ttl features` on the 500 images (empty cache: decode, resize, backbone, cache
    writes, the plan and the first run included), and of `ttl bench` batch 32 on the model."""
    cache = tempfile.mkdtemp(dir=work)
    out = subprocess.run([a.ttl, "features", "--data", data, "--model", model, "--cache", cache], check=True, env=env,
                         capture_output=True, text=True).stdout
    m = re.search(r"(\d+) computed, \d+ already cached in ([0-9.]+) s", out)
    if not m:
        sys.exit(f"unexpected output of ttl features: {out}")
    e2e = int(m.group(1)) / float(m.group(2))
    bench = subprocess.run([a.ttl, "bench", model, "--batch", "32", "--threads", "2", "--repeats", "5", "--json"], check=True, env=env,
                           capture_output=True, text=True).stdout
    alone = json.loads(bench.strip().splitlines()[-1])["images_per_second"]
    return e2e, alone


def demo():
    """`make demo`'s fine-tune (15 epochs on examples/fashion-mnist), its own empty store."""
    demo_env = dict(env, TTL_HOME=tempfile.mkdtemp(dir=work))
    t0 = time.perf_counter()
    subprocess.run([a.ttl, "finetune", "--data", os.path.join(root, "examples", "fashion-mnist"), "--epochs", "15", "--output", "fashion-demo"],
                   check=True, env=demo_env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - t0


print(f"CPU: {cpu_name()}; 2 threads; load average {load_average()} at the start", flush=True)
lite0 = os.path.join(root, "weights", "efficientnet-lite0.onnx")
rows = []
if not a.skip_pytorch:
    t_tutorial = timed(tutorial)
    t_cached = timed(cached)
t_ttl = timed(ttl)
t_ttl_warm = timed(ttl)
if not a.skip_pytorch:
    print(f"500 images at 224, ResNet-18 frozen, 10 epochs, 2 threads: PyTorch tutorial loop {t_tutorial:.1f} s, "
          f"PyTorch with cached features {t_cached:.1f} s, ttl {t_ttl:.1f} s (cache warm: {t_ttl_warm:.1f} s); "
          f"ttl is {t_tutorial / t_ttl:.1f}x faster than the tutorial loop and {t_cached / t_ttl:.2f}x the speed of cached PyTorch",
          flush=True)
    rows += [("ttl finetune vs the PyTorch tutorial loop (target >= 10)", f"{t_ttl:.1f} s vs {t_tutorial:.1f} s", t_tutorial / t_ttl),
             ("ttl finetune vs PyTorch with cached features (target >= 2)", f"{t_ttl:.1f} s vs {t_cached:.1f} s", t_cached / t_ttl)]
else:
    print(f"ttl finetune, 500 images, ResNet-18 frozen, 10 epochs: {t_ttl:.1f} s (cache warm: {t_ttl_warm:.1f} s)", flush=True)
for name, model in (("ResNet-18", onnx_path), ("EfficientNet-Lite0", lite0)):
    e2e, alone = features_end_to_end(model)
    print(f"feature extraction, {name}: end to end {e2e:.1f} images/s, backbone alone {alone:.1f} images/s, ratio {e2e / alone:.2f}",
          flush=True)
    rows.append((f"features end to end / backbone alone, {name} (target >= 0.8)", f"{e2e:.1f} vs {alone:.1f} images/s", e2e / alone))
t_demo = demo()
print(f"make demo's fine-tune (ttl finetune, examples/fashion-mnist, 15 epochs, empty cache): {t_demo:.1f} s", flush=True)
rows.append(("make demo's fine-tune, seconds (target < 10)", f"{t_demo:.1f} s", t_demo))

print()
print(f"Measured on {cpu_name()}, 2 threads, load average {load_average()} at the end")
print()
print("| what | figures | ratio |")
print("|---|---|---|")
for what, figures, ratio in rows:
    print(f"| {what} | {figures} | {ratio:.2f} |")
