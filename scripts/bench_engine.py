#!/usr/bin/env python3
"""ttl's engine side by side with the tools a user would pick instead, on the same files:
onnxruntime for inference, PyTorch for a training step. Runs alternate (ttl, the other,
ttl, ...) so that both see the same machine, each in its own process; the best of each
round's runs is kept and the best round reported, with the ratio ttl / other.

Pinned: python 3.11, torch==2.13.0+cpu, torchvision==0.29.2 (--no-deps; model definitions
only), onnx==1.23.2, onnxruntime==1.31.1, numpy==2.4.6.
    swift build -c release && python3 scripts/bench_engine.py [--rounds 3] [--threads 2]
        [--models resnet18,resnet50,efficientnet-lite0] [--batches 32,1] [--no-train]
        [--variants default,TTL_LAYOUT=nhwc]
    python3 scripts/bench_engine.py --profile efficientnet-lite0 [--batches 32]

--variants runs ttl once per variant (environment settings joined by +, `default` for none) in each
round, so that a quiet machine says which engine choice is faster there. --profile prints,
for one model and batch, the time of every step of ttl's plan (`ttl-bench --model FILE
--profile`, steps named by their first node and oneDNN's kernel) beside onnxruntime's own
per-node profile (`SessionOptions.enable_profiling`) of the same file, both averaged over
the runs after the first, and their totals by kind of operation.

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

from machine import cpu_name, load_average  # scripts/machine.py

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


def model_file(m, work):
    if m == "efficientnet-lite0":
        return os.path.join(ROOT, "weights", "efficientnet-lite0.onnx")
    path = os.path.join(work, m + ".onnx")
    export(m, path)
    return path


def profile(a):
    """ttl's plan steps and onnxruntime's nodes for one model and batch, in execution order."""
    batch = int(a.batches.split(",")[0])
    work = tempfile.mkdtemp(prefix="ttl-bench-")
    path = model_file(a.profile, work)
    out = subprocess.run([a.ttl_bench, "--model", path, "--batch", str(batch), "--threads", str(a.threads), "--repeat", str(a.repeats),
                          "--profile"], check=True, capture_output=True, text=True).stdout.splitlines()
    steps = []
    for line in out[1:]:
        ms, label = line.strip().split(" ms  ", 1)
        steps.append((label, float(ms)))
    me = [sys.executable, os.path.abspath(__file__), "--child"]
    o = run_json(me + ["ort-profile", path, str(batch), str(a.threads), str(a.repeats)])
    print(f"CPU: {cpu_name()}; {a.threads} threads; {a.profile} batch {batch}; load average {load_average()}")
    print(out[0])
    print(f"onnxruntime: best run {o['best_run_ms']:.2f} ms")
    print()

    def kind(label):
        for k in ("winograd", "jit_1x1", "jit_dw", "brgconv_1x1", "brdgmm", "brgconv", "wino", "gemm", "pool", "Reorder", "Add", "Mul"):
            if k in label:
                return k
        return label.split(" ")[2] if label.startswith("step") else label

    ttl_kinds, ort_kinds = {}, {}
    for label, ms in steps:
        ttl_kinds[kind(label)] = ttl_kinds.get(kind(label), 0) + ms
    for _, op, ms in o["nodes"]:
        ort_kinds[op] = ort_kinds.get(op, 0) + ms
    width = max(len(l) for l, _ in steps)
    ttl_conv = [(l, ms) for l, ms in steps if " Conv" in l]
    ort_conv = [(n, ms) for n, op, ms in o["nodes"] if op in ("Conv", "FusedConv")]
    if len(ttl_conv) == len(ort_conv):
        print(f"{'ttl step':{width}}  {'ms':>8}  {'onnxruntime node':40}  {'ms':>8}  ttl/ort")
        for (l, t), (n, r) in zip(ttl_conv, ort_conv):
            print(f"{l:{width}}  {t:8.3f}  {n:40}  {r:8.3f}  {t / r if r else float('nan'):6.2f}")
        rest_t = [(l, ms) for l, ms in steps if " Conv" not in l]
        rest_o = [(n, ms) for n, op, ms in o["nodes"] if op not in ("Conv", "FusedConv")]
        for l, t in rest_t:
            print(f"{l:{width}}  {t:8.3f}")
        for n, r in rest_o:
            print(f"{'':{width}}  {'':8}  {n:40}  {r:8.3f}")
    else:
        for l, t in steps:
            print(f"{l:{width}}  {t:8.3f}")
        for n, op, r in o["nodes"]:
            print(f"{n + ' (' + op + ')':{width}}  {r:8.3f}")
    print()
    print("totals by kind (ms per run): ttl " + ", ".join(f"{k} {v:.2f}" for k, v in sorted(ttl_kinds.items(), key=lambda kv: -kv[1])))
    print("                      onnxruntime " + ", ".join(f"{k} {v:.2f}" for k, v in sorted(ort_kinds.items(), key=lambda kv: -kv[1])))
    print(f"sum of steps: ttl {sum(ms for _, ms in steps):.2f} ms, onnxruntime {sum(ms for _, _, ms in o['nodes']):.2f} ms")


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


def child_onnxruntime_profile(path, batch, threads, repeats):
    """onnxruntime's per-node times (ms per run, runs after the first) in execution order."""
    import numpy as np
    import onnxruntime as ort
    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    so.enable_profiling = True
    so.profile_file_prefix = os.path.join(tempfile.mkdtemp(prefix="ttl-ort-profile-"), "ort")
    so.log_severity_level = 3
    sess = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
    shape = [batch] + [d if isinstance(d, int) else 1 for d in sess.get_inputs()[0].shape[1:]]
    feed = {sess.get_inputs()[0].name: np.random.default_rng(1).uniform(-1, 1, shape).astype(np.float32)}
    for _ in range(repeats + 1):
        sess.run(None, feed)
    with open(sess.end_profiling()) as f:
        events = json.load(f)
    runs = [e for e in events if e.get("name") == "model_run"]
    start = runs[1]["ts"]
    nodes = {}
    for e in events:
        if e.get("cat") == "Node" and e["name"].endswith("_kernel_time") and e["ts"] >= start:
            key = (e["name"][: -len("_kernel_time")], e["args"].get("op_name", "?"))
            nodes[key] = nodes.get(key, 0) + e["dur"] / 1000 / (len(runs) - 1)
    whole = min(r["dur"] for r in runs[1:]) / 1000
    print(json.dumps({"nodes": [[n, op, ms] for (n, op), ms in nodes.items()], "best_run_ms": whole}))


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
    p.add_argument("--variants", default="default", help="comma-separated ttl environments, e.g. default,TTL_LAYOUT=nhwc,TTL_LAYOUT=nhwc+TTL_WINOGRAD=0 (settings joined by +)")
    p.add_argument("--profile", metavar="MODEL", help="per-step profiles of ttl and onnxruntime for one model")
    p.add_argument("--ttl-bench", default=os.path.join(ROOT, ".build/release/ttl-bench"))
    p.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    a = p.parse_args()
    if a.child:
        kind, target, batch, threads, repeats = a.child[0], a.child[1], int(a.child[2]), int(a.child[3]), int(a.child[4])
        {"ort": child_onnxruntime, "ort-profile": child_onnxruntime_profile, "torch": child_torch_train}[kind](target, batch, threads, repeats)
        return
    if a.profile:
        profile(a)
        return

    print(f"CPU: {cpu_name()}; {a.threads} threads; best of {a.repeats} runs per round, {a.rounds} alternating rounds; "
          f"load average {load_average()} at the start")
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
            variants = a.variants.split(",")
            ttl_best, ort_best = {v: None for v in variants}, None
            for _ in range(a.rounds):
                for v in variants:
                    venv = dict(env, **dict(kv.split("=", 1) for kv in v.split("+") if v != "default"))
                    t = run_json([a.ttl, "bench", path, "--batch", str(batch), "--threads", str(a.threads),
                                  "--repeats", str(a.repeats), "--json"], venv)
                    if ttl_best[v] is None or t["images_per_second"] > ttl_best[v]["images_per_second"]:
                        ttl_best[v] = t
                o = run_json(me + ["ort", path, str(batch), str(a.threads), str(a.repeats)])
                if ort_best is None or o["images_per_second"] > ort_best["images_per_second"]:
                    ort_best = o
            for v in variants:
                tb = ttl_best[v]
                rows.append(("inference" + ("" if v == "default" else f" ({v})"), m, batch, tb, ort_best, f"onnxruntime {ort_best['version']}"))
                print(f"{m:20} batch {batch:3} inference{'' if v == 'default' else ' (' + v + ')'}: ttl {tb['images_per_second']:7.1f} images/s "
                      f"({tb['seconds_per_batch'] * 1000:7.1f} ms, {tb['peak_memory_mib']:5.0f} MiB, plan "
                      f"{tb.get('plan_seconds', float('nan')) * 1000:5.1f} ms)  onnxruntime {ort_best['images_per_second']:7.1f} "
                      f"({ort_best['seconds_per_batch'] * 1000:7.1f} ms, {ort_best['peak_memory_mib']:5.0f} MiB)  "
                      f"ratio {tb['images_per_second'] / ort_best['images_per_second']:.2f}", flush=True)
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
    print(f"Measured on {cpu_name()}, {a.threads} threads, ttl engine: {rows[0][3]['engine'] if rows else '?'}; "
          f"load average {load_average()} at the end")
    print()
    print("| what | network | batch | ttl images/s | other images/s | ratio | ttl peak MiB | other peak MiB |")
    print("|---|---|---|---|---|---|---|---|")
    for what, m, batch, t, o, other in rows:
        print(f"| {what} vs {other} | {m} | {batch} | {t['images_per_second']:.1f} | {o['images_per_second']:.1f} | "
              f"{t['images_per_second'] / o['images_per_second']:.2f} | {t['peak_memory_mib']:.0f} | {o['peak_memory_mib']:.0f} |")


if __name__ == "__main__":
    main()
