#!/usr/bin/env python3
"""Writes the torch.save fixtures that tests/test_hf_pytorch_checkpoint.cpp reads without Python.

    venv=$(scripts/python_env.sh)
    "$venv/bin/python" tests/data/pytorch_checkpoints/generate.py [OUT_DIR]   # default: this folder

Every .bin is written by PyPI torch's own torch.save, except where a test needs a file torch never
writes (a zip64 layout, a hostile or corrupt file: those are built here, and the zip64 one is
checked by torch.load). Beside each good file, <name>.expected.safetensors holds what torch reads
from it: every floating tensor as float32 (torch's own upcast), every integer/bool tensor as int64,
contiguous; manifest.json holds each tensor's dtype, shape, storage offset, strides, contiguity and
which tensors share a storage.

transformers 5 no longer writes pytorch_model.bin (save_pretrained has no safe_serialization=False);
what transformers 4 wrote there was torch.save(model.state_dict()) (split into shards when large),
and that is what distilbert_seqcls/ holds, beside the model's config.json.
"""

import collections
import io
import json
import os
import struct
import sys
import zipfile
import zlib

import torch
import transformers
from safetensors.torch import save_file

HERE = os.path.dirname(os.path.abspath(__file__))
SAFETENSORS_DTYPE = {
    torch.float64: "F64", torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16",
    torch.int64: "I64", torch.int32: "I32", torch.int16: "I16", torch.int8: "I8", torch.uint8: "U8",
    torch.bool: "BOOL",
}


def expected_values(state_dict):
    out = {}
    for name, t in state_dict.items():
        t = t.detach()
        out[name] = (t.float() if t.is_floating_point() else t.long()).contiguous().clone()
    return out


def describe(state_dict):
    groups = {}
    tensors = []
    for name, t in state_dict.items():
        ptr = t.untyped_storage().data_ptr()
        groups.setdefault(ptr, len(groups))
        tensors.append({
            "name": name,
            "dtype": SAFETENSORS_DTYPE[t.dtype],
            "shape": list(t.shape),
            "storage_offset": t.storage_offset(),
            "stride": list(t.stride()),
            "contiguous": t.is_contiguous(),
            "storage": groups[ptr],
        })
    return tensors


def save_good(out, relative, state_dict, manifest, **save_kwargs):
    path = os.path.join(out, relative)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    torch.save(state_dict, path, **save_kwargs)
    # torch's weights_only loader does not know protocol 4's FRAME; this file is our own.
    loaded = torch.load(path, weights_only="pickle_protocol" not in save_kwargs)
    assert list(loaded) == list(state_dict)
    expected = expected_values(state_dict)
    save_file(expected, path + ".expected.safetensors")
    for name, t in expected_values(loaded).items():
        assert torch.equal(t, expected[name]) or torch.allclose(t, expected[name], equal_nan=True), name
    manifest[relative] = {"archive": zip_archive_name(path), "expected": relative + ".expected.safetensors",
                          "tensors": describe(state_dict)}
    return path


def zip_archive_name(path):
    with zipfile.ZipFile(path) as z:
        return next(n for n in z.namelist() if n.endswith("/data.pkl")).split("/")[0]


def zip_entries(path):
    with zipfile.ZipFile(path) as z:
        return [(info.filename, z.read(info.filename)) for info in z.infolist()]


def write_zip(path, entries, compression=zipfile.ZIP_STORED):
    with zipfile.ZipFile(path, "w", compression=compression) as z:
        for name, data in entries:
            z.writestr(name, data)


def write_zip64(path, entries):
    """Stored entries with every size and offset in zip64 fields: local and central extras, the
    zip64 end record and its locator, and a classic end record whose fields all say 'see zip64'."""
    out = bytearray()
    central = bytearray()
    for name, data in entries:
        n = name.encode()
        crc = zlib.crc32(data)
        offset = len(out)
        extra = struct.pack("<HHQQ", 1, 16, len(data), len(data))
        out += struct.pack("<IHHHHHIIIHH", 0x04034B50, 45, 0, 0, 0, 0x21, crc, 0xFFFFFFFF, 0xFFFFFFFF,
                           len(n), len(extra)) + n + extra + data
        cextra = struct.pack("<HHQQQ", 1, 24, len(data), len(data), offset)
        central += struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 45, 45, 0, 0, 0, 0x21, crc, 0xFFFFFFFF,
                               0xFFFFFFFF, len(n), len(cextra), 0, 0, 0, 0, 0xFFFFFFFF) + n + cextra
    cd_offset = len(out)
    out += central
    z64 = len(out)
    out += struct.pack("<IQHHIIQQQQ", 0x06064B50, 44, 45, 45, 0, 0, len(entries), len(entries), len(central),
                       cd_offset)
    out += struct.pack("<IIQI", 0x07064B50, 0, z64, 1)
    out += struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, 0xFFFF, 0xFFFF, 0xFFFFFFFF, 0xFFFFFFFF, 0)
    with open(path, "wb") as f:
        f.write(out)


class _Storage:
    def __init__(self, key, numel):
        self.key, self.numel = key, numel


class _Tensor:
    """Pickles as torch's _rebuild_tensor_v2 call with any (also impossible) offset and stride."""

    def __init__(self, storage, offset, size, stride):
        self.args = (storage, offset, tuple(size), tuple(stride), False, collections.OrderedDict())

    def __reduce__(self):
        return (torch._utils._rebuild_tensor_v2, self.args)


class _TorchPickler(__import__("pickle").Pickler):
    def persistent_id(self, obj):
        if isinstance(obj, _Storage):
            return ("storage", torch.FloatStorage, obj.key, "cpu", obj.numel)
        return None


def crafted_checkpoint(path, state, storages):
    """A torch-layout zip whose data.pkl pickles `state` (holding _Tensor/_Storage stand-ins) the way
    torch.save does (protocol 2), with storage entries `storages` {key: bytes}."""
    buffer = io.BytesIO()
    _TorchPickler(buffer, protocol=2).dump(state)
    archive = os.path.splitext(os.path.basename(path))[0]
    entries = [(f"{archive}/data.pkl", buffer.getvalue()), (f"{archive}/byteorder", b"little")]
    entries += [(f"{archive}/data/{key}", data) for key, data in storages.items()]
    entries.append((f"{archive}/version", b"3\n"))
    write_zip(path, entries)


def handmade_state_dict():
    g = torch.Generator().manual_seed(0)
    base = torch.randn(4, 6, generator=g)
    sd = collections.OrderedDict()
    sd["f32.matrix"] = base
    sd["f32.transposed"] = base.t()              # a non-contiguous view of the same storage
    sd["f32.rows"] = base[1:3]                   # contiguous, storage offset 6
    sd["f32.columns"] = base[:, 1::2]            # storage offset 1, strides (6, 2)
    sd["f32.tied"] = base                        # one tensor under two names (tied weights)
    sd["f32.scalar"] = torch.tensor(3.25)        # 0-d
    sd["f32.empty"] = torch.empty(0, 3)
    sd["f32.parameter"] = torch.nn.Parameter(torch.randn(3, generator=g))  # _rebuild_parameter
    sd["position_ids"] = torch.arange(8).expand((1, -1))   # int64, as BERT's buffer
    sd["f32.size1_stride0"] = torch.arange(5.0).as_strided((1, 5), (0, 1))  # a size-1 dim may have any stride
    sd["f32.as_strided"] = torch.randn(24, generator=g).as_strided((3, 2, 2), (5, 1, 9), 3)  # overlapping
    sd["f16"] = torch.randn(3, 5, generator=g).half()
    sd["f16.special"] = torch.tensor([float("inf"), float("-inf"), float("nan"), 6.0e-8, 3.0e-5, 65504.0,
                                      -0.0, 1.0 / 3.0], dtype=torch.float16)
    sd["bf16"] = torch.randn(2, 7, generator=g).bfloat16()
    sd["bf16.permuted"] = torch.randn(2, 3, 4, generator=g).bfloat16().permute(2, 0, 1)
    sd["f64"] = torch.randn(5, generator=g, dtype=torch.float64) * 1e3
    sd["f64.tiny"] = torch.tensor([1e-300, -1e300, 0.1], dtype=torch.float64)  # rounds to 0 / -inf / 0.1f
    sd["i64"] = torch.tensor([-(2**62), -1, 0, 1, 2**62 + 3])
    sd["i32"] = torch.tensor([-(2**31), 2**31 - 1, 7], dtype=torch.int32)
    sd["i16"] = torch.tensor([-32768, 32767, -2], dtype=torch.int16)
    sd["i8"] = torch.tensor([-128, 127, 0], dtype=torch.int8)
    sd["u8"] = torch.tensor([0, 200, 255], dtype=torch.uint8)
    sd["bool"] = torch.tensor([True, False, True])
    sd["i64.transposed"] = torch.arange(12).reshape(3, 4).t()
    sd._metadata = collections.OrderedDict({"": {"version": 1}})  # as nn.Module.state_dict sets it
    return sd


def main():
    out = os.path.abspath(sys.argv[1]) if len(sys.argv) > 1 else HERE
    os.makedirs(os.path.join(out, "bad"), exist_ok=True)
    manifest = {"torch": torch.__version__, "transformers": transformers.__version__, "files": {}}
    files = manifest["files"]

    # A tiny HF model's state dict, as transformers 4's save_pretrained(safe_serialization=False) wrote it.
    config = transformers.DistilBertConfig(vocab_size=64, dim=16, n_layers=1, n_heads=2, hidden_dim=32,
                                           max_position_embeddings=16, num_labels=3)
    torch.manual_seed(0)
    model = transformers.DistilBertForSequenceClassification(config).eval()
    save_good(out, "distilbert_seqcls/pytorch_model.bin", model.state_dict(), files)
    model.config.save_pretrained(os.path.join(out, "distilbert_seqcls"))
    # The masked-LM head ties vocab_projector.weight to the word embeddings: one storage, two names.
    torch.manual_seed(1)
    mlm = transformers.DistilBertForMaskedLM(config).eval()
    mlm_sd = mlm.state_dict()
    assert mlm_sd["vocab_projector.weight"].data_ptr() == mlm_sd["distilbert.embeddings.word_embeddings.weight"].data_ptr()
    save_good(out, "distilbert_mlm.bin", mlm_sd, files)

    handmade = handmade_state_dict()
    path = save_good(out, "handmade.bin", handmade, files)
    # The same tensors in a plain dict at pickle protocol 4 (FRAME, MEMOIZE, STACK_GLOBAL, SHORT_BINUNICODE).
    save_good(out, "handmade_protocol4.bin", dict(handmade), files, pickle_protocol=4)
    # The same entries again with every zip field in its zip64 form; torch must read it as well.
    write_zip64(os.path.join(out, "handmade_zip64.bin"), zip_entries(path))
    reread = torch.load(os.path.join(out, "handmade_zip64.bin"), weights_only=True)
    for name, t in handmade.items():
        assert torch.equal(reread[name], t) or torch.allclose(reread[name], t, equal_nan=True), name
    files["handmade_zip64.bin"] = dict(files["handmade.bin"])  # same archive name and entries, same expectations

    # Files ftlib must refuse, each with its own message.
    small = {"w": torch.arange(4, dtype=torch.float32)}
    bad = lambda name: os.path.join(out, "bad", name)  # noqa: E731
    torch.save(small, bad("legacy.bin"), _use_new_zipfile_serialization=False)
    torch.save(small, bad("small.bin"))
    write_zip(bad("deflated.bin"), zip_entries(bad("small.bin")), zipfile.ZIP_DEFLATED)
    write_zip(bad("missing_storage.bin"), [e for e in zip_entries(bad("small.bin")) if "/data/" not in e[0]])
    write_zip(bad("short_storage.bin"),
              [(n, d[:8] if "/data/" in n else d) for n, d in zip_entries(bad("small.bin"))])
    os.remove(bad("small.bin"))
    torch.save([torch.ones(2)], bad("list.bin"))
    torch.save({"w": torch.ones(2), "epoch": 3}, bad("not_a_tensor.bin"))
    torch.save({"u16": torch.tensor([1, 2, 65535], dtype=torch.uint16)}, bad("uint16.bin"))  # _rebuild_tensor_v3
    torch.save({"e": torch.zeros(3).expand(4, 3)}, bad("expanded.bin"))
    four = {"0": struct.pack("<4f", 1, 2, 3, 4)}
    crafted_checkpoint(bad("offset_outside.bin"), {"w": _Tensor(_Storage("0", 4), 3, [2], [1])}, four)
    crafted_checkpoint(bad("stride_outside.bin"), {"w": _Tensor(_Storage("0", 4), 0, [2, 2], [3, 1])}, four)
    # A pickle that would run a shell command: GLOBAL os.system, REDUCE. Written by hand, never loaded.
    evil = b"\x80\x02cos\nsystem\nq\x00X\x04\x00\x00\x00echoq\x01\x85q\x02Rq\x03."
    write_zip(bad("os_system.bin"), [("os_system/data.pkl", evil), ("os_system/version", b"3\n")])

    with open(os.path.join(out, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
