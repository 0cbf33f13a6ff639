#!/usr/bin/env python3
"""ttl's engine side by side with the tools a user would pick instead, on the same files:
onnxruntime for inference, PyTorch for a training step. Runs alternate (ttl, the other,
ttl, ...) so that both see the same machine, each in its own process; the best of each
round's runs is kept and the best round reported, with the ratio ttl / other.

Pinned: python 3.11, torch==2.13.0+cpu, torchvision==0.29.2 (--no-deps; model definitions
only), onnx==1.23.2, onnxruntime==1.31.1, numpy==2.4.6.
    swift build -c release && python3 scripts/bench_engine.py [--rounds 3] [--threads 2]
        [--models resnet18,resnet50,efficientnet-lite0] [--batches 32,1] [--no-train]

Models: torchvision ResNet-18 and ResNet-50 with random weights (speed does not depend on
the values), exported by PyTorch's TorchScript exporter with a dynamic batch, and the
embedded EfficientNet-Lite0 (weights/efficientnet-lite0.onnx). The training step is
forward + cross-entropy + backward with layer4 and fc trainable (the rest frozen, its
batch norms in inference mode in both tools), from an export that keeps the batch norms
and the state dict's names (TrainingMode.PRESERVE).
"""
import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import types

HERE = os.path.dirname(os.path.abspath(__file__))


def peak_mib():
    """This process's peak resident memory. VmHWM, not ru_maxrss: on Linux a child's
    ru_maxrss starts from its parent's peak at fork, which here has PyTorch loaded."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
ROOT = os.path.dirname(HERE)


def cpu_name():
    name, flags = "unknown CPU", set()
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name") and name == "unknown CPU":
                name = line.split(":", 1)[1].strip()
            if line.startswith("flags") and not flags:
                flags = set(line.split(":", 1)[1].split())
    isa = "AVX-512" if "avx512f" in flags else "AVX2" if "avx2" in flags else "SSE"
    return f"{name} ({isa}, {os.cpu_count()} vCPUs)"


def torchvision_models():
    import torch
    sys.modules["torchvision._meta_registrations"] = types.ModuleType("torchvision._meta_registrations")
    import torchvision
    return torch, torchvision


def export(name, path, preserve=False):
    torch, torchvision = torchvision_models()
    torch.manual_seed(0)
    model = getattr(torchvision.models, name)(weights=None).eval()
    x = torch.randn(1, 3, 224, 224)
    kwargs = {}
    if preserve:
        kwargs = dict(training=torch.onnx.TrainingMode.PRESERVE, do_constant_folding=False)
    torch.onnx.export(model, (x,), path, dynamo=False, input_names=["input"], output_names=["logits"],
                      dynamic_axes={"input": {0: "N"}, "logits": {0: "N"}}, **kwargs)


# MARK: - children: one measurement each, printed as JSON

def child_onnxruntime(path, batch, threads, repeats):
    import numpy as np
    import onnxruntime as ort
    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    t0 = time.perf_counter()
    sess = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
    shape = [batch] + [d if isinstance(d, int) else 1 for d in sess.get_inputs()[0].shape[1:]]
    feed = {sess.get_inputs()[0].name: np.random.default_rng(1).uniform(-1, 1, shape).astype(np.float32)}
    sess.run(None, feed)
    setup = time.perf_counter() - t0
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        sess.run(None, feed)
        best = min(best, time.perf_counter() - t)
    peak = peak_mib()
    print(json.dumps({"images_per_second": batch / best, "seconds_per_batch": best, "peak_memory_mib": peak,
                      "setup_seconds": setup, "version": ort.__version__}))


def child_torch_train(name, batch, threads, repeats):
    torch, torchvision = torchvision_models()
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    model = getattr(torchvision.models, name)(weights=None)
    for p in model.parameters():
        p.requires_grad = False
    for m in (model.layer4, model.fc):
        for p in m.parameters():
            p.requires_grad = True
    model.eval()
    model.layer4.train()
    x = torch.empty(batch, 3, 224, 224).uniform_(-1, 1)
    labels = torch.arange(batch) % 1000
    loss_fn = torch.nn.CrossEntropyLoss()

    def step():
        model.zero_grad(set_to_none=True)
        loss = loss_fn(model(x), labels)
        loss.backward()

    step()
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        step()
        best = min(best, time.perf_counter() - t)
    peak = peak_mib()
    print(json.dumps({"images_per_second": batch / best, "seconds_per_batch": best, "peak_memory_mib": peak,
                      "version": torch.__version__}))


# MARK: - the driver

def run_json(cmd, env=None):
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, env=env)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--ttl", default=os.path.join(ROOT, ".build/release/ttl"))
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--models", default="resnet18,resnet50,efficientnet-lite0")
    p.add_argument("--batches", default="32,1")
    p.add_argument("--no-train", action="store_true")
    p.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    a = p.parse_args()
    if a.child:
        kind, target, batch, threads, repeats = a.child[0], a.child[1], int(a.child[2]), int(a.child[3]), int(a.child[4])
        (child_onnxruntime if kind == "ort" else child_torch_train)(target, batch, threads, repeats)
        return

    print(f"CPU: {cpu_name()}; {a.threads} threads; best of {a.repeats} runs per round, {a.rounds} alternating rounds")
    work = tempfile.mkdtemp(prefix="ttl-bench-")
    env = dict(os.environ, TTL_HOME=os.path.join(work, "home"))
    files = {}
    for m in a.models.split(","):
        if m == "efficientnet-lite0":
            files[m] = os.path.join(ROOT, "weights", "efficientnet-lite0.onnx")
        else:
            files[m] = os.path.join(work, m + ".onnx")
            export(m, files[m])
    me = [sys.executable, os.path.abspath(__file__), "--child"]
    rows = []
    for m, path in files.items():
        for batch in [int(b) for b in a.batches.split(",")]:
            ttl_best, ort_best = None, None
            for _ in range(a.rounds):
                t = run_json([a.ttl, "bench", path, "--batch", str(batch), "--threads", str(a.threads),
                              "--repeats", str(a.repeats), "--json"], env)
                o = run_json(me + ["ort", path, str(batch), str(a.threads), str(a.repeats)])
                if ttl_best is None or t["images_per_second"] > ttl_best["images_per_second"]:
                    ttl_best = t
                if ort_best is None or o["images_per_second"] > ort_best["images_per_second"]:
                    ort_best = o
            rows.append(("inference", m, batch, ttl_best, ort_best, f"onnxruntime {ort_best['version']}"))
            r = rows[-1]
            print(f"{m:20} batch {batch:3} inference: ttl {ttl_best['images_per_second']:7.1f} images/s "
                  f"({ttl_best['seconds_per_batch'] * 1000:7.1f} ms, {ttl_best['peak_memory_mib']:5.0f} MiB, plan "
                  f"{ttl_best.get('plan_seconds', float('nan')) * 1000:5.1f} ms)  onnxruntime {ort_best['images_per_second']:7.1f} "
                  f"({ort_best['seconds_per_batch'] * 1000:7.1f} ms, {ort_best['peak_memory_mib']:5.0f} MiB)  "
                  f"ratio {ttl_best['images_per_second'] / ort_best['images_per_second']:.2f}", flush=True)
    if not a.no_train:
        for m in [m for m in files if m.startswith("resnet")]:
            path = os.path.join(work, m + "-train.onnx")
            export(m, path, preserve=True)
            ttl_best, pt_best = None, None
            for _ in range(a.rounds):
                t = run_json([a.ttl, "bench", path, "--batch", "32", "--threads", str(a.threads), "--repeats", str(a.repeats),
                              "--train", "--unfreeze-from", "layer4", "--json"], env)
                o = run_json(me + ["torch", m, "32", str(a.threads), str(a.repeats)])
                if ttl_best is None or t["images_per_second"] > ttl_best["images_per_second"]:
                    ttl_best = t
                if pt_best is None or o["images_per_second"] > pt_best["images_per_second"]:
                    pt_best = o
            rows.append(("training step (layer4 + fc)", m, 32, ttl_best, pt_best, f"PyTorch {pt_best['version']}"))
            print(f"{m:20} batch  32 training step, layer4 + fc: ttl {ttl_best['images_per_second']:7.1f} images/s  "
                  f"PyTorch {pt_best['images_per_second']:7.1f}  ratio {ttl_best['images_per_second'] / pt_best['images_per_second']:.2f}",
                  flush=True)

    print()
    print(f"Measured on {cpu_name()}, {a.threads} threads, ttl engine: {rows[0][3]['engine'] if rows else '?'}")
    print()
    print("| what | network | batch | ttl images/s | other images/s | ratio | ttl peak MiB | other peak MiB |")
    print("|---|---|---|---|---|---|---|---|")
    for what, m, batch, t, o, other in rows:
        print(f"| {what} vs {other} | {m} | {batch} | {t['images_per_second']:.1f} | {o['images_per_second']:.1f} | "
              f"{t['images_per_second'] / o['images_per_second']:.2f} | {t['peak_memory_mib']:.0f} | {o['peak_memory_mib']:.0f} |")


if __name__ == "__main__":
    main()
