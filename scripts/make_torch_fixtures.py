#!/usr/bin/env python3
"""Fixtures of the PyTorch checkpoint and safetensors readers (Tests/TTLTorchTests/Fixtures).

Pinned: python 3.11, torch==2.13.0 (CPU), torchvision==0.29.2 (--no-deps; it imports
pillow==13.0.0), timm==1.0.31 (--no-deps), safetensors==0.8.0, numpy==2.4.6.
    pip install --no-deps torchvision==0.29.2 timm==1.0.31 && pip install pillow==13.0.0 safetensors==0.8.0

Everything is seeded; run from the repository root: python3 scripts/make_torch_fixtures.py
(the legacy files and the TorchScript archive differ in bytes from run to run: the legacy
format names storages by memory address; their contents do not).

  resnet_basic.*      a tiny torchvision-named ResNet (basic blocks [1,1,1,1], base width 4,
                      5 classes), input x [2,3,32,32] and its logits; saved as the zip format
                      (.pth), the legacy format (_legacy.pth), safetensors, a float16 state dict
                      (_f16.pth, logits_f16 computed with the rounded weights), bfloat16
                      safetensors (_bf16.safetensors, logits_bf16), and a training checkpoint
                      (_checkpoint.pth: 'module.'-prefixed model_state_dict beside epoch and SGD
                      optimizer state).
  resnext_tiny.*      bottlenecks [1,1,1,1], base width 8, 2 groups of width 16, 3 classes.
  storage_views_legacy.pth  the legacy format with storage views, as PyTorch before 1.0 wrote
                      them (a view's root key, offset and size in the persistent id): views of
                      a float32 and a float16 storage, a tensor offset inside a view, the root
                      itself, a view named twice; the values torch.load reads in storage_views/<key>.npy.
  tensors*.pth        (zip, ZIP64 copy, legacy) assorted tensors: float16/bfloat16/float64, a 0-d tensor, a transposed, a
                      strided, an expanded (stride 0) tensor, two views of one storage, an int64
                      num_batches_tracked, an nn.Parameter, a tensor with a Python attribute;
                      the expected values in tensors/<key>.npy (float32).
  effnet_tf_tiny.pth  timm's tf_efficientnet_lite0 recipe at channel multiplier 0.25, depth 0.5
                      (TF 'SAME' padding, eps 1e-3), 3 classes, and its logits on x.
  effnet_pt_tiny.safetensors  the same recipe as timm's efficientnet_lite0 (symmetric padding, eps 1e-5).
  effnet_lukemelas_tiny.pth   a tiny EfficientNet-Lite under efficientnet_pytorch's names.
  timm_keys.json      (key, shape) of timm's full-size tf_efficientnet_lite0.
  arch_keys.json      (key, shape) of every torchvision ResNet-family state dict, built on the meta device.
  bad/                inputs each refused with a typed error (see BAD below).
"""
import collections
import copy
import io
import json
import os
import pickle
import struct
import sys
import zipfile
import zlib

import numpy as np
import torch
import torch.nn as nn
import safetensors.torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tiny_models  # noqa: E402  (torchvision's blocks, a ResNet of any width)
import torchvision  # noqa: E402
import timm  # noqa: E402
from timm.models.efficientnet import _gen_efficientnet_lite  # noqa: E402

assert torch.__version__.startswith("2.13.0"), torch.__version__
assert torchvision.__version__.startswith("0.29.2"), torchvision.__version__
assert safetensors.__version__ == "0.8.0", safetensors.__version__
assert timm.__version__ == "1.0.31", timm.__version__

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Tests", "TTLTorchTests", "Fixtures")
os.makedirs(os.path.join(OUT, "tensors"), exist_ok=True)
os.makedirs(os.path.join(OUT, "bad"), exist_ok=True)


def path(*parts):
    return os.path.join(OUT, *parts)


def npy(name, t):
    np.save(path(name), t.detach().to(torch.float32).numpy())


# ---- tiny networks with torchvision's names -------------------------------------------------
def tiny(block, layers, base, classes, groups=1, width_per_group=64, seed=0):
    torch.manual_seed(seed)
    m = tiny_models.TinyResNet(block, layers, base=base, groups=groups, width_per_group=width_per_group, classes=classes)
    tiny_models.randomise_batch_norms(m)
    return m.eval()


torch.manual_seed(100)
x = torch.randn(2, 3, 32, 32)
npy("x.npy", x)

resnet = tiny(tiny_models.BasicBlock, [1, 1, 1, 1], base=4, classes=5)
sd = resnet.state_dict()
with torch.no_grad():
    npy("resnet_basic_logits.npy", resnet(x))
torch.save(sd, path("resnet_basic.pth"))
torch.save(sd, path("resnet_basic_legacy.pth"), _use_new_zipfile_serialization=False)
safetensors.torch.save_file(sd, path("resnet_basic.safetensors"), metadata={"source": "make_torch_fixtures.py"})

for dtype, name, save in [(torch.float16, "f16", "pth"), (torch.bfloat16, "bf16", "safetensors")]:
    low = {k: (v.to(dtype) if v.is_floating_point() else v) for k, v in sd.items()}
    if save == "pth":
        torch.save(low, path(f"resnet_basic_{name}.pth"))
    else:
        safetensors.torch.save_file(low, path(f"resnet_basic_{name}.safetensors"))
    rounded = copy.deepcopy(resnet)
    rounded.load_state_dict({k: v.to(torch.float32) if v.is_floating_point() else v for k, v in low.items()})
    with torch.no_grad():
        npy(f"resnet_basic_logits_{name}.npy", rounded.eval()(x))

# A training checkpoint as people save one: DataParallel names, optimizer state, counters.
trainee = copy.deepcopy(resnet).train()
optimizer = torch.optim.SGD(trainee.parameters(), lr=0.1, momentum=0.9)
trainee(x).sum().backward()
optimizer.step()
torch.save({"epoch": 3, "best_acc": 0.5, "model_state_dict": {"module." + k: v for k, v in sd.items()},
            "optimizer_state_dict": optimizer.state_dict()}, path("resnet_basic_checkpoint.pth"))

resnext = tiny(tiny_models.Bottleneck, [1, 1, 1, 1], base=8, classes=3, groups=2, width_per_group=16, seed=1)
with torch.no_grad():
    npy("resnext_tiny_logits.npy", resnext(x))
torch.save(resnext.state_dict(), path("resnext_tiny.pth"))

# ---- EfficientNet-Lite under timm's and efficientnet_pytorch's names -----------------------------
for name, variant, kwargs, save in [("effnet_tf_tiny", "tf_efficientnet_lite0", dict(bn_eps=1e-3, pad_type="same"), "pth"),
                                    ("effnet_pt_tiny", "efficientnet_lite0", {}, "safetensors")]:
    torch.manual_seed(2)
    m = _gen_efficientnet_lite(variant, channel_multiplier=0.25, depth_multiplier=0.5, num_classes=3, **kwargs)
    tiny_models.randomise_batch_norms(m)
    m.eval()
    with torch.no_grad():
        npy(f"{name}_logits.npy", m(x))
    if save == "pth":
        torch.save(m.state_dict(), path(f"{name}.pth"))
    else:
        safetensors.torch.save_file(m.state_dict(), path(f"{name}.safetensors"))
torch.manual_seed(4)
lukemelas = tiny_models.TinyEfficientNetLite(8, [(1, 3, 1, 8, 8, 1), (6, 3, 2, 8, 12, 2), (6, 5, 2, 12, 16, 1), (6, 3, 2, 16, 20, 2),
                                                 (6, 5, 1, 20, 24, 1), (6, 5, 2, 24, 28, 2), (6, 3, 1, 28, 32, 1)], 48, 4, 32)
tiny_models.randomise_batch_norms(lukemelas)
lukemelas.eval()
with torch.no_grad():
    npy("effnet_lukemelas_tiny_logits.npy", lukemelas(x))
torch.save(lukemelas.state_dict(), path("effnet_lukemelas_tiny.pth"))
with torch.device("meta"):
    full = timm.create_model("tf_efficientnet_lite0", pretrained=False)
with open(path("timm_keys.json"), "w") as f:
    json.dump([[k, list(v.shape)] for k, v in full.state_dict().items()], f, separators=(",", ":"))

# ---- assorted tensors ---------------------------------------------------------------------------
g = torch.Generator().manual_seed(3)
base = torch.randn(12, generator=g)
tensors = {
    "a.f32": torch.randn(2, 3, generator=g),
    "b.f16": torch.randn(4, generator=g).half(),
    "c.bf16": torch.randn(3, 2, generator=g).bfloat16(),
    "d.f64": torch.randn(2, 2, generator=g).double(),
    "e.scalar": torch.tensor(3.5),
    "f.transposed": torch.randn(3, 4, generator=g).t(),
    "g.shared_a": base[0:2],
    "g.shared_b": base[2:8].view(2, 3),
    "h.num_batches_tracked": torch.tensor(7),
    "i.expanded": torch.randn(3, 1, generator=g).expand(3, 4),
    "j.sliced": torch.randn(4, 6, generator=g)[:, 1:5:2],
    "k.empty": torch.zeros(0, 3),
    "l.parameter": nn.Parameter(torch.randn(2, 2, generator=g)),  # pickled through _rebuild_parameter
}
with_attribute = torch.randn(3, generator=g)
with_attribute.note = "x"  # a tensor with Python state: pickled through _rebuild_from_type_v2
tensors["m.with_attribute"] = with_attribute
assert not tensors["f.transposed"].is_contiguous() and tensors["i.expanded"].stride() == (1, 0)
assert tensors["g.shared_a"].untyped_storage().data_ptr() == tensors["g.shared_b"].untyped_storage().data_ptr()
for k, v in tensors.items():
    if v.is_floating_point():
        npy(os.path.join("tensors", k + ".npy"), v)
torch.save(tensors, path("tensors.pth"))
torch.save(tensors, path("tensors_legacy.pth"), _use_new_zipfile_serialization=False)
safetensors.torch.save_file({k: v.detach().contiguous().clone() for k, v in tensors.items()}, path("tensors.safetensors"),
                            metadata={"note": "contiguous copies"})



def zip64_copy(src, dst):
    """The same archive with every size and offset in ZIP64 fields (32-bit ones saturated), a ZIP64
    end-of-central-directory record and its locator: what torch.save writes past 4 GiB."""
    zin = zipfile.ZipFile(src)
    out, central = bytearray(), bytearray()
    for info in zin.infolist():
        data, name = zin.read(info.filename), info.filename.encode()
        crc, offset = zlib.crc32(data), len(out)
        local_extra = struct.pack("<HHQQ", 1, 16, len(data), len(data))
        out += struct.pack("<IHHHHHIIIHH", 0x04034B50, 45, 0, 0, 0, 0x21, crc, 0xFFFFFFFF, 0xFFFFFFFF, len(name), len(local_extra))
        out += name + local_extra + data
        extra = struct.pack("<HHQQQ", 1, 24, len(data), len(data), offset)
        central += struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 45, 45, 0, 0, 0, 0x21, crc, 0xFFFFFFFF, 0xFFFFFFFF,
                               len(name), len(extra), 0, 0, 0, 0, 0xFFFFFFFF) + name + extra
    start, count = len(out), len(zin.infolist())
    out += central
    record = len(out)
    out += struct.pack("<IQHHIIQQQQ", 0x06064B50, 44, 45, 45, 0, 0, count, count, len(central), start)
    out += struct.pack("<IIQI", 0x07064B50, 0, record, 1)
    out += struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, 0xFFFF, 0xFFFF, 0xFFFFFFFF, 0xFFFFFFFF, 0)
    with open(dst, "wb") as f:
        f.write(out)
    back = torch.load(dst, weights_only=True)  # PyTorch reads it too
    assert back.keys() == torch.load(src, weights_only=True).keys()


zip64_copy(path("tensors.pth"), path("tensors_zip64.pth"))

# ---- architecture detection: every torchvision ResNet-family state dict's keys and shapes --------
keys = {}
for name in ["resnet18", "resnet34", "resnet50", "resnet101", "resnet152", "resnext50_32x4d", "resnext101_32x8d",
             "wide_resnet50_2", "wide_resnet101_2"]:
    with torch.device("meta"):
        m = getattr(torchvision.models, name)(weights=None)
    keys[name] = [[k, list(v.shape)] for k, v in m.state_dict().items()]
with open(path("arch_keys.json"), "w") as f:
    json.dump(keys, f, separators=(",", ":"))



# ---- bad inputs ---------------------------------------------------------------------------------
def torch_zip(name, pickle_bytes, records=(), compress_pickle=False, duplicate=None):
    """A zip laid out as torch.save lays it out: archive/data.pkl, data/<key>, byteorder, version
    (fixed timestamps, so that the bytes do not change from run to run)."""
    def put(z, member, data, compress=zipfile.ZIP_STORED):
        z.writestr(zipfile.ZipInfo(member, date_time=(1980, 1, 1, 0, 0, 0)), data, compress_type=compress)

    with zipfile.ZipFile(path("bad", name), "w", zipfile.ZIP_STORED) as z:
        put(z, "archive/data.pkl", pickle_bytes, zipfile.ZIP_DEFLATED if compress_pickle else zipfile.ZIP_STORED)
        put(z, "archive/byteorder", "little")
        for key, data in records:
            put(z, f"archive/data/{key}", data)
        if duplicate:
            import warnings
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                put(z, f"archive/{duplicate}", b"x")
        put(z, "archive/version", "3\n")


class FakeStorage:
    def __init__(self, key, cls, numel):
        self.key, self.cls, self.numel = key, cls, numel


class FakeTensor:
    """Pickles exactly as a tensor does, with whatever offset, sizes and strides are given."""

    def __init__(self, storage, offset, size, stride):
        self.args = (storage, offset, tuple(size), tuple(stride), False, collections.OrderedDict())

    def __reduce__(self):
        return (torch._utils._rebuild_tensor_v2, self.args)


class TorchPickler(pickle.Pickler):
    def persistent_id(self, obj):
        if isinstance(obj, FakeStorage):
            return ("storage", obj.cls, obj.key, "cpu", obj.numel)
        return None


def torch_pickle(obj):
    buf = io.BytesIO()
    TorchPickler(buf, protocol=2).dump(obj)
    return buf.getvalue()


# ---- legacy storage views -----------------------------------------------------------------------
# torch.save no longer writes views (its _legacy_save always passes view_metadata None), so the
# file is written here in the format's layout (torch/serialization.py, _legacy_save and, for the
# views, PyTorch 0.4's persistent_id: view_metadata = (view_key, offset, view_size) in elements),
# and torch.load reads the expected values from it.
class LegacyStorage:
    def __init__(self, key, cls, numel, view=None):
        self.key, self.cls, self.numel, self.view = key, cls, numel, view


class LegacyPickler(pickle.Pickler):
    def persistent_id(self, obj):
        if isinstance(obj, LegacyStorage):
            return ("storage", obj.cls, obj.key, "cpu", obj.numel, obj.view)
        return None


def legacy_file(file, obj, storages):
    """Magic number, protocol 1001, sys_info, the object's pickle, the sorted storage keys, then
    each storage as its int64 element count and its bytes."""
    buf = io.BytesIO()
    for header in [0x1950A86A20F9469CFC6C, 1001,
                   {"protocol_version": 1001, "little_endian": True, "type_sizes": {"short": 2, "int": 4, "long": 4}}]:
        pickle.dump(header, buf, protocol=2)
    LegacyPickler(buf, protocol=2).dump(obj)
    keys = sorted(storages)
    pickle.dump(keys, buf, protocol=2)
    for key in keys:
        numel, data = storages[key]
        buf.write(struct.pack("<q", numel) + data)
    with open(file, "wb") as f:
        f.write(buf.getvalue())


view_root = torch.randn(12, generator=torch.Generator().manual_seed(5))
view_half = torch.randn(8, generator=torch.Generator().manual_seed(6)).half()
F32, F16 = torch.FloatStorage, torch.HalfStorage
legacy_file(path("storage_views_legacy.pth"), collections.OrderedDict([
    ("a.view", FakeTensor(LegacyStorage("0", F32, 12, ("10", 2, 6)), 0, [2, 3], [3, 1])),
    ("b.offset_in_view", FakeTensor(LegacyStorage("0", F32, 12, ("11", 8, 4)), 1, [3], [1])),
    ("c.root", FakeTensor(LegacyStorage("0", F32, 12), 0, [12], [1])),
    ("d.half_view", FakeTensor(LegacyStorage("1", F16, 8, ("12", 3, 4)), 0, [2, 2], [1, 2])),
    ("e.view_again", FakeTensor(LegacyStorage("0", F32, 12, ("10", 2, 6)), 4, [2], [1])),
]), {"0": (12, view_root.numpy().tobytes()), "1": (8, view_half.numpy().tobytes())})
views = torch.load(path("storage_views_legacy.pth"), weights_only=True)
assert torch.equal(views["a.view"], view_root[2:8].view(2, 3)) and torch.equal(views["b.offset_in_view"], view_root[9:12])
assert torch.equal(views["d.half_view"], view_half[3:7].view(2, 2).t())
os.makedirs(path("storage_views"), exist_ok=True)
for k, v in views.items():
    npy(os.path.join("storage_views", k + ".npy"), v)


class System:
    def __reduce__(self):
        return (os.system, ("touch /tmp/ttl_torch_pwned_system",))


class Eval:
    def __reduce__(self):
        return (eval, ("open('/tmp/ttl_torch_pwned_eval', 'w')",))


floats6 = struct.pack("<6f", *range(6))
BAD = {}  # file → what the Swift test expects (the error case)
torch_zip("os_system.pth", pickle.dumps(System(), protocol=2)); BAD["os_system.pth"] = "forbiddenGlobal"
torch_zip("builtins_eval.pth", pickle.dumps(Eval(), protocol=2)); BAD["builtins_eval.pth"] = "forbiddenGlobal"
s = FakeStorage("0", torch.FloatStorage, 6)
torch_zip("reduce_in_state_dict.pth", torch_pickle(collections.OrderedDict([("w", FakeTensor(s, 0, [6], [1])), ("x", System())])),
          [("0", floats6)]); BAD["reduce_in_state_dict.pth"] = "forbiddenGlobal"
torch_zip("build_on_list.pth", b"\x80\x02]q\x00}b."); BAD["build_on_list.pth"] = "pickle"
torch_zip("setitem_on_list.pth", b"\x80\x02]X\x01\x00\x00\x00aK\x01s."); BAD["setitem_on_list.pth"] = "pickle"
torch_zip("newobj.pth", b"\x80\x02)\x81."); BAD["newobj.pth"] = "forbiddenOpcode"
torch_zip("short_storage.pth", torch_pickle({"w": FakeTensor(s, 0, [6], [1])}), [("0", floats6[:20])]); BAD["short_storage.pth"] = "storage"
torch_zip("missing_storage.pth", torch_pickle({"w": FakeTensor(s, 0, [6], [1])})); BAD["missing_storage.pth"] = "storage"
torch_zip("strides_past_storage.pth", torch_pickle({"w": FakeTensor(s, 0, [2, 3], [3, 2])}), [("0", floats6)]); BAD["strides_past_storage.pth"] = "tensor"
torch_zip("offset_past_storage.pth", torch_pickle({"w": FakeTensor(s, 4, [3], [1])}), [("0", floats6)]); BAD["offset_past_storage.pth"] = "tensor"
torch_zip("huge_dimension.pth", torch_pickle({"w": FakeTensor(s, 0, [2 ** 62, 4], [4, 1])}), [("0", floats6)]); BAD["huge_dimension.pth"] = "tensor"
torch_zip("stride_overflow.pth", torch_pickle({"w": FakeTensor(s, 0, [2, 2], [2 ** 62, 2 ** 62])}), [("0", floats6)]); BAD["stride_overflow.pth"] = "tensor"
torch_zip("view_amplification.pth", torch_pickle({"w": FakeTensor(s, 0, [2 ** 20, 64], [0, 0])}), [("0", floats6)]); BAD["view_amplification.pth"] = "tensor"
torch_zip("int32_tensor.pth", torch_pickle({"w": FakeTensor(FakeStorage("0", torch.IntStorage, 6), 0, [6], [1])}), [("0", floats6)]); BAD["int32_tensor.pth"] = "unsupportedDType"
torch_zip("duplicate_entry.pth", torch_pickle({"w": FakeTensor(s, 0, [6], [1])}), [("0", floats6)], duplicate="data/0"); BAD["duplicate_entry.pth"] = "zip"
torch_zip("compressed_pickle.pth", torch_pickle({"w": FakeTensor(s, 0, [6], [1])}) + b"\x00" * 100000, [("0", floats6)], compress_pickle=True); BAD["compressed_pickle.pth"] = "zip"
torch.save({"epoch": 3, "lr": 0.1}, path("bad", "no_state_dict.pth")); BAD["no_state_dict.pth"] = "noStateDict"

# PyTorch < 0.4 wrote a tar of sys_info, pickle, tensors and storages.
import tarfile  # noqa: E402
with tarfile.open(path("bad", "old_tar.pth"), "w", format=tarfile.USTAR_FORMAT) as tar:
    for member in ["sys_info", "pickle", "tensors", "storages"]:
        info = tarfile.TarInfo(member)
        info.size, info.mtime = 4, 0
        tar.addfile(info, io.BytesIO(b"\x80\x02N."))
BAD["old_tar.pth"] = "tarFormat"
with open(path("bad", "not_a_checkpoint.pth"), "wb") as f:
    f.write(b"this is not a checkpoint at all\n" * 4)
BAD["not_a_checkpoint.pth"] = "unknownFormat"
torch.jit.script(nn.Linear(2, 2)).save(path("bad", "torchscript.pt")); BAD["torchscript.pt"] = "torchScript"
with open(path("resnet_basic.pth"), "rb") as f:
    whole = f.read()
with open(path("bad", "truncated.pth"), "wb") as f:
    f.write(whole[: len(whole) // 2])
BAD["truncated.pth"] = "zip"
with open(path("resnet_basic_legacy.pth"), "rb") as f:
    whole = f.read()
with open(path("bad", "truncated_legacy.pth"), "wb") as f:
    f.write(whole[:-100])
BAD["truncated_legacy.pth"] = "storage"
# A view reaching past its root storage (torch.load slices it short without a word), and one
# view key given two different offsets (torch.load keeps the first).
legacy_file(path("bad", "legacy_view_past_storage.pth"),
            {"w": FakeTensor(LegacyStorage("0", F32, 6, ("10", 4, 4)), 0, [4], [1])}, {"0": (6, floats6)})
BAD["legacy_view_past_storage.pth"] = "storage"
legacy_file(path("bad", "legacy_view_redefined.pth"),
            {"w": FakeTensor(LegacyStorage("0", F32, 6, ("10", 0, 2)), 0, [2], [1]),
             "x": FakeTensor(LegacyStorage("0", F32, 6, ("10", 2, 2)), 0, [2], [1])}, {"0": (6, floats6)})
BAD["legacy_view_redefined.pth"] = "storage"


def safetensors_file(name, header, data, claimed=None):
    h = json.dumps(header).encode() if isinstance(header, dict) else header
    with open(path("bad", name), "wb") as f:
        f.write(struct.pack("<Q", claimed if claimed is not None else len(h)) + h + data)


t = lambda begin, end, shape=(2,), dtype="F32": {"dtype": dtype, "shape": list(shape), "data_offsets": [begin, end]}  # noqa: E731
safetensors_file("st_overlap.safetensors", {"a": t(0, 8), "b": t(4, 12)}, bytes(12)); BAD["st_overlap.safetensors"] = "tensor"
safetensors_file("st_gap.safetensors", {"a": t(0, 8), "b": t(12, 20)}, bytes(20)); BAD["st_gap.safetensors"] = "tensor"
safetensors_file("st_past_end.safetensors", {"a": t(0, 8), "b": t(8, 16)}, bytes(12)); BAD["st_past_end.safetensors"] = "tensor"
safetensors_file("st_trailing.safetensors", {"a": t(0, 8)}, bytes(12)); BAD["st_trailing.safetensors"] = "header"
safetensors_file("st_wrong_length.safetensors", {"a": t(0, 12)}, bytes(12)); BAD["st_wrong_length.safetensors"] = "tensor"
safetensors_file("st_unknown_dtype.safetensors", {"a": t(0, 8, dtype="Q7")}, bytes(8)); BAD["st_unknown_dtype.safetensors"] = "unsupportedDType"
safetensors_file("st_duplicate_key.safetensors",
                 b'{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"a":{"dtype":"F32","shape":[2],"data_offsets":[8,16]}}',
                 bytes(16)); BAD["st_duplicate_key.safetensors"] = "header"
safetensors_file("st_huge_header.safetensors", b'{"a":1}', bytes(8), claimed=10 ** 9); BAD["st_huge_header.safetensors"] = "header"
safetensors_file("st_header_past_end.safetensors", b'{"a":1}', b"", claimed=4096); BAD["st_header_past_end.safetensors"] = "header"
safetensors_file("st_offset_overflow.safetensors", {"a": t(0, 2 ** 63 + 7)}, bytes(8)); BAD["st_offset_overflow.safetensors"] = "header"
safetensors_file("st_huge_shape.safetensors", {"a": t(0, 8, shape=(2 ** 62, 2 ** 3))}, bytes(8)); BAD["st_huge_shape.safetensors"] = "tensor"

with open(path("bad", "expected.json"), "w") as f:
    json.dump(BAD, f, indent=1, sort_keys=True)
print(f"wrote {len(os.listdir(OUT))} entries in {OUT} ({len(BAD)} bad inputs)")
