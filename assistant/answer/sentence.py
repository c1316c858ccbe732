"""The fallback of every route: the best-covering sentence of the top retrieved clauses, quoted whole."""

from __future__ import annotations

import re

from assistant.answer.drafts import SENTENCE_MATCH, Abstain, Draft, Source
from assistant.answer.evidence import Evidence
from assistant.answer.question import Question
from assistant.answer.text import numbers_agree

MIN_SENTENCE_SCORE = 0.6
# Words with which a plan defers a figure to others ("完成市下达指标", "得到有效控制").
DEFERS_FIGURE = re.compile(r"下达|完成.{0,6}(指标|目标)|得到.{0,4}控制")


def sentence_answer(question: Question, evidence: Evidence, need_figure: bool) -> Draft | Abstain:
    """A figure is only answered when the best-covering part itself states one."""
    best = evidence.best_sentence
    if best is None or best.score < MIN_SENTENCE_SCORE or not numbers_agree(question.text, best.sentence.text):
        return Abstain()
    start, end = best.sentence.original_span
    sentence_source = Source(best.clause, start, end)
    if need_figure and not re.search(r"\d", best.part):
        if DEFERS_FIGURE.search(best.part):
            return Abstain("具体数值", sentence_source, stated=best.part.strip(",。"))
        return Abstain("具体数值", Source(best.clause))
    return Draft(best.sentence.text, (sentence_source,), SENTENCE_MATCH, best.score)
