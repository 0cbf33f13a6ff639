#!/usr/bin/env python3
"""Full-size Keras check (not run by CI): Keras-applications ResNet50, ResNet50V2, MobileNetV2,
EfficientNetB0, DenseNet121, InceptionV3, MobileNet, VGG16, VGG19, Xception, EfficientNetV2B0,
MobileNetV3Small/Large, InceptionResNetV2, ConvNeXtTiny and NASNetMobile with random weights
(batch-norm statistics, layer-norm and layer-scale weights randomised), saved by tf_keras as a full
.h5 (and the ResNets as weights only); `ttl import` reads them (the weights-only ones with --arch),
`ttl run` must match tf_keras's prediction, and `ttl export` must give a file tf_keras and Keras 3
load and that predicts the same.

Pinned: python 3.11, tensorflow-cpu==2.21.0, tf_keras==2.21.0 (--no-deps), keras==3.15.1,
h5py==3.14.0, numpy==2.4.6.   Usage: python3 scripts/check_full_size_keras.py [--more] [path/to/ttl [name ...]]
(names such as mobilenet vgg16 pick some of the applications; none: all of them). --more adds the
other members of the families (issue 13): ResNet101/152 and their V2s (also weights-only with
--arch), DenseNet169/201, EfficientNetB1–B7, EfficientNetV2B1–B3/S/M/L and ConvNeXtSmall/Base/
Large/XLarge — hours on two cores, several GB of memory for the largest.
"""
import functools
import os
import subprocess
import sys
import tempfile

os.environ["KERAS_BACKEND"] = "tensorflow"
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import numpy as np
import tf_keras

MORE = "--more" in sys.argv
if MORE:
    sys.argv.remove("--more")
ttl = sys.argv[1] if len(sys.argv) > 1 else ".build/release/ttl"
here = os.path.dirname(os.path.abspath(__file__))
rng = np.random.default_rng(0)
tf_keras.utils.set_random_seed(0)
failed = False
with tempfile.TemporaryDirectory() as tmp:
    env = dict(os.environ, TTL_HOME=os.path.join(tmp, "home"))
    for name, build, arch in [("resnet50", tf_keras.applications.ResNet50, "resnet50"),
                              ("resnet50v2", tf_keras.applications.ResNet50V2, "resnet50v2"),
                              ("mobilenetv2", tf_keras.applications.MobileNetV2, None),
                              ("efficientnetb0", tf_keras.applications.EfficientNetB0, None),
                              ("densenet121", tf_keras.applications.DenseNet121, None),
                              ("inceptionv3", tf_keras.applications.InceptionV3, None),
                              ("mobilenet", tf_keras.applications.MobileNet, None),
                              ("vgg16", tf_keras.applications.VGG16, None),
                              ("vgg19", tf_keras.applications.VGG19, None),
                              ("xception", tf_keras.applications.Xception, None),
                              ("efficientnetv2b0", tf_keras.applications.EfficientNetV2B0, None),
                              # MobileNetV3 takes any size unless told: ttl needs it fixed.
                              ("mobilenetv3small", functools.partial(tf_keras.applications.MobileNetV3Small, input_shape=(224, 224, 3)), None),
                              ("mobilenetv3large", functools.partial(tf_keras.applications.MobileNetV3Large, input_shape=(224, 224, 3)), None),
                              ("inceptionresnetv2", tf_keras.applications.InceptionResNetV2, None),
                              ("convnexttiny", tf_keras.applications.ConvNeXtTiny, None),
                              ("nasnetmobile", tf_keras.applications.NASNetMobile, None)] + ([
                              ("resnet101", tf_keras.applications.ResNet101, "resnet101"),
                              ("resnet152", tf_keras.applications.ResNet152, "resnet152"),
                              ("resnet101v2", tf_keras.applications.ResNet101V2, "resnet101v2"),
                              ("resnet152v2", tf_keras.applications.ResNet152V2, "resnet152v2"),
                              ("densenet169", tf_keras.applications.DenseNet169, None),
                              ("densenet201", tf_keras.applications.DenseNet201, None)]
                              + [(f"efficientnetb{i}", getattr(tf_keras.applications, f"EfficientNetB{i}"), None) for i in range(1, 8)]
                              + [(f"efficientnetv2{v.lower()}", getattr(tf_keras.applications, f"EfficientNetV2{v}"), None)
                                 for v in ["B1", "B2", "B3", "S", "M", "L"]]
                              + [(f"convnext{v.lower()}", getattr(tf_keras.applications, f"ConvNeXt{v}"), None)
                                 for v in ["Small", "Base", "Large", "XLarge"]] if MORE else []):
        if len(sys.argv) > 2 and name not in sys.argv[2:]:
            continue
        # Logits, not probabilities: near-uniform softmax outputs over 1000 classes would hide errors.
        model = build(weights=None, classifier_activation=None)
        # Random weights lose the input within a few dozen layers unless every batch norm
        # normalises what actually reaches it: give each random scale and shift, then set its
        # moving statistics to the batch statistics of a calibration batch (momentum 0, one
        # training-mode pass), as training would have.
        def all_layers(m):
            for layer in m.layers:
                yield from (all_layers(layer) if isinstance(layer, tf_keras.Model) else [layer])
        # ConvNeXt's layer scales start at 1e-6, which would hide every block: random ones, and
        # random layer-norm scales and shifts.
        for layer in all_layers(model):
            if isinstance(layer, tf_keras.layers.LayerNormalization) or type(layer).__name__ == "LayerScale":
                layer.set_weights([rng.uniform(0.5, 1.5, w.shape) if i == 0 else rng.normal(0, 0.3, w.shape)
                                   for i, w in enumerate(layer.get_weights())])
        bns = [layer for layer in model.layers if isinstance(layer, tf_keras.layers.BatchNormalization)]
        for layer in bns:
            w = layer.get_weights()  # [gamma if scale] [beta if center] moving_mean moving_variance
            c = w[-1].shape[0]
            fresh = ([rng.uniform(0.5, 1.5, c)] if layer.scale else []) + ([rng.normal(0, 0.3, c)] if layer.center else [])
            layer.set_weights(fresh + w[-2:])
            layer.momentum = 0.0
        size = model.input_shape[1]
        # Models that preprocess inside (MobileNetV3's Rescaling, ConvNeXt's and EfficientNet's
        # Normalization) take pixels, 0–255; the others standard normal values.
        pixels = any(isinstance(layer, (tf_keras.layers.Rescaling, tf_keras.layers.Normalization)) for layer in model.layers[:4])
        draw = (lambda n: rng.uniform(0, 255, (n, size, size, 3))) if pixels else (lambda n: rng.normal(0, 1, (n, size, size, 3)))
        model(draw(8).astype(np.float32), training=True)
        x = draw(2).astype(np.float32)
        y = model.predict(x, verbose=0)
        full, weights = os.path.join(tmp, name + ".h5"), os.path.join(tmp, name + "_weights.h5")
        size = model.input_shape[1]
        model.save(full, save_format="h5")
        model.save_weights(weights)
        np.save(os.path.join(tmp, "x.npy"), x)
        runs = [("full .h5", [full, "--name", name])]
        if arch:
            runs.append(("weights-only + --arch", [weights, "--arch", arch, "--name", name + "w"]))
        for label, args in runs:
            subprocess.run([ttl, "import", *args], env=env, check=True, stdout=subprocess.DEVNULL)
            out = os.path.join(tmp, "y.npy")
            subprocess.run([ttl, "run", args[-1], "--input", os.path.join(tmp, "x.npy"), "--output", out], env=env, check=True)
            expected = y
            if label.startswith("weights-only"):  # the built-in architecture ends with Keras's softmax
                e = np.exp(y - y.max(1, keepdims=True))
                expected = e / e.sum(1, keepdims=True)
            diff = float(np.abs(np.load(out) - expected).max())
            ok = diff <= 1e-4 * max(1.0, float(np.abs(expected).max())) and (np.load(out).argmax(1) == y.argmax(1)).all()
            failed |= not ok
            print(f"{name} {label}: ttl vs tf_keras max |diff| {diff:.2e} (logits up to {float(np.abs(y).max()):.3g}, "
                  f"the two images' logits differ by up to {float(np.abs(y[0] - y[1]).max()):.3g}) {'OK' if ok else 'FAIL'}")
        exported = os.path.join(tmp, name + "_ttl.h5")
        subprocess.run([ttl, "export", name, "--output", exported], env=env, check=True, stdout=subprocess.DEVNULL)
        subprocess.run([ttl, "run", exported, "--input", os.path.join(tmp, "x.npy"), "--output", os.path.join(tmp, "t.npy")], env=env, check=True)
        r = subprocess.run([sys.executable, os.path.join(here, "check_keras_export.py"), exported, os.path.join(tmp, "x.npy"), os.path.join(tmp, "t.npy")])
        failed |= r.returncode != 0
sys.exit(1 if failed else 0)
