#!/usr/bin/env python3
"""Fixtures for Tests/TTLFineTuneTests/HeadFitTests.swift: small multinomial logistic regressions
solved by scikit-learn, whose optimum ttl's L-BFGS (SoftmaxRegression.fit) must reach.

Pinned: python 3.11, scikit-learn==1.9.1, numpy==2.4.6.
    python3 scripts/make_headfit_fixtures.py

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
