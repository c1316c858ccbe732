"""The one entry point every interface uses: question → route → handler → one composed `Answer`."""

from __future__ import annotations

import logging

from ..config import Settings, load_settings
from ..errors import InputFileError
from ..knowledge import Knowledge, load_knowledge
from ..models import Answer
from ..questions import AskedQuestion, is_elliptical, read_question, split_parts
from .drafts import compose, join_parts
from .evidence import Evidence
from .plan import read_shape
from .question import parse, validate
from .routes import ROUTES, bind, route_for
from .sentence import sentence_answer

log = logging.getLogger(__name__)


class Assistant:
    """Answers questions about the corpus: extractive, cited, or an honest 方案中未明确."""

    def __init__(self, knowledge: Knowledge, retriever, settings: Settings, generator=None):
        self.knowledge = knowledge
        self.retriever = retriever  # anything with search(query, k) -> hits whose .chunk.clause_id is a clause
        self.settings = settings
        self.generator = generator  # optional LLM rewording (assistant/generate.py); None = extractive only
        self.plan = read_shape(knowledge)
        self.routes = bind(ROUTES, list(self.plan.tops))

    @classmethod
    def from_settings(cls, settings: Settings | None = None, progress: bool = False) -> Assistant:
        from ..generate import GroundedGenerator
        from ..retrieve import HybridRetriever

        settings = settings or load_settings()
        knowledge = load_knowledge(settings.corpus_dir)
        if not knowledge.documents:
            raise InputFileError(settings.corpus_dir, "没有可读的文档 / no readable documents: add .txt, .md, .pdf or .docx files")
        retriever = HybridRetriever.open(knowledge, settings, progress=progress)
        return cls(knowledge, retriever, settings, GroundedGenerator.from_settings(settings))

    def ask(self, question: str, history: list[tuple[str, str]] | None = None) -> Answer:
        """Read the question first (labels, courtesies, script, English); the conversation only for an
        elliptical question; a multi-part question part by part, joined into one answer."""
        raw = validate(question, self.settings.max_question_chars)
        asked = read_question(raw)
        earlier = self._earlier(asked, history or [])
        parts = split_parts(asked.text)
        answers = [self._answer_part(raw, part, earlier) for part in parts]
        answer = answers[0] if len(answers) == 1 else join_parts(raw, answers)
        return self.generator.rewrite(answer) if self.generator else answer

    @staticmethod
    def _earlier(asked: AskedQuestion, history: list[tuple[str, str]]) -> list[tuple[str, str]]:
        """The conversation, read (labels gone) — only when the question cannot stand alone."""
        if not history or not is_elliptical(asked.text):
            return []
        return [(read_question(q).text, a) for q, a in history if isinstance(q, str) and q.strip()]

    def _answer_part(self, raw: str, text: str, history: list[tuple[str, str]]) -> Answer:
        parsed = parse(text, history, self.plan.places)
        evidence = Evidence(parsed, self.knowledge, self.plan, self.retriever)
        route = route_for(parsed, self.routes)
        outcome = route.handler(parsed, evidence)
        if outcome is None:
            outcome = sentence_answer(parsed, evidence, route.sentence_needs_figure)
        return compose(raw, route.name, outcome, evidence)
