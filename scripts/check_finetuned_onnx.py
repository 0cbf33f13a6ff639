#!/usr/bin/env python3
"""A fine-tuned model exported to ONNX predicts under onnxruntime what `ttl predict` says.

Pinned: python 3.11, onnx==1.23.2, onnxruntime==1.31.1, pillow==13.0.0, numpy==2.4.6.
    swift build -c release --product ttl
    python3 scripts/check_finetuned_onnx.py [--ttl .build/release/ttl] [--data examples/fashion-mnist]

Fine-tunes the embedded backbone for a few epochs, exports it, then classifies every validation
image twice: with `ttl predict`, and with onnxruntime fed by PIL using only the `labels` and
`preprocessing` carried in the ONNX file's metadata (what any runtime would do).
"""
import argparse
import glob
import json
import os
import subprocess
import tempfile

import numpy as np
import onnx
import onnxruntime as ort
from PIL import Image

root = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
p = argparse.ArgumentParser()
p.add_argument("--ttl", default=os.path.join(root, ".build", "release", "ttl"))
p.add_argument("--data", default=os.path.join(root, "examples", "fashion-mnist"))
p.add_argument("--epochs", default="3")
a = p.parse_args()
work = tempfile.mkdtemp()
env = dict(os.environ, TTL_HOME=os.path.join(work, "home"))
model_path = os.path.join(work, "finetuned.onnx")
subprocess.run([a.ttl, "finetune", "--data", a.data, "--epochs", a.epochs, "--output", model_path], check=True, env=env,
               stdout=subprocess.DEVNULL)

meta = {p.key: p.value for p in onnx.load(model_path, load_external_data=False).metadata_props}
labels, prep = json.loads(meta["labels"]), json.loads(meta["preprocessing"])
sess = ort.InferenceSession(model_path, providers=["CPUExecutionProvider"])
name = sess.get_inputs()[0].name


def preprocess(path):
    """What the metadata says: resize (Pillow bilinear), crop or squash, scale to 0–1, normalise."""
    img = Image.open(path).convert("RGB")
    s = prep["size"]
    if prep["resize"] == "squash":
        img = img.resize((s, s), Image.BILINEAR)
    else:
        target = round(s * 256 / 224)
        w, h = img.size
        size = (target, int(target * h / w)) if w <= h else (int(target * w / h), target)
        img = img.resize(size, Image.BILINEAR)
        left, top = int(round((size[0] - s) / 2.0)), int(round((size[1] - s) / 2.0))
        img = img.crop((left, top, left + s, top + s))
    x = np.asarray(img, np.float32) / 255
    x = (x - np.array(prep["mean"], np.float32)) / np.array(prep["std"], np.float32)
    return x.transpose(2, 0, 1)


images = sorted(glob.glob(os.path.join(a.data, "val", "*", "*.png")))
out = subprocess.run([a.ttl, "predict", model_path, *images, "--top", "1"], check=True, env=env, capture_output=True, text=True).stdout
agree, worst = 0, 0.0
for line, path in zip(out.strip().splitlines(), images):
    label, prob = line.rsplit(": ", 1)[1].rsplit(" ", 1)
    logits = sess.run(None, {name: preprocess(path)[None]})[0][0]
    probs = np.exp(logits - logits.max())
    probs /= probs.sum()
    top = int(probs.argmax())
    agree += labels[top] == label
    worst = max(worst, abs(float(prob) - float(probs[top])))
print(f"{agree}/{len(images)} top-1 labels agree between ttl predict and onnxruntime; "
      f"largest probability difference {worst:.4f} (ttl prints 3 decimals)")
