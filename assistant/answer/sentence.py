"""The fallback of every route: the best-covering sentence of the top retrieved clauses, quoted whole."""

from __future__ import annotations

import re

from assistant.answer.drafts import SENTENCE_MATCH, Abstain, Draft, Source
from assistant.answer.evidence import Evidence
from assistant.answer.question import Question
from assistant.answer.text import apply_synonyms, bigrams, coverage, numbers_agree

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


# "有没有提到X", "X提到了吗": whether the plan speaks of X, not a figure — unless a figure is what is asked.
MENTION_WORDS = r"有没有|是否|有无|提到|提及|涉及|提出|说到|包括|吗|了"
# The thing asked about: what follows the yes/no words ("有没有提到新型储能"), or what they close ("提到湿地保护了吗").
MENTIONED = re.compile(r"(?:有没有|是否|有无)(?:提到|提及|涉及|提出|说到|包括)?(.+)|(?:提到|提及|涉及|说到)(.+?)[了么]?吗")
FIGURE_ASKED = re.compile(r"量化|具体(的)?(比例|数字|数值|目标|指标)|比例|比重|目标|指标|上限|下限|多少")
MENTION_HELD = 0.6  # share of the mentioned thing's bigrams one sentence (with its heading) must hold


def answer_mention(question: Question, evidence: Evidence) -> Draft | Abstain:
    """"有。" and the sentence that speaks of it, or 方案中未明确 when no sentence holds the thing asked about."""
    best = evidence.best_sentence_for(question.grams_without(MENTION_WORDS))
    if best is None or best.score < MIN_SENTENCE_SCORE:
        return Abstain()
    start, end = best.sentence.original_span
    thing = mentioned(question.topic)
    if thing and coverage(thing, apply_synonyms(best.clause.section + best.sentence.text)) < MENTION_HELD:
        return Abstain(pointer=Source(best.clause, start, end))
    if FIGURE_ASKED.search(question.topic) and not re.search(r"\d", best.part):
        return Abstain("具体数值", Source(best.clause, start, end))
    return Draft("有。" + best.sentence.text, (Source(best.clause, start, end),), SENTENCE_MATCH, best.score)


def mentioned(topic: str) -> set[str]:
    """The content bigrams of what a yes/no question asks about (empty when it does not say)."""
    match = MENTIONED.search(topic)
    return bigrams(next(g for g in match.groups() if g)) if match else set()
