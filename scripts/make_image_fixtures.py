#!/usr/bin/env python3
"""Writes the image fixtures: small images in every PNG/JPEG flavour ttl must read, PIL's
decoded pixels, and torchvision's preprocessing of them.

Pinned: python 3.11, pillow==13.0.0, numpy==2.4.6, torch==2.13.0 (CPU), torchvision==0.29.2
(--no-deps; its PIL-based transforms only).
    python3 scripts/make_image_fixtures.py

Tests/TTLFineTuneTests/Fixtures/images/<name>.{png,jpg} with <name>.<ext>.rgb.npy (uint8 [H, W, 3],
PIL's Image.open(f).convert("RGB")) and <name>.crop16.npy / <name>.squash16.npy (float32
[3, 16, 16]: torchvision Resize(round(16·256/224)) + CenterCrop(16), or Resize((16, 16)), then
ToTensor and Normalize with ImageNet's mean and std).
"""
import os
import shutil
import sys

import numpy as np
import PIL
from PIL import Image

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tiny_models  # noqa: E402,F401  (stubs torchvision's compiled ops)
import torch  # noqa: E402
import torchvision.transforms as T  # noqa: E402

assert PIL.__version__ == "13.0.0", PIL.__version__
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Tests", "TTLFineTuneTests", "Fixtures", "images")
shutil.rmtree(OUT, ignore_errors=True)
os.makedirs(OUT)
rng = np.random.default_rng(3)


def base(w, h):
    """A smooth gradient with noise: antialiasing mistakes and channel swaps both show."""
    y, x = np.mgrid[0:h, 0:w]
    img = np.stack([x * 255 / max(w - 1, 1), y * 255 / max(h - 1, 1), (x + y) * 127 / max(w + h - 2, 1)], -1)
    return np.clip(img + rng.normal(0, 20, img.shape), 0, 255).astype(np.uint8)


def save(name, image, pixels=True, **kw):
    path = os.path.join(OUT, name)
    image.save(path, **kw)
    rgb = Image.open(path).convert("RGB")
    stem = name
    if pixels:
        np.save(os.path.join(OUT, stem + ".rgb.npy"), np.asarray(rgb))
    norm = T.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])
    crop = T.Compose([T.Resize(round(16 * 256 / 224)), T.CenterCrop(16), T.ToTensor(), norm])(rgb)
    squash = T.Compose([T.Resize((16, 16)), T.ToTensor(), norm])(rgb)
    np.save(os.path.join(OUT, stem + ".crop16.npy"), crop.numpy().astype(np.float32))
    np.save(os.path.join(OUT, stem + ".squash16.npy"), squash.numpy().astype(np.float32))


rgb = Image.fromarray(base(37, 23))
save("rgb.png", rgb)
save("gray.png", rgb.convert("L"))
rgba = np.concatenate([base(20, 31), rng.integers(0, 256, (31, 20, 1), dtype=np.uint8)], -1)
save("rgba.png", Image.fromarray(rgba, "RGBA"))
save("palette.png", rgb.convert("P", palette=Image.Palette.ADAPTIVE, colors=16))
gray16 = (base(25, 19)[..., 0].astype(np.uint16) * 257 + rng.integers(0, 256, (19, 25))).astype(np.uint16)
save("gray16.png", Image.fromarray(gray16))  # mode I;16
# PIL clips 16-bit values to 255 when converting to RGB; ttl scales them to 8 bits (v / 257).
np.save(os.path.join(OUT, "gray16.png.scaled.npy"), np.repeat(np.round(gray16 / 257).astype(np.uint8)[..., None], 3, -1))
save("rgb.jpg", Image.fromarray(base(41, 29)), quality=92)
save("gray.jpg", Image.fromarray(base(30, 33)).convert("L"), quality=90)
save("cmyk.jpg", Image.fromarray(base(24, 18)).convert("CMYK"), quality=95)
save("large.jpg", Image.fromarray(base(640, 480)), pixels=False, quality=85)
print("wrote", len(os.listdir(OUT)), "files to", os.path.normpath(OUT))

# --- A tiny ImageFolder dataset: three colour classes, eight noisy 20×20 images each -------
DATA = os.path.join(os.path.dirname(OUT), "dataset")
shutil.rmtree(DATA, ignore_errors=True)
for label, (name, colour) in enumerate([("blue", (40, 60, 200)), ("green", (50, 180, 60)), ("red", (200, 50, 40))]):
    os.makedirs(os.path.join(DATA, name))
    for i in range(8):
        pixels = np.clip(np.array(colour)[None, None, :] + rng.normal(0, 40, (20, 20, 3)), 0, 255).astype(np.uint8)
        ext = "jpg" if i % 3 == 0 else "png"
        Image.fromarray(pixels).save(os.path.join(DATA, name, f"{name}_{i}.{ext}"))
print("wrote the dataset to", os.path.normpath(DATA))
