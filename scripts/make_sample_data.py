#!/usr/bin/env python3
"""Writes the sample dataset examples/fashion-mnist/: a small Fashion-MNIST subset as PNG in the
ImageFolder layout (train/<class>/ and val/<class>/), from the Debian package dataset-fashion-mnist
(Fashion-MNIST, Copyright (c) 2017 Zalando SE, MIT licence).

Pinned: python 3.11, numpy==2.4.6, pillow==13.0.0; Debian: dataset-fashion-mnist.
    apt-get install dataset-fashion-mnist
    python3 scripts/make_sample_data.py

The first 50 training images of each class (from the package's training set) and the first 20
of each class from its test set, as 28×28 grayscale PNG.
"""
import gzip
import os
import shutil

import numpy as np
from PIL import Image

SRC = "/usr/share/datasets/fashion-mnist"
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "examples", "fashion-mnist")
CLASSES = ["t-shirt", "trouser", "pullover", "dress", "coat", "sandal", "shirt", "sneaker", "bag", "ankle-boot"]


def read(kind):
    with gzip.open(os.path.join(SRC, f"{kind}-images-idx3-ubyte.gz")) as f:
        images = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 28, 28)
    with gzip.open(os.path.join(SRC, f"{kind}-labels-idx1-ubyte.gz")) as f:
        labels = np.frombuffer(f.read(), np.uint8, offset=8)
    return images, labels


for folder in ("train", "val"):
    shutil.rmtree(os.path.join(OUT, folder), ignore_errors=True)
for split, kind, count in (("train", "train", 50), ("val", "t10k", 20)):
    images, labels = read(kind)
    for c, name in enumerate(CLASSES):
        os.makedirs(os.path.join(OUT, split, name))
        for k, i in enumerate(np.flatnonzero(labels == c)[:count]):
            Image.fromarray(images[i], "L").save(os.path.join(OUT, split, name, f"{name}-{k:02d}.png"), optimize=True)
with open(os.path.join(OUT, "LICENSE"), "w") as f:
    f.write("""The images in this folder are a subset of Fashion-MNIST
(https://github.com/zalandoresearch/fashion-mnist), taken from the Debian package
dataset-fashion-mnist.

The MIT License (MIT)

Copyright (c) 2017 Zalando SE, https://tech.zalando.com

Permission is hereby granted, free of charge, to any person obtaining a copy of this software and
associated documentation files (the "Software"), to deal in the Software without restriction,
including without limitation the rights to use, copy, modify, merge, publish, distribute,
sublicense, and/or sell copies of the Software, and to permit persons to whom the Software is
furnished to do so, subject to the following conditions:

The above copyright notice and this permission notice shall be included in all copies or
substantial portions of the Software.

THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR IMPLIED, INCLUDING BUT
NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY, FITNESS FOR A PARTICULAR PURPOSE AND
NONINFRINGEMENT. IN NO EVENT SHALL THE AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM,
DAMAGES OR OTHER LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM, OUT
OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE SOFTWARE.
""")
print("wrote", os.path.normpath(OUT))
