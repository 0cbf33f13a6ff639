#!/usr/bin/env python3
"""Checks ttl's PyTorch export: the files the Swift test TorchModelTests.testExportRoundTrip
writes load into the same tiny torchvision-named ResNet and timm EfficientNet-Lite that
make_torch_fixtures.py built, with
`torch.load(weights_only=True)` / `safetensors.torch.load_file` and `load_state_dict(strict=True)`,
and give ttl's logits.

Pinned as make_torch_fixtures.py (torch==2.13.0 CPU, torchvision==0.29.2 and timm==1.0.31 --no-deps, safetensors==0.8.0).
    swift build --build-tests && TTL_TORCH_EXPORT_DIR=/tmp/ttl-torch-export swift test --skip-build --filter testExportRoundTrip
    python3 scripts/check_torch_export.py /tmp/ttl-torch-export
"""
import json
import os
import sys

import numpy as np
import torch
import safetensors.torch
from safetensors import safe_open

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tiny_models  # noqa: E402

from timm.models.efficientnet import _gen_efficientnet_lite  # noqa: E402

folder = sys.argv[1]
fixtures = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Tests", "TTLTorchTests", "Fixtures")
x = torch.from_numpy(np.load(os.path.join(fixtures, "x.npy")))
models = {
    "resnet_basic": lambda: tiny_models.TinyResNet(tiny_models.BasicBlock, [1, 1, 1, 1], base=4, classes=5),
    "effnet_tf_tiny": lambda: _gen_efficientnet_lite("tf_efficientnet_lite0", channel_multiplier=0.25, depth_multiplier=0.5,
                                                     num_classes=3, bn_eps=1e-3, pad_type="same"),
}
for stem, build in models.items():
    ttl = np.load(os.path.join(folder, f"{stem}_ttl_logits.npy"))
    for name, load in [(f"{stem}.pth", lambda p: torch.load(p, weights_only=True)), (f"{stem}.safetensors", safetensors.torch.load_file)]:
        model = build().eval()
        model.load_state_dict(load(os.path.join(folder, name)), strict=True)
        with torch.no_grad():
            y = model(x).numpy()
        err = np.abs(y - ttl).max()
        assert err <= 1e-4 * max(1, np.abs(y).max()), f"{name}: max |error| {err}"
        assert (y.argmax(1) == ttl.argmax(1)).all(), name
        print(f"{name}: strict load_state_dict ok, logits within {err:.2e} of ttl's")
with safe_open(os.path.join(folder, "resnet_basic.safetensors"), "pt") as f:
    print("__metadata__:", json.dumps(f.metadata()))
