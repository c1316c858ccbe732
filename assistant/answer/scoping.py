"""Which loaded plans answer a question, and the corpus as those plans alone see it.

A question naming a place, a level, a title or a 文号 is answered from the matching plans only; a
place no loaded plan governs is said to be missing, with the plans that are loaded; a question about
several plans is answered plan by plan, each line labelled with its plan.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from assistant.answer.drafts import NOT_STATED
from assistant.answer.levels import across_levels, level_rank
from assistant.answer.named_plans import (
    Scope,
    governs,
    quoted_run,
    quotes_title,
    resolve_scope,
    scope_words,
    title_core,
)
from assistant.answer.plan import PlanShape, read_shape
from assistant.answer.routes import ROUTES, Route, bind
from assistant.errors import SettingsError
from assistant.facts.knowledge import Knowledge, plan_title, restrict
from assistant.lang.asking import is_elliptical
from assistant.lang.doc_numbers import DOC_NUMBER
from assistant.lang.places import find_regions
from assistant.lang.text import to_simplified
from assistant.models import Answer, PlanIdentity, Target

# "分别", "A和B…", "比较": every plan named gets its own line, even one that does not state it.
COMPARES = re.compile(r"分别|各自|比较|对比|相比|衔接|和|与|及")
# "那森林覆盖率呢？", "它由谁牵头？": incomplete on its own, so about the plans of the conversation.
# "…方案", "《…》": the question names a plan, not a topic that happens to share a plan's title words.
PLAN_MARKER = re.compile(r"方案|规划|计划|意见|通知|文件|《|》")
PHRASE = re.compile(r"[\u4e00-\u9fff]{2,6}")  # the words right after a place: "湖南|惠农物流", "北京|招商"
EVERY_PLAN_SHOWN = 3  # beyond this many plans, lines saying "未明确" are noise
# "…和省里的目标衔接吗", "市里和省里…": the figures up and down the levels, and whether they fit together.
LEVELS_ASKED = re.compile(r"衔接|上下|上级|下级|省里|市里|区里|县里|全国|国家")


@dataclass(frozen=True)
class View:
    """The corpus cut to some plans, with the shape and the routes read from those plans."""

    docs: frozenset[str] | None  # None: every plan
    knowledge: Knowledge
    plan: PlanShape
    routes: tuple[Route, ...]


class Shelf:
    """The loaded plans; one view per set of plans a question is scoped to, built once."""

    def __init__(self, knowledge: Knowledge, home_plan: str = ""):
        self.knowledge = knowledge
        self.plans: tuple[PlanIdentity, ...] = tuple(
            knowledge.identities[d.name] for d in knowledge.documents if d.name in knowledge.identities
        )
        self.home = find_home(home_plan, self.plans) if home_plan else ()
        # One plan loaded is where its askers sit: "我们区" is it, "省里" and "市里" are above it and not loaded.
        self.own = self.home or (self.plans if len(self.plans) == 1 else ())
        home_docs = {p.doc for p in self.own}
        self.others = frozenset(d.name for d in knowledge.documents if d.name not in home_docs)
        self.home_title = "》《".join(p.title for p in self.home)
        self._home_text = "\n".join(to_simplified(d.text) for d in knowledge.documents if d.name in home_docs)
        self._views: dict[frozenset[str] | None, View] = {}

    @property
    def many(self) -> bool:
        return len(self.knowledge.documents) > 1

    def view(self, docs: frozenset[str] | None = None) -> View:
        if docs is not None and len(docs) == len(self.knowledge.documents):
            docs = None
        if docs not in self._views:
            knowledge = self.knowledge if docs is None else restrict(self.knowledge, docs)
            plan = read_shape(knowledge)
            self._views[docs] = View(docs, knowledge, plan, bind(ROUTES, list(plan.tops)))
        return self._views[docs]

    def scope(self, question: str, history: list[tuple[str, str]]) -> Scope:
        """The plans the question names; a question naming none keeps the scope of the conversation."""
        scope = resolve_scope(self._without_home_words(question), self.plans, self.own)
        for previous, _ in history[-1:]:
            if not scope.named and is_elliptical(question):
                scope = resolve_scope(self._without_home_words(previous), self.plans, self.own)
        if not self.many and not scope.missing:
            return Scope()  # the one plan answers: no plan named is missing
        return scope

    def _without_home_words(self, question: str) -> str:
        """A place or title words the question quotes from the home plan's own text name a topic of it:
        "湖南某物流公司的项目", "某某协同增效谁牵头" ask about what the home plan says, not another plan."""
        if not self._home_text:
            return question
        for mention in find_regions(question):
            if PHRASE.match(question, mention.end) and question[mention.start : mention.end + 2] in self._home_text:
                question = _blank(question, mention.start, mention.end)
        if PLAN_MARKER.search(question):
            return question
        for plan in self.plans:
            core = title_core(plan)
            run = quoted_run(question, core) if plan not in self.own and quotes_title(question, core) else ""
            if run and run in self._home_text:
                question = question.replace(run, " " * len(run))
        return question

    def words(self, question: str) -> list[str]:
        return scope_words(self._without_home_words(question), self.plans) if self.many else []

    def title(self, doc: str) -> str:
        return plan_title(self.knowledge, doc)

    def uncovered(self, scope: Scope) -> str:
        """"方案中未明确成都市的相关内容" and the plans that are loaded (title and region)."""
        missing = "、".join(scope.missing)
        return f"{NOT_STATED}{missing}的相关内容：未载入{missing}的方案。已载入的方案有：{self.loaded()}。"

    def loaded(self) -> str:
        """The loaded plans, title and region, for telling a user what can be asked."""
        return "；".join(f"{p.title}（{p.region or '地区未明确'}）" for p in self.plans)


def find_home(home_plan: str, plans: tuple[PlanIdentity, ...]) -> tuple[PlanIdentity, ...]:
    """The users' own plan(s) by file name, title or the place they govern; a name matching none is an error."""
    wanted = home_plan.strip()
    for matches in (
        [p for p in plans if wanted in (p.doc, p.doc.rsplit(".", 1)[0])],
        [p for p in plans if wanted and wanted in (p.title, title_core(p))],
        [p for p in plans if governs(p, wanted)],
    ):
        if matches:
            return tuple(matches)
    loaded = "；".join(f"{p.doc}（{p.title}）" for p in plans)
    raise SettingsError(
        f"PLANQA_HOME_PLAN={home_plan!r} 不对应任何已载入的方案 / names no loaded plan: use a file name, "
        f"a title or a place of: {loaded}"
    )


def _blank(text: str, start: int, end: int) -> str:
    return text[:start] + " " * (end - start) + text[end:]


def without_doc_numbers(text: str) -> str:
    """A 文号 names a plan: its year is no year asked and its serial number no figure to match."""
    return DOC_NUMBER.sub(" ", text)


def compares(question: str, scope: Scope) -> bool:
    """A comparison of a few plans shows each, stated or not; a level's many plans show those that state it."""
    return 1 < len(scope.docs) <= EVERY_PLAN_SHOWN and bool(COMPARES.search(question))


def asks_levels(question: str, docs: tuple[str, ...], knowledge: Knowledge) -> bool:
    levels = {level_rank(knowledge.identities[doc].level) for doc in docs if doc in knowledge.identities}
    return len(levels) > 1 and bool(LEVELS_ASKED.search(question))


def level_lines(knowledge: Knowledge, answers: list[Answer]) -> list[str]:
    """Each plan's figure side by side from 国家 down, and whether the lower is at least as demanding."""
    figures = across_levels(knowledge, [t for a in answers if (t := _target_cited(knowledge, a)) is not None])
    if len(figures) < 2:
        return []
    lines = [f"{f.level}·{f.plan}：{_statement(f.target)}" + (f"（{f.note}）" if f.note else "") for f in figures]
    return ["上下衔接（由上至下）：", *lines]


def _statement(target: Target) -> str:
    when = f"到{target.year}年" if target.year else ""
    return f"{when}{target.indicator}{target.baseline or ''}{target.figure(target.comparator)}"


def _target_cited(knowledge: Knowledge, answer: Answer) -> Target | None:
    """The target an answer's first citation states, if it states one."""
    if answer.abstained or not answer.citations:
        return None
    first = answer.citations[0]
    return next(
        (t for t in knowledge.targets if t.start == first.start and t.end == first.end
         and knowledge.clause(t.clause_id).doc == first.doc and t.value_text in answer.answer),
        None,
    )
