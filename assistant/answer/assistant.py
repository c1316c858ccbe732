"""The one entry point every interface uses: question → route → handler → one composed `Answer`."""

from __future__ import annotations

import logging
from dataclasses import replace

from assistant.answer.drafts import compose, join_parts, per_plan, with_reference
from assistant.answer.evidence import Evidence
from assistant.answer.named_plans import Scope
from assistant.answer.question import normalise, parse, read, validate
from assistant.answer.routes import handle
from assistant.answer.scoping import Shelf, View, asks_levels, compares, level_lines, without_doc_numbers
from assistant.answer.sentence import sentence_answer
from assistant.config import Settings, load_settings
from assistant.errors import InputFileError, PlanqaError
from assistant.facts.knowledge import Knowledge, load_knowledge
from assistant.lang.asking import AskedQuestion, is_elliptical, read_question, split_parts
from assistant.models import Answer

log = logging.getLogger(__name__)


class Assistant:
    """Answers questions about the corpus: extractive, cited, or an honest 方案中未明确."""

    def __init__(self, knowledge: Knowledge, retriever, settings: Settings, generator=None):
        self.knowledge = knowledge
        self.retriever = retriever  # anything with search(query, k) -> hits whose .chunk.clause_id is a clause
        self.settings = settings
        self.generator = generator  # optional LLM rewording (assistant/answer/wording.py); None = extractive only
        self.shelf = Shelf(knowledge, settings.home_plan)  # the loaded plans, and the corpus cut to the plans a question names
        whole = self.shelf.view()
        self.plan = whole.plan
        self.routes = whole.routes

    @classmethod
    def from_settings(cls, settings: Settings | None = None, progress: bool = False) -> Assistant:
        from assistant.answer.wording import GroundedGenerator
        from assistant.retrieval.retrieve import HybridRetriever

        settings = settings or load_settings()
        knowledge = load_knowledge(settings.corpus_dir)
        if not knowledge.documents:
            raise InputFileError(settings.corpus_dir, "没有可读的文档 / no readable documents: add .txt, .md, .pdf or .docx files")
        retriever = HybridRetriever.open(knowledge, settings, progress=progress)
        return cls(knowledge, retriever, settings, GroundedGenerator.from_settings(settings, knowledge.unit_aliases))

    def prefetch(self, questions: list[str]) -> None:
        """Embed many questions' search texts at once (a questionnaire), so each ask finds its vector cached."""
        texts = []
        for question in questions:
            try:
                texts.append(parse(validate(question, self.settings.max_question_chars), [], self.plan.places).text)
            except PlanqaError:
                continue  # ask() reports it for its row
        if hasattr(self.retriever, "prefetch"):
            self.retriever.prefetch(texts)

    def problem(self) -> str | None:
        """Why this assistant cannot answer now (its vector store's server is down), or None."""
        check = getattr(self.retriever, "problem", None)  # a test's stand-in retriever has no server to lose
        return check() if callable(check) else None

    def ask(self, question: str, history: list[tuple[str, str]] | None = None) -> Answer:
        """Read the question first (labels, courtesies, script, English); the conversation only for an
        elliptical question; a multi-part question part by part, joined into one answer."""
        raw = validate(question, self.settings.max_question_chars)
        asked = read_question(raw)
        earlier = self._earlier(asked, history or [])
        answers = [self._scoped(raw, normalise(part), earlier) for part in split_parts(asked.text)]  # normalised once
        answer = answers[0] if len(answers) == 1 else join_parts(raw, answers)
        return self.generator.rewrite(answer) if self.generator else answer

    @staticmethod
    def _earlier(asked: AskedQuestion, history: list[tuple[str, str]]) -> list[tuple[str, str]]:
        """The conversation, read (labels gone) and normalised — only when the question cannot stand alone."""
        if not history or not is_elliptical(asked.text):
            return []
        return [(normalise(read_question(q).text), a) for q, a in history if isinstance(q, str) and q.strip()]

    def _scoped(self, raw: str, text: str, history: list[tuple[str, str]]) -> Answer:
        """Answer from the plans the question names: one plan, each plan in turn, or a place not loaded.

        `text` (one part of the question) and the history's questions are normalised already."""
        scope = self.shelf.scope(text, history)
        if scope.missing and not scope.docs:
            return Answer(raw, self.shelf.uncovered(scope), "scope", 0.0, True, ())
        if len(scope.docs) > 1:
            answer = self._per_plan(raw, text, history, scope)
        else:
            answer = self._answer(raw, text, history, self.shelf.view(frozenset(scope.docs) or None), self.shelf.many)
        if answer.abstained and self.shelf.home and self.shelf.others and not scope.named:  # implicitly the home plan: others for reference
            other = self._answer(raw, text, history, self.shelf.view(self.shelf.others), True)
            if not other.abstained:
                answer = with_reference(answer, self.shelf.home_title, other)
        if scope.missing:  # "苏州和成都…": the loaded one is answered, the missing one named
            missing = "、".join(scope.missing)
            note = f"（未载入{missing}的方案，无法回答该部分；已载入的方案有：{self.shelf.loaded()}。）"
            answer = replace(answer, answer=f"{answer.answer}\n{note}")
        return answer

    def _per_plan(self, raw: str, text: str, history: list[tuple[str, str]], scope: Scope) -> Answer:
        """Each plan answers on its own line; plans of different levels are also set side by side."""
        answers = [
            (self.shelf.title(doc), self._answer(raw, text, history, self.shelf.view(frozenset({doc})), False))
            for doc in scope.docs
        ]
        answer = per_plan(raw, answers, compares(text, scope))
        if not answer.abstained and asks_levels(text, scope.docs, self.knowledge):
            if lines := level_lines(self.knowledge, [a for _, a in answers]):
                answer = replace(answer, answer="\n".join([answer.answer, *lines]))
        return answer

    def _answer(self, raw: str, text: str, history: list[tuple[str, str]], view: View, label: bool) -> Answer:
        text = without_doc_numbers(text)
        named = tuple(self.shelf.words(text))
        parsed = read(text, history, view.plan.places + named, view.knowledge.unit_aliases)
        evidence = Evidence(parsed, view.knowledge, view.plan, self.retriever, view.docs)
        route, outcome = handle(parsed, evidence, self.routes if view.docs is None else view.routes)  # self.routes may be replaced
        if outcome is None:
            outcome = sentence_answer(parsed, evidence, route.sentence_needs_figure)
        return compose(raw, route.name, outcome, evidence, label)
