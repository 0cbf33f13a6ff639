#!/usr/bin/env python3
"""Writes the multi-label metric fixture: seeded scores and targets, with scikit-learn's
per-label average precision, mAP and precision/recall/F1 at given thresholds.

Pinned: python 3.11, scikit-learn==1.9.1, numpy==2.4.6.
    pip install scikit-learn==1.9.1 numpy==2.4.6
    python3 scripts/make_multilabel_fixtures.py

Output: Tests/TTLFineTuneTests/Fixtures/multilabel/metrics.json, checked by
MultiLabelTests.testMetricsAgainstScikitLearn. Scores are float32 values (written exactly, as
float64), so ttl's Float comparisons see the numbers scikit-learn saw.
"""
import json
import os

import numpy as np
import sklearn
from sklearn.metrics import average_precision_score, precision_recall_fscore_support

assert sklearn.__version__ == "1.9.1", sklearn.__version__
assert np.__version__ == "2.4.6", np.__version__

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Tests", "TTLFineTuneTests", "Fixtures", "multilabel", "metrics.json")
rng = np.random.default_rng(20261204)


def case(name, n, c, ties=False):
    targets = (rng.random((n, c)) < 0.35).astype(np.int64)
    targets[0, :] = 1  # every label has a positive: AP is defined
    # Scores that mean something (positives higher on average), float32.
    scores = (rng.random((n, c)) * 0.6 + targets * 0.35).astype(np.float32)
    if ties:
        scores = (np.round(scores * 8) / 8).astype(np.float32)  # many tied scores
    thresholds = rng.uniform(0.3, 0.7, c).astype(np.float32)
    predicted = (scores >= thresholds[None, :]).astype(np.int64)
    p, r, f1, support = precision_recall_fscore_support(targets, predicted, average=None, zero_division=0)
    ap = average_precision_score(targets, scores.astype(np.float64), average=None)
    return {
        "name": name,
        "scores": [[float(v) for v in row] for row in scores],
        "targets": targets.tolist(),
        "thresholds": [float(v) for v in thresholds],
        "average_precision": [float(v) for v in ap],
        "mean_average_precision": float(average_precision_score(targets, scores.astype(np.float64), average="macro")),
        "precision": [float(v) for v in p],
        "recall": [float(v) for v in r],
        "f1": [float(v) for v in f1],
        "support": [int(v) for v in support],
    }


cases = [case("distinct", 40, 4), case("ties", 60, 5, ties=True), case("small", 7, 3, ties=True)]
os.makedirs(os.path.dirname(OUT), exist_ok=True)
with open(OUT, "w") as f:
    json.dump({"scikit_learn": sklearn.__version__, "cases": cases}, f, indent=1)
print("wrote", os.path.normpath(OUT))
