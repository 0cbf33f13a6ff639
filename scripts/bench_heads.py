#!/usr/bin/env python3
"""The default head against a plain PyTorch linear probe, on the same cached features and the
same train/val/test splits: test accuracy and wall time.

  (a) `ttl finetune` with its defaults (`--head adam`: the probe's Adam path for 30 epochs on
      train/, the epoch count with the lowest val/ loss chosen, then trained again from the same
      start for that many epochs on train/ + val/), its features from the feature cache, which
      `ttl features` filled once beforehand;
  (b) `ttl finetune --head lbfgs` (the default before: L-BFGS on standardised features, the L2
      penalty chosen on val/ loss, trained on train/ only), for reference;
  (c) PyTorch: nn.Linear on the same features (read from ttl's cache), Adam 1e-3, constant
      rate, 10 epochs, batch 32, shuffled, trained on train/ only, the last epoch kept.

Test accuracy is the exported head (the ONNX file's last Gemm) on the test images' cached
features, which is what `ttl predict` computes; no side ever sees a test image. Wall times: (a)
and (b) are whole `ttl finetune` processes (reading the cache, fitting, writing a 14 MB ONNX file); (c) is the training loop alone
(features already in memory, `import torch` not counted) and, separately, a whole Python process
that imports torch, reads the features from a .npy file and trains. PyTorch runs with 2 threads,
ttl's head with 1 BLAS thread (so that its bits do not depend on the core count).

Data (made here, in a temporary folder): Fashion-MNIST from Debian's dataset-fashion-mnist
(/usr/share/datasets/fashion-mnist, 28×28 PNGs) and scikit-learn's 8×8 digits (as 8×8 PNGs),
each split several ways (classes, images per class) with several seeds; the backbone is the
embedded EfficientNet-Lite0 at its own preprocessing (the images are upscaled by it).

Pinned: python 3.11, torch==2.13.0 (CPU), scikit-learn==1.9.1, numpy==2.4.6, onnx==1.23.2, pillow==13.0.0.
    swift build -c release --product ttl
    python3 scripts/bench_heads.py [--ttl .build/release/ttl] [--quick | --seeds N] [--work DIR]

One command, 15 to 20 minutes on a quiet 2-core machine (six seeds per split by default; the features of 7,797 images first:
--work DIR keeps them for the next run). ttl's "fit" is the sum of its epochs' times as it
reports them, reading the 2,500 to 6,000 cached feature files included.
"""
import argparse
import gzip
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import time

import numpy as np

from machine import cpu_name  # scripts/machine.py

root = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
FASHION = "/usr/share/datasets/fashion-mnist"
FASHION_CLASSES = ["t-shirt", "trouser", "pullover", "dress", "coat", "sandal", "shirt", "sneaker", "bag", "ankle-boot"]


def fnv1a(data):
    """ttl's image key (FeatureExtractor.imageKey): 64-bit FNV-1a of the file's bytes, lowercase hex."""
    h = 0xCBF29CE484222325
    for b in data:
        h = ((h ^ b) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return format(h, "x")


_keys = {}


def read_cached(cache, path):
    """One image's features from ttl's cache (FeatureCache.swift: "TTLF", UInt32 count, UInt64
    FNV-1a of the features, then little-endian float32), keyed by the file's bytes."""
    backbones = [d for d in os.listdir(cache) if not d.startswith(".")]
    assert len(backbones) == 1, backbones
    inode = os.stat(path).st_ino  # the splits are hard links into the pools: hash each file once
    if inode not in _keys:
        with open(path, "rb") as fh:
            _keys[inode] = fnv1a(fh.read())
    key = _keys[inode]
    with open(os.path.join(cache, backbones[0], key + ".f32"), "rb") as fh:
        raw = fh.read()
    assert raw[:4] == b"TTLF"
    (count,) = struct.unpack("<I", raw[4:8])
    return np.frombuffer(raw[16:], dtype="<f4", count=count)


def idx(path):
    with gzip.open(path, "rb") as fh:
        raw = fh.read()
    magic, n = struct.unpack(">II", raw[:8])
    if magic == 2049:
        return np.frombuffer(raw, np.uint8, offset=8)
    rows, cols = struct.unpack(">II", raw[8:16])
    return np.frombuffer(raw, np.uint8, offset=16).reshape(n, rows, cols)


def write_pool(folder, images, labels, classes, per_class):
    """The first `per_class` images of each class as PNG files: {class: [paths]}."""
    from PIL import Image
    pool = {}
    for k, name in enumerate(classes):
        os.makedirs(os.path.join(folder, name))
        picks = np.flatnonzero(labels == k)[:per_class]
        pool[name] = []
        for i in picks:
            p = os.path.join(folder, name, "%05d.png" % i)
            Image.fromarray(images[i]).save(p)
            pool[name].append(p)
    return pool


def make_split(folder, pool, test_pool, classes, train, val, test, seed):
    """train/ and val/ (for ttl) and test/ folders of hard links into the pools, drawn with `seed`."""
    rng = np.random.default_rng(seed)
    split = {"train": [], "val": [], "test": []}
    for k, name in enumerate(classes):
        files = list(pool[name])
        rng.shuffle(files)
        tests = list(test_pool[name]) if test_pool is not None else files[train + val:]
        rng.shuffle(tests)
        for part, chosen in (("train", files[:train]), ("val", files[train:train + val]), ("test", tests[:test])):
            assert len(chosen) == {"train": train, "val": val, "test": test}[part], (name, part)
            d = os.path.join(folder, part if part == "test" else os.path.join("data", part), name)
            os.makedirs(d, exist_ok=True)
            for f in chosen:
                dest = os.path.join(d, os.path.basename(f))
                os.link(f, dest)
                split[part].append((dest, k))
    return split


def features(cache, items):
    return np.stack([read_cached(cache, p) for p, _ in items]), np.array([k for _, k in items])


def onnx_head(path):
    """The last Gemm's weight `[classes, f]` and bias of an exported model."""
    import onnx
    from onnx import numpy_helper
    m = onnx.load(path)
    inits = {t.name: numpy_helper.to_array(t) for t in m.graph.initializer}
    gemm = [n for n in m.graph.node if n.op_type == "Gemm"][-1]
    attrs = {a.name: onnx.helper.get_attribute_value(a) for a in gemm.attribute}
    w = inits[gemm.input[1]]
    if not attrs.get("transB", 0):
        w = w.T
    return w, inits[gemm.input[2]] if len(gemm.input) > 2 else 0


PROBE = r'''
import sys, time
t0 = time.perf_counter()
import numpy as np, torch
torch.set_num_threads(2)
d = np.load(sys.argv[1])
x, y, tx, seed = torch.from_numpy(d["x"]), torch.from_numpy(d["y"]), torch.from_numpy(d["tx"]), int(d["seed"])
torch.manual_seed(seed)
head = torch.nn.Linear(x.shape[1], int(d["classes"]))
opt = torch.optim.Adam(head.parameters(), lr=1e-3)
loss_fn = torch.nn.CrossEntropyLoss()
t1 = time.perf_counter()
for epoch in range(10):
    for idx in torch.randperm(len(y)).split(32):
        opt.zero_grad()
        loss_fn(head(x[idx]), y[idx]).backward()
        opt.step()
t2 = time.perf_counter()
with torch.no_grad():
    pred = head(tx).argmax(1).numpy()
np.save(sys.argv[2], pred)
print(t2 - t1, time.perf_counter() - t0)
'''


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--ttl", default=os.path.join(root, ".build", "release", "ttl"))
    p.add_argument("--quick", action="store_true", help="one seed per split")
    p.add_argument("--seeds", type=int, default=6, help="seeds per split (0, 1, ...; default 6)")
    p.add_argument("--keep", action="store_true", help="keep the temporary folder")
    p.add_argument("--work", help="use (and keep) this folder: a second run reuses its feature cache")
    a = p.parse_args()
    import sklearn
    import torch
    assert os.path.exists(FASHION), "apt-get install dataset-fashion-mnist"
    work = a.work or tempfile.mkdtemp(prefix="ttl-bench-heads-")
    a.keep = a.keep or a.work is not None
    for old in ("pool", "runs"):
        shutil.rmtree(os.path.join(work, old), ignore_errors=True)
    env = dict(os.environ, TTL_HOME=os.path.join(work, "home"))
    cache = os.path.join(work, "cache")
    print(f"{cpu_name()}; torch {torch.__version__}, scikit-learn {sklearn.__version__}, numpy {np.__version__}",
          flush=True)

    # Pools of images, each through the backbone once (`ttl features`).
    fx, fy = idx(f"{FASHION}/train-images-idx3-ubyte.gz"), idx(f"{FASHION}/train-labels-idx1-ubyte.gz")
    tx, ty = idx(f"{FASHION}/t10k-images-idx3-ubyte.gz"), idx(f"{FASHION}/t10k-labels-idx1-ubyte.gz")
    from sklearn.datasets import load_digits
    digits = load_digits()
    dimg = np.clip(digits.images * 16, 0, 255).astype(np.uint8)
    digit_classes = [str(k) for k in range(10)]
    pools = {
        "fashion": write_pool(os.path.join(work, "pool", "fashion"), fx, fy, FASHION_CLASSES, 500),
        "fashion-test": write_pool(os.path.join(work, "pool", "fashion-test"), tx, ty, FASHION_CLASSES, 100),
        "digits": write_pool(os.path.join(work, "pool", "digits"), dimg, digits.target, digit_classes, 1000),
    }
    for name in pools:
        t0 = time.perf_counter()
        subprocess.run([a.ttl, "features", "--data", os.path.join(work, "pool", name), "--cache", cache], env=env, check=True,
                       stdout=subprocess.DEVNULL)
        n = sum(len(v) for v in pools[name].values())
        print(f"features of {name}: {n} images in {time.perf_counter() - t0:.1f} s", flush=True)

    # (name, pool, test pool, classes, train, val, test per class)
    splits = [
        ("Fashion-MNIST, 10 classes", "fashion", "fashion-test", FASHION_CLASSES, 20, 5, 100),
        ("Fashion-MNIST, 10 classes", "fashion", "fashion-test", FASHION_CLASSES, 100, 25, 100),
        ("Fashion-MNIST, 10 classes", "fashion", "fashion-test", FASHION_CLASSES, 400, 100, 100),
        ("Fashion-MNIST, shirt/t-shirt/pullover/coat", "fashion", "fashion-test", ["shirt", "t-shirt", "pullover", "coat"], 200, 50, 100),
        ("Fashion-MNIST, sneaker/ankle-boot", "fashion", "fashion-test", ["sneaker", "ankle-boot"], 40, 10, 100),
        ("digits 8×8, 10 classes", "digits", None, digit_classes, 30, 10, 50),
        ("digits 8×8, 10 classes", "digits", None, digit_classes, 100, 25, 45),
    ]
    seeds = [0] if a.quick else list(range(a.seeds))
    rows = []
    for (title, pool, test_pool, classes, ntrain, nval, ntest) in splits:
        for seed in seeds:
            folder = os.path.join(work, "runs", f"{pool}-{len(classes)}-{ntrain}-{seed}")
            split = make_split(folder, pools[pool], pools[test_pool] if test_pool else None, classes, ntrain, nval, ntest, seed)
            data = os.path.join(folder, "data")
            # ImageFolder sorts class folders by name; the labels of our lists follow `classes`.
            order = sorted(classes)
            remap = np.array([order.index(c) for c in classes])
            X, Y = features(cache, split["train"])
            TX, TY = features(cache, split["test"])
            Y, TY = remap[Y], remap[TY]
            row = {"split": title, "classes": len(classes), "train": ntrain, "val": nval, "seed": seed}
            for label, extra in (("ttl", []), ("ttl-lbfgs", ["--head", "lbfgs"])):
                out = os.path.join(folder, label + ".onnx")
                t0 = time.perf_counter()
                r = subprocess.run([a.ttl, "finetune", "--data", data, "--cache", cache, "--seed", str(seed), "--output", out, "--json"] + extra,
                                   env=env, check=True, capture_output=True, text=True)
                wall = time.perf_counter() - t0
                history = [json.loads(line) for line in r.stdout.splitlines() if line.startswith("{")]
                w, b = onnx_head(out)
                acc = float(((TX @ w.T + b).argmax(1) == TY).mean())
                row[label] = {"accuracy": acc, "wall": wall, "fit": sum(h["seconds"] for h in history),
                              "l2": next((h.get("l2") for h in reversed(history) if h.get("best") and h.get("l2") is not None), None),
                              "epochs": sum(1 for h in history if h.get("validationLoss") is None)}
            npz = os.path.join(folder, "probe.npz")
            np.savez(npz, x=X.astype(np.float32), y=Y.astype(np.int64), tx=TX.astype(np.float32), seed=seed, classes=len(classes))
            t0 = time.perf_counter()
            r = subprocess.run([sys.executable, "-c", PROBE, npz, os.path.join(folder, "pred.npy")], check=True, capture_output=True, text=True)
            process = time.perf_counter() - t0
            loop, _ = map(float, r.stdout.split())
            pred = np.load(os.path.join(folder, "pred.npy"))
            row["torch"] = {"accuracy": float((pred == TY).mean()), "wall": loop, "process": process}
            rows.append(row)
            print(f"{title}, {ntrain}+{nval}/class, seed {seed}: ttl {row['ttl']['accuracy']:.4f} ({row['ttl']['wall']:.2f} s, "
                  f"{row['ttl']['epochs']} epochs), ttl lbfgs {row['ttl-lbfgs']['accuracy']:.4f} ({row['ttl-lbfgs']['wall']:.2f} s, "
                  f"λ {row['ttl-lbfgs']['l2']}), "
                  f"torch {row['torch']['accuracy']:.4f} (loop {loop:.2f} s, process {process:.2f} s)", flush=True)

    with open(os.path.join(work, "results.json"), "w") as fh:
        json.dump(rows, fh, indent=1)
    # The table: one line per split, means over seeds, worst per-seed difference.
    print()
    print(f"{cpu_name()}, {len(seeds)} seeds per split; accuracy on held-out test images, mean over seeds")
    print()
    print("| split | train + val per class | ttl default | PyTorch probe | worst seed, ttl − PyTorch | ttl `--head lbfgs` "
          "| ttl default, fit | ttl default, process | PyTorch loop | PyTorch, process |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    keys = []
    for r in rows:
        k = (r["split"], r["train"], r["val"])
        if k not in keys:
            keys.append(k)
    worst_all, worst_mean = 1.0, 1.0
    for k in keys:
        g = [r for r in rows if (r["split"], r["train"], r["val"]) == k]
        m = lambda f: float(np.mean([f(r) for r in g]))
        worst = min(r["ttl"]["accuracy"] - r["torch"]["accuracy"] for r in g)
        worst_all = min(worst_all, worst)
        worst_mean = min(worst_mean, m(lambda r: r["ttl"]["accuracy"] - r["torch"]["accuracy"]))
        print(f"| {k[0]} | {k[1]} + {k[2]} | {m(lambda r: r['ttl']['accuracy']) * 100:.1f} % | {m(lambda r: r['torch']['accuracy']) * 100:.1f} % "
              f"| {worst * 100:+.1f} | {m(lambda r: r['ttl-lbfgs']['accuracy']) * 100:.1f} % | {m(lambda r: r['ttl']['fit']):.2f} s | {m(lambda r: r['ttl']['wall']):.2f} s "
              f"| {m(lambda r: r['torch']['wall']):.2f} s | {m(lambda r: r['torch']['process']):.2f} s |")
    print()
    print(f"ttl's default at least as accurate as the PyTorch probe on the mean of every split: {worst_mean >= -1e-9} "
          f"(worst split {worst_mean * 100:+.2f} points)")
    print(f"ttl's default at least as accurate as the PyTorch probe on every split and seed: {worst_all >= 0} (worst {worst_all * 100:+.1f} points)")
    if a.keep:
        print("kept", work)
    else:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
