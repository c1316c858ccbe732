"""The lexical side of retrieval: jieba tokens with the plan's own vocabulary, scored by BM25 (bm25s).

Built with the index (assistant/retrieval/index.py) and saved in its build folder; the retriever
(assistant/retrieval/retrieve.py) only asks it for scores.
"""

from __future__ import annotations

import json
import logging
import re
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

import jieba
import numpy as np

from assistant.errors import IndexError_
from assistant.facts.knowledge import Knowledge
from assistant.ingest.clean import normalise_text
from assistant.models import Chunk

if TYPE_CHECKING:
    import bm25s

STOP_WORDS = frozenset(
    "的 了 和 与 及 或 是 在 对 把 被 将 从 为 以 等 中 上 下 要 有 也 都 就 还 这 那 哪 哪些 什么 多少 几 吗 呢 啊 吧 "
    "怎么 如何 是否 请问 一下 我们 你们 他们 其 之 该 各 个 方案 里 中的 要求 规定 提到 达到 目标 , 。 、 ; : ? ! ( ) “ ” 《 》 ？ ！ ，".split()
)
# Jieba splits on "/" and keeps no unit like "蒸吨/小时" whole; such terms are cut out first.
PROTECTED = re.compile(r"蒸吨/小时|m3/d|\d+(?:\.\d+)?%")
TERMS_FILE = "terms.json"  # the user dictionary the index was built with, beside bm25s's files


class Tokenizer:
    """jieba with the plan's own vocabulary (units, indicators, domain terms) and stop words."""

    def __init__(self, terms: list[str]):
        jieba.setLogLevel(logging.WARNING)
        self._jieba = jieba.Tokenizer()  # its own dictionary: the user terms of one index, not global state
        for term in terms:
            if term and not PROTECTED.fullmatch(term):
                self._jieba.add_word(term, freq=2000)
        self.terms = terms

    def __call__(self, text: str) -> list[str]:
        text = normalise_text(text).lower()
        tokens = PROTECTED.findall(text)
        text = PROTECTED.sub(" ", text)
        for token in self._jieba.cut_for_search(text):
            token = token.strip()
            if token and token not in STOP_WORDS and not re.fullmatch(r"\W+", token):
                tokens.append(token)
        return tokens


def plan_terms(knowledge: Knowledge) -> list[str]:
    """The user dictionary: bundled domain terms + unit names and short indicators of this corpus."""
    bundled = resources.files("assistant").joinpath("data", "terms.txt").read_text("utf-8").splitlines()
    terms = [t.strip() for t in bundled if t.strip() and not t.startswith("#")]
    terms += list(knowledge.unit_aliases)
    for units in knowledge.responsibilities.values():
        terms += list(units.original)
    terms += [t.indicator for t in knowledge.targets if 2 < len(t.indicator) <= 10]
    return sorted(set(terms))


class LexicalIndex:
    """BM25 over jieba tokens of each chunk's passage; row i = chunk i."""

    def __init__(self, bm25: bm25s.BM25, tokenizer: Tokenizer):
        self.bm25 = bm25
        self.tokenizer = tokenizer
        self.vocabulary = set(bm25.vocab_dict)

    @classmethod
    def build(cls, chunks: list[Chunk], knowledge: Knowledge) -> LexicalIndex:
        import bm25s  # with scipy ~0.3 s: only for commands that build or search

        logging.getLogger("bm25s").setLevel(logging.WARNING)  # it sets itself to DEBUG on import
        tokenizer = Tokenizer(plan_terms(knowledge))
        bm25 = bm25s.BM25()
        bm25.index([tokenizer(c.passage()) or [""] for c in chunks], show_progress=False)
        return cls(bm25, tokenizer)

    def save(self, folder: Path) -> None:
        self.bm25.save(str(folder))
        (folder / TERMS_FILE).write_text(json.dumps(self.tokenizer.terms, ensure_ascii=False), "utf-8")

    @classmethod
    def load(cls, folder: Path) -> LexicalIndex:
        import bm25s

        try:
            terms = json.loads((folder / TERMS_FILE).read_text("utf-8"))
            return cls(bm25s.BM25.load(str(folder)), Tokenizer(terms))
        except (OSError, ValueError, KeyError) as exc:
            raise IndexError_(f"BM25 index in {folder} is missing or corrupt ({exc}): run `planqa build`") from exc

    def scores(self, query: str) -> np.ndarray:
        """One BM25 score per chunk (zeros when no query token is in the vocabulary)."""
        tokens = [t for t in self.tokenizer(query) if t in self.vocabulary]
        if not tokens:
            return np.zeros(self.bm25.scores["num_docs"], dtype=np.float32)
        return np.asarray(self.bm25.get_scores(tokens), dtype=np.float32)
