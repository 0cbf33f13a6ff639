#!/usr/bin/env python3
"""Writes the runtime fixtures: tiny seeded networks with PyTorch's logits and gradients.

Pinned: python 3.11, torch==2.13.0 (CPU), torchvision==0.29.2 (BasicBlock/Bottleneck only;
install with --no-deps; imports pillow==13.0.0), numpy==2.4.6.
    python3 scripts/make_runtime_fixtures.py

For each network, Tests/TTLNNTests/Fixtures/<name>/ holds:
  config.json            the architecture's settings and which stage is unfrozen for the training step
PyTorch computes in float64 from the float32 weights and inputs, and results are stored as
float32, so the Swift tolerance measures ttl's error, not PyTorch's float32 rounding.

  weights/<path>.npy     every parameter and buffer (random, with batch-norm statistics and
                         affine parameters randomised so that epsilon or momentum mistakes show)
  x.npy, labels.npy      a batch of inputs and class labels
  logits_eval.npy        model.eval() output
  logits_train.npy       output of the training forward: modules before the unfrozen stage frozen
                         (requires_grad False, eval mode), the rest in train mode
  loss.npy               mean cross-entropy of logits_train
  grads/<path>.npy       gradient of the loss for every trainable parameter
  dx.npy                 gradient of the loss with respect to the input (through the frozen layers)
  after/<path>.npy       every batch-norm running statistic after that forward
"""
import json
import math
import os
import shutil
import sys
import types

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tiny_models import BasicBlock, Bottleneck, TinyEfficientNetLite, TinyResNet, randomise_batch_norms  # noqa: E402

assert torch.__version__.startswith("2.13.0"), torch.__version__
ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Tests", "TTLNNTests", "Fixtures")
torch.manual_seed(20261126)


def save(path, t):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    if isinstance(t, torch.Tensor):
        t = t.detach()
        t = t.to(torch.float32) if t.is_floating_point() else t
        t = t.numpy()
    np.save(path, np.array(t, order="C"))


def write(name, model, config, unfreeze_from, batch=4, size=32):
    folder = os.path.join(ROOT, name)
    shutil.rmtree(folder, ignore_errors=True)
    os.makedirs(folder)
    randomise_batch_norms(model)
    # Round every weight to float32 first; then compute in float64 from exactly those values.
    model = model.float().double()
    classes = config["classes"]
    g = torch.Generator().manual_seed(11)
    x = torch.randn(batch, 3, size, size, generator=g).double()
    labels = torch.randint(0, classes, (batch,), generator=g)
    state = {k: v.clone() for k, v in model.state_dict().items() if not k.endswith("num_batches_tracked")}
    for k, v in state.items():
        save(os.path.join(folder, "weights", k + ".npy"), v)
    save(os.path.join(folder, "x.npy"), x)
    save(os.path.join(folder, "labels.npy"), labels.numpy().astype(np.int64))

    model.eval()
    with torch.no_grad():
        save(os.path.join(folder, "logits_eval.npy"), model(x))

    # Training forward: everything declared before `unfreeze_from` frozen and in eval mode.
    names = [k for k, _ in model.named_parameters()]
    start = next(i for i, k in enumerate(names) if k == unfreeze_from or k.startswith(unfreeze_from + "."))
    trainable = set(names[start:])
    for k, p in model.named_parameters():
        p.requires_grad_(k in trainable)
    model.eval()
    for mname, m in model.named_modules():
        if mname and any(p.startswith(mname + ".") for p in trainable):
            own = [n for n, _ in m.named_parameters(recurse=False)]
            if isinstance(m, nn.BatchNorm2d) and all(mname + "." + n in trainable for n in own):
                m.train()
    x.requires_grad_(True)
    logits = model(x)
    loss = F.cross_entropy(logits, labels)
    loss.backward()
    save(os.path.join(folder, "dx.npy"), x.grad)
    save(os.path.join(folder, "logits_train.npy"), logits)
    save(os.path.join(folder, "loss.npy"), loss)
    for k, p in model.named_parameters():
        if k in trainable:
            save(os.path.join(folder, "grads", k + ".npy"), p.grad)
    for k, v in model.state_dict().items():
        if "running_" in k:
            save(os.path.join(folder, "after", k + ".npy"), v)
    config = dict(config, unfreeze_from=unfreeze_from, trainable=sorted(trainable))
    with open(os.path.join(folder, "config.json"), "w") as f:
        json.dump(config, f, indent=1)


write("tiny_resnet_basic", TinyResNet(BasicBlock, [1, 1, 1, 1], base=4, classes=5),
      {"family": "resnet", "block": "basic", "layers": [1, 1, 1, 1], "base": 4, "groups": 1, "width_per_group": 64, "classes": 5},
      "layer4")
# At 64×64 layer4 sees 2×2 planes: its training-mode batch norms average 16 values, not 4,
# which would amplify float32 rounding of the frozen stages past the forward tolerance.
write("tiny_resnext_bottleneck", TinyResNet(Bottleneck, [1, 2, 1, 1], base=4, groups=2, width_per_group=32, classes=3),
      {"family": "resnet", "block": "bottleneck", "layers": [1, 2, 1, 1], "base": 4, "groups": 2, "width_per_group": 32, "classes": 3,
       "size": 64},
      "layer4", size=64)
stages = [[1, 3, 1, 8, 4, 1], [6, 3, 2, 4, 8, 2], [6, 5, 2, 8, 12, 1]]
write("tiny_efficientnet_lite", TinyEfficientNetLite(8, stages, 16, 5, 32),
      {"family": "efficientnet-lite", "stem": 8, "stages": stages, "head": 16, "classes": 5},
      "_blocks.3")
print("wrote fixtures to", os.path.normpath(ROOT))
