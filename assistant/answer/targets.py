"""Numeric targets: which figure answers, decided by how much of the question the figure's own words cover.

So an indicator the plan never quantifies is not answered with a neighbouring one that it does.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from assistant.answer.drafts import FACT_MATCH, Abstain, Draft, Source
from assistant.answer.evidence import Evidence
from assistant.answer.periods import describe_target
from assistant.answer.question import Question, apply_synonyms, normalise
from assistant.answer.sentence import sentence_answer
from assistant.answer.text import QUANTITY_ASKED, bigrams, coverage, numbers_agree
from assistant.facts.knowledge import PLAN_KINDS, plan_title
from assistant.lang.indicators import answers_question, same_indicator, unasked_penalty
from assistant.lang.measures import kind_penalty, stated_measure_penalty, units_agree
from assistant.models import Target

MIN_COVER = 0.5  # at least half the question's content words must be the figure's
WIDER_CONTEXT_FROM = 0.25  # the figure's own words must carry this much before its context counts
INDICATOR_WEIGHT = 0.3  # the indicator's own words break ties between figures of one sentence
# A question that names an indicator exactly ("城市生活垃圾资源化利用率" names "资源化利用率", a listed item whose
# shared subject stayed with the first item) is about that figure, not its neighbour in the list.
NAMED_INDICATOR_BONUS = 0.15
RANK_WEIGHT = 0.15
SAME_YEAR_BONUS = 0.05  # "到2025年…达到多少家": the figure due that year, not an undated one
ALTERNATIVE_SLACK = 0.2  # how close another statement of the same indicator must match to be shown
RANKED_CLAUSES = 10
# "林木覆盖率有什么要求", "能耗强度目标怎么考核": what the plan says, which need not be a figure.
ASKS_WHAT = re.compile(r"什么要求|有何要求|哪些要求|怎么|如何|哪些|什么样|怎样")
HOW_MUCH = re.compile(r"多少|几|多大|多高|多长|百分之")
STRETCH = re.compile(r"^(?:完成|实现|达到)?的?[\u4e00-\u9fff]{0,4}目标$")  # an indicator that only says "…目标"
RESPECTIVELY = re.compile(r"分别|各(要|是|为)")  # "A和B分别要创建几个": every figure asked for
RELATED_SHOWN = 3  # look-alike figures (another scope or year) listed after the answer


@dataclass(frozen=True)
class Scored:
    score: float
    cover: float
    target: Target


def answer_target(question: Question, evidence: Evidence) -> Draft | Abstain | None:
    if not QUANTITY_ASKED.search(question.text) or (ASKS_WHAT.search(question.text) and not HOW_MUCH.search(question.text)):
        # "城镇新建建筑要执行什么标准": the answer is a sentence, not necessarily a figure.
        statement = sentence_answer(question, evidence, need_figure=False)
        if isinstance(statement, Draft):
            return statement
    scored = score_targets(question, evidence)
    if not scored:
        return None
    fitting = scored
    if not RESPECTIVELY.search(question.text):  # "新建…和全区…分别": each part carries its own scope words
        fitting = [s for s in scored if answers_question(question.text, _own_words(evidence, s.target))]
    if scored[0].cover >= MIN_COVER and (not fitting or fitting[0].cover < MIN_COVER):
        # "保有量" asked, only "销售量" stated: a look-alike indicator is no answer.
        near = scored[0].target
        related = f"{near.indicator}{near.display}" + (f"（{near.year}年）" if near.year else "")
        return Abstain(f"该指标（方案设定的是相近指标：{related}，统计口径不同）", _source(evidence, near))
    if not fitting:
        return None
    scored = fitting
    best = scored[0]
    if best.cover < MIN_COVER or not numbers_agree(question.text, best.target.sentence):
        return None
    if len(question.grams) <= 2 and coverage(bigrams(best.target.indicator), question.text) < 0.25:
        # "全区人口多少" is not asking about "每万人口有效发明专利拥有量": too little said to match on.
        return Abstain("", Source(evidence.knowledge.clause(best.target.clause_id)))
    return _draft(question, evidence, scored)


def score_targets(question: Question, evidence: Evidence) -> list[Scored]:
    rank_of = evidence.rank_of(PLAN_KINDS, RANKED_CLAUSES)
    scored = [
        _score(question, evidence, target, rank_of.get(target.clause_id))
        for target in evidence.knowledge.targets
        if not (question.year and target.year and target.year != question.year) and units_agree(question.text, target)
        and _same_baseline(question.text, target)
    ]
    return sorted(scored, key=lambda s: -s.score)


BASELINE_ASKED = re.compile(r"(?:比|较|相比|相较)(?:于)?(\d{4})年")


def _same_baseline(question: str, target: Target) -> bool:
    """"比2020年降多少" is not answered by a fall measured from 2012: another baseline, another figure."""
    asked = BASELINE_ASKED.search(question)
    stated = re.search(r"\d{4}", target.baseline or "")
    return not (asked and stated) or asked.group(1) == stated.group()


def _score(question: Question, evidence: Evidence, target: Target, rank: int | None) -> Scored:
    grams = set(question.grams)
    haystacks = evidence.plan.haystacks[target]
    own = coverage(grams, haystacks[0][0])
    # Wider context only helps a figure whose own words already carry part of the question.
    cover = own
    if own >= WIDER_CONTEXT_FROM:
        cover = max(own, *(coverage(grams, text) - penalty for text, penalty in haystacks[1:]))
    score = cover + INDICATOR_WEIGHT * coverage(grams, target.indicator)
    if len(target.indicator) >= 4 and target.indicator in question.topic:
        score += NAMED_INDICATOR_BONUS
    score += RANK_WEIGHT / (1 + rank) if rank is not None else 0.0
    score -= kind_penalty(question.text, target) + unasked_penalty(question.text, haystacks[0][0])
    score -= stated_measure_penalty(question.text, haystacks[0][0])
    if question.year and target.year == question.year:
        score += SAME_YEAR_BONUS
    return Scored(score, cover, target)


def _draft(question: Question, evidence: Evidence, scored: list[Scored]) -> Draft:
    best = scored[0]
    chosen = _chosen(question, scored)
    others = _other_statements(question, evidence, scored, chosen)
    home = _doc(evidence, best.target)
    if any(_doc(evidence, other) != home for other in others):
        return _across_plans(evidence, chosen, others, best.cover)
    others = others[:2]
    parts = [describe_target(t) for t in chosen]
    sources = [_source(evidence, chosen[0])]
    for other in others:
        section = evidence.knowledge.clause(other.clause_id).section
        parts.append(f"另：{section} 中表述为 {describe_target(other)}")
        sources.append(_source(evidence, other))
    if others:
        parts.append("方案中对此有不同表述，均列出供核对")
    related = _related(question, evidence, scored, chosen + others)
    for other in related:
        parts.append(f"相近指标（统计口径或年份不同，并非矛盾）：{describe_target(other)}")
        sources.append(_source(evidence, other))
    return Draft("；".join(parts) + "。", tuple(sources), FACT_MATCH, best.cover)


def _across_plans(evidence: Evidence, chosen: list[Target], others: list[Target], match: float) -> Draft:
    """Plans that disagree: each plan's own figure on its own line, labelled with the plan, never one plan contradicting itself."""
    by_plan: dict[str, list[Target]] = {_doc(evidence, chosen[0]): list(chosen)}
    for other in others:
        by_plan.setdefault(_doc(evidence, other), [other])
    lines = [
        f"{plan_title(evidence.knowledge, doc)}：" + "；".join(describe_target(t) for t in targets)
        for doc, targets in by_plan.items()
    ]
    sources = tuple(_source(evidence, t) for targets in by_plan.values() for t in targets)
    text = f"已载入的{len(by_plan)}份方案各有表述（问题未指明方案），分别为：\n" + "\n".join(lines)
    return Draft(text, sources, FACT_MATCH, match)


def _doc(evidence: Evidence, target: Target) -> str:
    return evidence.knowledge.clause(target.clause_id).doc


def _chosen(question: Question, scored: list[Scored]) -> list[Target]:
    best = scored[0].target
    chosen = [s.target for s in scored if s.target.sentence == best.sentence and s.target.indicator == best.indicator]
    if RESPECTIVELY.search(question.text):  # "A和B分别要创建几个": every figure asked for
        chosen += [
            s.target for s in scored
            if s.target.sentence == best.sentence and s.target not in chosen
            and (coverage(set(question.grams), s.target.indicator) >= 0.2 or _named(question, s.target.indicator))
        ]  # "化学需氧量、氨氮…分别": a short item ("氨氮") is asked for when the question names it
    # "下降13%，力争完成14.5%的激励目标": the stretch figure of the same target, said in the same sentence.
    chosen += [
        s.target for s in scored
        if s.target.sentence == best.sentence and s.target not in chosen and s.target.unit == best.unit
        and "力争" in s.target.qualifier and STRETCH.search(s.target.indicator)
    ]
    return chosen


def _named(question: Question, indicator: str) -> bool:
    """The question names the indicator, in its words or the plan's ("单位国内生产总值能源消耗" is 单位GDP能耗)."""
    return indicator in question.text or apply_synonyms(normalise(indicator)) in question.text


def _other_statements(question: Question, evidence: Evidence, scored: list[Scored], chosen: list[Target]) -> list[Target]:
    """The same indicator, scope and year stated differently elsewhere: every statement is shown, each cited once."""
    best = scored[0].target
    return _close_others(question, evidence, scored, chosen, lambda t: _same_statement_of(evidence, t, best))


def _related(question: Question, evidence: Evidence, scored: list[Scored], shown: list[Target]) -> list[Target]:
    """Look-alike figures of the same plan a question that names neither scope nor year may mean (新增 vs 累计)."""
    best = scored[0].target
    home = _doc(evidence, best)

    def look_alike(target: Target) -> bool:
        return _doc(evidence, target) == home and not _same_statement_of(evidence, target, best)

    return _close_others(question, evidence, scored, shown, look_alike)[:RELATED_SHOWN]


def _close_others(question: Question, evidence: Evidence, scored: list[Scored], shown: list[Target], keep) -> list[Target]:
    """Other figures of the unit asked that match the question about as well as the best one, one per sentence."""
    grams = set(question.grams)
    best = scored[0]

    def own(target: Target) -> float:
        return coverage(grams, _own_words(evidence, target))

    def as_close(s: Scored) -> bool:
        return (
            s.cover >= best.cover - ALTERNATIVE_SLACK
            and own(s.target) >= own(best.target) - ALTERNATIVE_SLACK
            and coverage(grams, s.target.indicator) >= coverage(grams, best.target.indicator) - ALTERNATIVE_SLACK
        )

    cited = {_span(evidence, t) for t in shown}
    others: dict[tuple[str, int, int], Target] = {}
    for s in scored:
        target = s.target
        if target.unit == best.target.unit and target.value != best.target.value and _span(evidence, target) not in cited \
                and keep(target) and as_close(s):
            others.setdefault(_span(evidence, target), target)
    return list(others.values())


def _same_statement_of(evidence: Evidence, other: Target, best: Target) -> bool:
    """Two statements conflict only when they state one indicator, scope and year."""
    return other.year == best.year and same_indicator(_own_words(evidence, other), _own_words(evidence, best))


def _span(evidence: Evidence, target: Target) -> tuple[str, int, int]:
    return (_doc(evidence, target), target.start, target.end)


def _own_words(evidence: Evidence, target: Target) -> str:
    return evidence.plan.haystacks[target][0][0]


def _source(evidence: Evidence, target: Target) -> Source:
    return Source(evidence.knowledge.clause(target.clause_id), target.start, target.end)
