#!/usr/bin/env python3
"""Fixtures for Tests/TTLFineTuneTests/HeadFitTests.swift: small multinomial logistic regressions
solved by scikit-learn, whose optimum ttl's L-BFGS (SoftmaxRegression.fit) must reach.

Pinned: python 3.11, scikit-learn==1.9.1, numpy==2.4.6, torch==2.13.0 (CPU).
    python3 scripts/make_headfit_fixtures.py

adam_path.json (and adam_path_holdout.json, without validation examples: a seeded stratified fifth
of the training examples, HeadFit.holdout ported, chooses): the default head (AdamPath) as PyTorch computes it: nn.Linear's weights set to
the case's start, torch.optim.Adam(lr=1e-3) at a constant rate over batches of 32 in the order
ttl draws (SplitMix64 and its Fisher-Yates shuffle, ported below), the validation loss after
every epoch, the epoch count with the lowest one, and the head trained again from the start
for that many epochs on the training and validation examples together.

Each case is a seeded problem (float32 features, so that ttl sees the same numbers) and
LogisticRegression(C, solver="lbfgs") solved far past its default tolerance, then polished by
Newton steps in float64 to a gradient below 1e-13 (recorded: scikit-learn's own gradient and how
far the polish moved its solution). scikit-learn minimises
½‖W‖² + C·Σᵢ CE(xᵢ, yᵢ); ttl minimises (1/n)·Σᵢ CE + (λ/2)·‖W‖², the same function divided by
C·n, so λ = 1/(C·n). The objective is recomputed here in float64 from the solution. The
intercept is not penalised and the softmax ignores a shift of every class's intercept, so it is
stored centred (mean over classes 0), which both solvers started from zero keep.
"""
import json
import os

import numpy as np
import sklearn
from sklearn.linear_model import LogisticRegression

assert sklearn.__version__ == "1.9.1", sklearn.__version__
root = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
out = os.path.join(root, "Tests", "TTLFineTuneTests", "Fixtures", "headfit")
os.makedirs(out, exist_ok=True)


def objective(x, y, w, b, lam):
    z = x @ w.T + b
    z = z - z.max(axis=1, keepdims=True)
    logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    return float(-logp[np.arange(len(y)), y].mean() + 0.5 * lam * (w * w).sum())


def probabilities(x, w, b):
    z = x @ w.T + b
    z = z - z.max(axis=1, keepdims=True)
    p = np.exp(z)
    return p / p.sum(axis=1, keepdims=True)


def gradient(x, y, w, b, lam):
    """∇ of ttl's objective: [dW row-major, db]."""
    g = probabilities(x, w, b)
    g[np.arange(len(y)), y] -= 1
    g /= len(y)
    return np.concatenate([(g.T @ x + lam * w).reshape(-1), g.sum(axis=0)])


def polish(x, y, w, b, lam):
    """Newton steps in float64 from scikit-learn's solution until the largest gradient component
    is below 1e-13 (the Hessian is singular along a shift of every intercept, so the step is the
    least-squares one). scikit-learn stops where its float64 line search can no longer decrease
    the loss, at gradients of 1e-8 here; the reference must be closer to the optimum than the
    test's tolerance."""
    n, f = x.shape
    c = w.shape[0]
    for _ in range(20):
        g = gradient(x, y, w, b, lam)
        if np.abs(g).max() < 1e-13:
            break
        p = probabilities(x, w, b)
        xa = np.hstack([x, np.ones((n, 1))])  # features and the intercept's 1
        h = np.zeros((c * (f + 1), c * (f + 1)))
        for i in range(n):
            s = np.diag(p[i]) - np.outer(p[i], p[i])
            h += np.kron(s, np.outer(xa[i], xa[i])) / n
        # Reorder to [W row-major, b] as `gradient` is laid out, and add the penalty on W.
        order = [k * (f + 1) + j for k in range(c) for j in range(f)] + [k * (f + 1) + f for k in range(c)]
        h = h[np.ix_(order, order)]
        h[: c * f, : c * f] += lam * np.eye(c * f)
        step = np.linalg.lstsq(h, g, rcond=None)[0]
        w = w - step[: c * f].reshape(c, f)
        b = b - step[c * f:]
    assert np.abs(gradient(x, y, w, b, lam)).max() < 1e-12
    return w, b


cases = []
for name, seed, n, f, c, C in (("small-strong", 1, 60, 4, 3, 0.05), ("medium", 2, 120, 8, 4, 1.0), ("weak", 3, 90, 6, 3, 20.0)):
    rng = np.random.default_rng(seed)
    centres = rng.normal(0, 1.0, (c, f))
    y = np.arange(n) % c
    rng.shuffle(y)
    x = (centres[y] + rng.normal(0, 1.2, (n, f))).astype(np.float32)
    model = LogisticRegression(C=C, solver="lbfgs", tol=1e-12, max_iter=100000).fit(x.astype(np.float64), y)
    w, b = model.coef_, model.intercept_ - model.intercept_.mean()
    lam = 1.0 / (C * n)
    sk_gradient = float(np.abs(gradient(x.astype(np.float64), y, w, b, lam)).max())
    w1, b1 = polish(x.astype(np.float64), y, w, b, lam)
    moved = float(max(np.abs(w1 - w).max(), np.abs(b1 - b).max()))
    w, b = w1, b1 - b1.mean()
    cases.append({"name": name, "count": n, "features": f, "classes": c, "C": C, "l2": lam,
                  "x": [float(v) for v in x.reshape(-1)], "labels": [int(v) for v in y],
                  "weight": [float(v) for v in w.reshape(-1)], "bias": [float(v) for v in b],
                  "loss": objective(x.astype(np.float64), y, w, b, lam), "sklearnGradient": sk_gradient, "polishMoved": moved,
                  "gradient": float(np.abs(gradient(x.astype(np.float64), y, w, b, lam)).max())})
with open(os.path.join(out, "sklearn_cases.json"), "w") as fh:
    json.dump({"generator": "scripts/make_headfit_fixtures.py", "sklearn": sklearn.__version__, "numpy": np.__version__,
               "cases": cases}, fh, indent=None)
    fh.write("\n")
print("wrote", len(cases), "cases to", out)


# The default head's path (HeadFit.swift, AdamPath) under PyTorch.
import torch

M64 = (1 << 64) - 1


class SplitMix64:
    def __init__(self, seed):
        self.state = seed & M64

    def next(self):
        self.state = (self.state + 0x9E3779B97F4A7C15) & M64
        z = self.state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M64
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M64
        return z ^ (z >> 31)


def shuffled(n, rng):
    """FineTuner.shuffled: Fisher-Yates from the end, j = next() mod (i + 1)."""
    order = list(range(n))
    for i in range(n - 1, 0, -1):
        j = rng.next() % (i + 1)
        order[i], order[j] = order[j], order[i]
    return order


def adam_path(x, y, w0, b0, epochs, seed, val=None):
    head = torch.nn.Linear(x.shape[1], w0.shape[0])
    with torch.no_grad():
        head.weight.copy_(torch.from_numpy(w0)); head.bias.copy_(torch.from_numpy(b0))
    opt = torch.optim.Adam(head.parameters(), lr=1e-3)
    loss_fn = torch.nn.CrossEntropyLoss()
    rng = SplitMix64(seed)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    losses = []
    for _ in range(epochs):
        order = shuffled(len(y), rng)
        for start in range(0, len(order), 32):
            idx = torch.tensor(order[start:start + 32])
            opt.zero_grad()
            loss_fn(head(xt[idx]), yt[idx]).backward()
            opt.step()
        if val is not None:
            with torch.no_grad():
                losses.append(float(loss_fn(head(torch.from_numpy(val[0])), torch.from_numpy(val[1]))))
    return head.weight.detach().numpy().copy(), head.bias.detach().numpy().copy(), losses


assert torch.__version__.startswith("2.13.0"), torch.__version__
torch.set_num_threads(1)
rng = np.random.default_rng(7)
f, c, n, nv, seed = 24, 3, 45, 15, 5
centres = rng.normal(0, 1.0, (c, f))
y = (np.arange(n) % c).astype(np.int64); rng.shuffle(y)
vy = (np.arange(nv) % c).astype(np.int64); rng.shuffle(vy)
# Large, noisy features: the validation loss bottoms out well inside the 30 epochs.
x = (6 * (0.15 * centres[y] + rng.normal(0, 1.0, (n, f)))).astype(np.float32)
vx = (6 * (0.15 * centres[vy] + rng.normal(0, 1.0, (nv, f)))).astype(np.float32)
w0 = rng.uniform(-0.005, 0.005, (c, f)).astype(np.float32)
b0 = rng.uniform(-0.005, 0.005, c).astype(np.float32)
_, _, losses = adam_path(x, y, w0, b0, 30, seed, val=(vx, vy))
chosen = int(np.argmin(losses)) + 1
assert 1 < chosen < 30, losses
w, b, _ = adam_path(np.concatenate([x, vx]), np.concatenate([y, vy]), w0, b0, chosen, seed)
with open(os.path.join(out, "adam_path.json"), "w") as fh:
    json.dump({"generator": "scripts/make_headfit_fixtures.py", "torch": torch.__version__, "numpy": np.__version__,
               "features": f, "classes": c, "seed": seed, "maxEpochs": 30,
               "x": [float(v) for v in x.reshape(-1)], "labels": [int(v) for v in y],
               "validationX": [float(v) for v in vx.reshape(-1)], "validationLabels": [int(v) for v in vy],
               "startWeight": [float(v) for v in w0.reshape(-1)], "startBias": [float(v) for v in b0],
               "validationLosses": losses, "chosenEpochs": chosen,
               "weight": [float(v) for v in w.reshape(-1)], "bias": [float(v) for v in b]}, fh)
    fh.write("\n")
print("wrote adam_path.json: chosen", chosen, "of 30; validation losses", [round(v, 4) for v in losses])


# The same path without validation examples (`--val-split 0`): a seeded, stratified fifth of the
# training examples (HeadFit.holdout, ported below) scores the epochs, then the head is trained
# again from the start on every training example for the chosen count.
def holdout(labels, classes, seed):
    """HeadFit.holdout: per class, a Fisher-Yates shuffle from SplitMix64(seed ^ "HEADFIT!"), a fifth held out."""
    rng = SplitMix64(seed ^ 0x4845_4144_4649_5421)
    fit, held = [], []
    for k in range(classes):
        idx = [i for i in range(len(labels)) if labels[i] == k]
        for i in range(len(idx) - 1, 0, -1):
            j = rng.next() % (i + 1)
            idx[i], idx[j] = idx[j], idx[i]
        h = max(1, len(idx) // 5) if len(idx) >= 2 else 0
        held += idx[:h]; fit += idx[h:]
    return sorted(fit), sorted(held)


rng = np.random.default_rng(8)
f, c, n, seed = 40, 3, 90, 9
centres = rng.normal(0, 1.0, (c, f))
y = (np.arange(n) % c).astype(np.int64); rng.shuffle(y)
x = (6 * (0.15 * centres[y] + rng.normal(0, 1.0, (n, f)))).astype(np.float32)
w0 = rng.uniform(-0.005, 0.005, (c, f)).astype(np.float32)
b0 = rng.uniform(-0.005, 0.005, c).astype(np.float32)
fit, held = holdout(list(y), c, seed)
_, _, losses = adam_path(x[fit], y[fit], w0, b0, 30, seed, val=(x[held], y[held]))
chosen = int(np.argmin(losses)) + 1
assert 1 < chosen < 30, losses
w, b, _ = adam_path(x, y, w0, b0, chosen, seed)
with open(os.path.join(out, "adam_path_holdout.json"), "w") as fh:
    json.dump({"generator": "scripts/make_headfit_fixtures.py", "torch": torch.__version__, "numpy": np.__version__,
               "features": f, "classes": c, "seed": seed, "maxEpochs": 30,
               "x": [float(v) for v in x.reshape(-1)], "labels": [int(v) for v in y], "validationX": [], "validationLabels": [],
               "startWeight": [float(v) for v in w0.reshape(-1)], "startBias": [float(v) for v in b0],
               "validationLosses": losses, "chosenEpochs": chosen,
               "weight": [float(v) for v in w.reshape(-1)], "bias": [float(v) for v in b]}, fh)
    fh.write("\n")
print("wrote adam_path_holdout.json: held out", len(held), "of", n, "; chosen", chosen, "of 30; validation losses", [round(v, 4) for v in losses])
