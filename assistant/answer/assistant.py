"""The one entry point every interface uses: question → route → handler → one composed `Answer`."""

from __future__ import annotations

import logging

from ..config import Settings, load_settings
from ..errors import InputFileError, PlanqaError
from ..knowledge import Knowledge, load_knowledge
from ..models import Answer
from .drafts import compose
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

    def ask(self, question: str, history: list[tuple[str, str]] | None = None) -> Answer:
        raw = validate(question, self.settings.max_question_chars)
        parsed = parse(raw, history or [], self.plan.places)
        evidence = Evidence(parsed, self.knowledge, self.plan, self.retriever)
        route = route_for(parsed, self.routes)
        outcome = route.handler(parsed, evidence)
        if outcome is None:
            outcome = sentence_answer(parsed, evidence, route.sentence_needs_figure)
        answer = compose(raw, route.name, outcome, evidence)
        return self.generator.rewrite(answer) if self.generator else answer
