#!/usr/bin/env python3
"""Cross-checks courier's safetensors files against an independent reading of the format.

Not run by CI: a developer's tool for proving interoperability with PyTorch by hand. Needs
numpy and torch; uses the `safetensors` package as a second reader when it is installed, and
otherwise parses the format with struct + json + numpy, following the specification
(https://github.com/huggingface/safetensors, "Format"):

    8 bytes   N, little-endian u64
    N bytes   JSON {"NAME": {"dtype": "F32", "shape": [...], "data_offsets": [begin, end]},
                    "__metadata__": {"key": "string"}}, padded with spaces
    rest      the data buffer; offsets are relative to its start

Commands:
    check FILE [--expect EXPECT.json]
        Validates FILE, loads every tensor into torch and prints it. With --expect (a JSON
        object {name: {"shape": [...], "values": [...]}}), fails unless every tensor matches
        exactly. For a courier checkpoint pass DIR/model.safetensors.
    load-checkpoint DIR
        Checks DIR/model.safetensors against the manifest's size (and XXH3 checksum when the
        xxhash package is installed), loads it into a state_dict, prints the step and the
        parameter names, and, when the names look like an nn.Sequential of Linear layers,
        builds that model and calls load_state_dict(strict=True) on the parameters.
    write-fixture OUT
        Writes the fixture tests/data/python_writer.safetensors (444 bytes, read by
        tests/train/checkpoint/safetensors_test.cc) with this file's independent writer,
        which orders tensors as the reference writer does.

Exit status 0 when every check passes, 1 otherwise.
"""

import argparse
import json
import struct
import sys
from pathlib import Path

import numpy as np

MAX_HEADER_BYTES = 100_000_000
DTYPES = {"F32": np.dtype("<f4"), "F64": np.dtype("<f8"), "F16": np.dtype("<f2"), "I64": np.dtype("<i8"),
          "I32": np.dtype("<i4"), "I8": np.dtype("i1"), "U8": np.dtype("u1")}


def read_safetensors(path):
    """Returns (tensors as {name: np.ndarray}, metadata), checking the layout as the spec says."""
    data = Path(path).read_bytes()
    if len(data) < 8:
        raise ValueError(f"{path}: {len(data)} bytes, shorter than the header length")
    (n,) = struct.unpack("<Q", data[:8])
    if n > MAX_HEADER_BYTES or 8 + n > len(data):
        raise ValueError(f"{path}: header length {n} does not fit a file of {len(data)} bytes")
    header = json.loads(data[8:8 + n].decode("utf-8"))
    buffer = memoryview(data)[8 + n:]
    metadata = header.pop("__metadata__", {})
    ranges, tensors = [], {}
    for name, info in header.items():
        dtype = DTYPES[info["dtype"]]
        begin, end = info["data_offsets"]
        shape = tuple(info["shape"])
        if int(np.prod(shape, dtype=np.int64)) * dtype.itemsize != end - begin:
            raise ValueError(f"{path}: {name}: shape {shape} does not match offsets {begin}..{end}")
        ranges.append((begin, end, name))
        tensors[name] = np.frombuffer(buffer[begin:end], dtype=dtype).reshape(shape).copy()
    position = 0
    for begin, end, name in sorted(ranges):
        if begin != position:
            raise ValueError(f"{path}: {name} starts at {begin}, expected {position} (gap or overlap)")
        position = end
    if position != len(buffer):
        raise ValueError(f"{path}: tensors cover {position} of {len(buffer)} data bytes")
    return tensors, metadata


def load_torch(path):
    """A state_dict of torch tensors: by hand, and by the safetensors package if it is installed."""
    import torch
    arrays, metadata = read_safetensors(path)
    state = {name: torch.from_numpy(array) for name, array in arrays.items()}
    try:
        from safetensors.torch import load_file
    except ImportError:
        print("safetensors package not installed: read by hand only")
    else:
        reference = load_file(str(path))
        assert reference.keys() == state.keys(), "the safetensors package sees other names"
        for name, tensor in reference.items():
            assert torch.equal(tensor, state[name]), f"{name} differs from the safetensors package's reading"
        print("safetensors package agrees on every tensor")
    return state, metadata


def check(path, expect_path):
    import torch
    state, metadata = load_torch(path)
    print(f"{path}: {len(state)} tensors, metadata {metadata}")
    for name, tensor in state.items():
        flat = tensor.flatten()[:6].tolist()
        print(f"  {name}: {tensor.dtype} {list(tensor.shape)} {flat}{' ...' if tensor.numel() > 6 else ''}")
    if expect_path is None:
        return True
    expected = json.loads(Path(expect_path).read_text())
    ok = expected.keys() == state.keys()
    if not ok:
        print(f"names differ: expected {sorted(expected)}, found {sorted(state)}")
    for name, spec in expected.items():
        want = torch.tensor(spec["values"], dtype=torch.float32).reshape(spec["shape"])
        got = state.get(name)
        if got is None or list(got.shape) != spec["shape"] or not torch.equal(got, want):
            print(f"MISMATCH {name}: expected {spec['shape']} {spec['values'][:6]}")
            ok = False
    print("every tensor matches the expected values" if ok else "FAILED")
    return ok


def load_checkpoint(directory):
    import torch
    directory = Path(directory)
    manifest = json.loads((directory / "manifest.json").read_text())
    assert manifest["format"] == "courier-checkpoint" and manifest["version"] == 1, "not a courier checkpoint"
    state, _ = load_torch(directory / "model.safetensors")
    listed = manifest["files"]["model.safetensors"]
    blob = (directory / "model.safetensors").read_bytes()
    assert len(blob) == listed["bytes"], "size differs from the manifest"
    try:
        import xxhash
    except ImportError:
        print("xxhash package not installed: checksum not verified")
    else:
        assert xxhash.xxh3_64_hexdigest(blob) == listed["xxh3"], "XXH3 checksum differs from the manifest"
        print("XXH3 checksum matches the manifest")
    params = {k: v for k, v in state.items() if not k.startswith("optimizer.")}
    print(f"step {manifest['step']}: parameters {sorted(params)}; optimizer state "
          f"{sorted(k for k in state if k.startswith('optimizer.'))}")
    layers = sorted({int(k.split(".")[0]) for k in params if k.split(".")[0].isdigit()})
    if layers and all(f"{i}.weight" in params for i in layers):
        modules = []
        for i in range(layers[-1] + 1):
            if f"{i}.weight" in params:
                out_features, in_features = params[f"{i}.weight"].shape
                modules.append(torch.nn.Linear(in_features, out_features))
            else:
                modules.append(torch.nn.Tanh())
        model = torch.nn.Sequential(*modules)
        model.load_state_dict(params, strict=True)
        print(f"torch.nn.Sequential loaded with strict=True: {model}")
    return True


def write_safetensors(path, tensors, metadata):
    """An independent writer: the reference's order (alignment descending, then name)."""
    order = sorted(tensors, key=lambda name: (-tensors[name].dtype.itemsize, name))
    header, blobs, offset = {"__metadata__": metadata}, [], 0
    for name in order:
        blob = np.ascontiguousarray(tensors[name], dtype="<f4").tobytes()
        header[name] = {"dtype": "F32", "shape": list(tensors[name].shape), "data_offsets": [offset, offset + len(blob)]}
        blobs.append(blob)
        offset += len(blob)
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * ((8 - len(text) % 8) % 8)
    Path(path).write_bytes(struct.pack("<Q", len(text)) + text + b"".join(blobs))


def write_fixture(path):
    tensors = {
        "0.weight": np.array([[0.5, -1.25, 3.0], [0.1, 2.0 ** -20, -0.0]], dtype="<f4"),
        "0.bias": np.array([1.5, -2.5], dtype="<f4"),
        "scalar": np.array(7.0, dtype="<f4"),
        "empty": np.zeros((0, 4), dtype="<f4"),
        "optimizer.exp_avg.0.bias": np.array([0.25, 0.125], dtype="<f4"),
    }
    write_safetensors(path, tensors, {"format": "pt", "writer": "tools/safetensors_check.py"})
    print(f"wrote {path} ({Path(path).stat().st_size} bytes)")
    return True


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    check_parser = commands.add_parser("check")
    check_parser.add_argument("file")
    check_parser.add_argument("--expect")
    commands.add_parser("load-checkpoint").add_argument("directory")
    commands.add_parser("write-fixture").add_argument("out")
    args = parser.parse_args()
    if args.command == "check":
        ok = check(args.file, args.expect)
    elif args.command == "load-checkpoint":
        ok = load_checkpoint(args.directory)
    else:
        ok = write_fixture(args.out)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
