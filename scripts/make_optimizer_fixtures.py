#!/usr/bin/env python3
"""Writes optimizer fixtures: PyTorch's SGD and AdamW updates of seeded parameters over five
steps of seeded gradients, with a changing learning rate.

Pinned: python 3.11, torch==2.13.0 (CPU), numpy==2.4.6.
    python3 scripts/make_optimizer_fixtures.py

Tests/TTLFineTuneTests/Fixtures/optimizers/<case>/ holds p0.npy (start), g<k>.npy (gradient of
step k), lr.npy (rate of each step) and p5.npy (PyTorch's parameters after the five steps).
"""
import json
import os
import shutil

import numpy as np
import torch

assert torch.__version__.startswith("2.13.0"), torch.__version__
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Tests", "TTLFineTuneTests", "Fixtures", "optimizers")
shutil.rmtree(OUT, ignore_errors=True)
g = torch.Generator().manual_seed(5)
cases = {
    "sgd_momentum": (torch.optim.SGD, {"momentum": 0.9}),
    "sgd_nesterov_decay": (torch.optim.SGD, {"momentum": 0.8, "nesterov": True, "weight_decay": 0.01}),
    "sgd_plain": (torch.optim.SGD, {"momentum": 0.0}),
    "adamw": (torch.optim.AdamW, {"weight_decay": 0.01}),
    "adamw_betas": (torch.optim.AdamW, {"betas": (0.8, 0.99), "eps": 1e-6, "weight_decay": 0.1}),
}
rates = [0.1, 0.05, 0.08, 0.02, 0.01]
for name, (cls, kw) in cases.items():
    folder = os.path.join(OUT, name)
    os.makedirs(folder)
    p = torch.nn.Parameter(torch.randn(3, 4, generator=g))
    np.save(os.path.join(folder, "p0.npy"), p.detach().numpy().copy())
    opt = cls([p], lr=rates[0], **kw)
    for k, lr in enumerate(rates):
        for group in opt.param_groups:
            group["lr"] = lr
        p.grad = torch.randn(3, 4, generator=g)
        np.save(os.path.join(folder, f"g{k}.npy"), p.grad.numpy())
        opt.step()
    np.save(os.path.join(folder, "p5.npy"), p.detach().numpy())
    np.save(os.path.join(folder, "lr.npy"), np.array(rates, dtype=np.float32))
    with open(os.path.join(folder, "case.json"), "w") as f:
        json.dump({"optimizer": cls.__name__, **{k: v for k, v in kw.items()}}, f)
print("wrote", len(cases), "optimizer cases")
