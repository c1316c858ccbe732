"""The plan as data: documents → clauses → facts, in one object the later stages share."""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Protocol

from assistant.facts.deadlines import Deadline, extract_deadlines
from assistant.facts.front_matter import extract_meta
from assistant.facts.responsibilities import parse_responsible_units
from assistant.facts.targets import extract_targets
from assistant.ingest.identity import identify
from assistant.ingest.load import LoadError, load_corpus
from assistant.ingest.structure import structure_document
from assistant.lang.agencies import AgencyAliases
from assistant.lang.places import place_names
from assistant.models import (
    Answerer,
    Clause,
    Document,
    LedgerRow,
    MetaFact,
    PlanIdentity,
    Responsibility,
    Target,
)

PLAN_KINDS = ("goal", "task", "paragraph")


@dataclass(frozen=True)
class Knowledge:
    documents: tuple[Document, ...]
    clauses: tuple[Clause, ...]
    targets: tuple[Target, ...]
    responsibilities: dict[str, Responsibility]  # by clause id
    deadlines: tuple[Deadline, ...]
    meta: tuple[MetaFact, ...]
    errors: tuple[LoadError, ...] = ()
    by_id: dict[str, Clause] = field(default_factory=dict, repr=False)
    identities: dict[str, PlanIdentity] = field(default_factory=dict, repr=False)  # by document name
    unit_aliases: AgencyAliases = field(default_factory=AgencyAliases, repr=False)  # learned from this corpus, its own

    def clause(self, clause_id: str) -> Clause:
        return self.by_id[clause_id]

    def find_clause(self, clause_id: str) -> Clause | None:
        """A clause named from outside (an API path), which may not exist."""
        return self.by_id.get(clause_id)

    def document(self, name: str) -> Document:
        return next(d for d in self.documents if d.name == name)

    def quote(self, doc: str, start: int, end: int) -> str:
        """The verbatim slice of the original file that a citation shows."""
        return self.document(doc).text[start:end]

    def tasks(self) -> list[Clause]:
        return [c for c in self.clauses if c.kind == "task"]


def build_knowledge(documents: list[Document] | tuple[Document, ...], errors: tuple[LoadError, ...] = ()) -> Knowledge:
    clauses: list[Clause] = []
    meta: list[MetaFact] = []
    identities: dict[str, PlanIdentity] = {}
    for document in documents:
        doc_clauses = structure_document(document)
        clauses += doc_clauses
        meta += extract_meta(doc_clauses)
        identities[document.name] = identify(document, doc_clauses)
    fact_clauses = [c for c in clauses if c.kind in PLAN_KINDS or is_prose_meta(c)]
    aliases = learn_units_of(fact_clauses, identities)
    targets: list[Target] = []
    deadlines: list[Deadline] = []
    responsibilities: dict[str, Responsibility] = {}
    for clause in fact_clauses:
        targets += extract_targets(clause)
        deadlines += extract_deadlines(clause)
        if (units := parse_responsible_units(clause, aliases)) is not None:
            responsibilities[clause.id] = units
    return Knowledge(
        documents=tuple(documents),
        clauses=tuple(clauses),
        targets=tuple(targets),
        responsibilities=responsibilities,
        deadlines=tuple(deadlines),
        meta=tuple(meta),
        errors=errors,
        by_id={c.id: c for c in clauses},
        identities=identities,
        unit_aliases=aliases,
    )


def restrict(knowledge: Knowledge, docs: frozenset[str]) -> Knowledge:
    """The corpus cut down to some plans: facts and clauses of those documents only.

    Documents, clause lookups and identities stay whole, so a citation of any plan still resolves.
    """
    def kept(clause_id: str) -> bool:
        return knowledge.by_id[clause_id].doc in docs

    return replace(
        knowledge,
        clauses=tuple(c for c in knowledge.clauses if c.doc in docs),
        targets=tuple(t for t in knowledge.targets if kept(t.clause_id)),
        responsibilities={k: v for k, v in knowledge.responsibilities.items() if kept(k)},
        deadlines=tuple(d for d in knowledge.deadlines if kept(d.clause_id)),
        meta=tuple(m for m in knowledge.meta if kept(m.clause_id)),
    )


def plan_title(knowledge: Knowledge, doc: str) -> str:
    """The plan's title as citations and ledger rows show it (the file name when no identity was read)."""
    identity = knowledge.identities.get(doc)
    return identity.title if identity else Path(doc).stem


def is_prose_meta(clause: Clause) -> bool:
    """Text before a plan's outline (a digest, a preamble, a plan excerpted without headings) states facts too."""
    if clause.kind != "meta":
        return False
    return (len(clause.text) >= 30 and bool(re.search(r"[。;；,，]", clause.text))) or bool(re.search(r"\d{4}年.*\d%", clause.text))


def learn_units_of(clauses: list[Clause], identities: dict[str, PlanIdentity]) -> AgencyAliases:
    """Learn the corpus's unit aliases from the names its plans use (region prefixes from their identities)."""
    names = [name for c in clauses if (r := parse_responsible_units(c)) is not None for name in r.original]
    places = tuple(dict.fromkeys(p for identity in identities.values() for p in place_names(identity.region)))
    return AgencyAliases.learn(names, places)


def load_knowledge(corpus_dir: Path) -> Knowledge:
    corpus = load_corpus(corpus_dir)
    return build_knowledge(corpus.documents, corpus.errors)


def ledger_rows(
    knowledge: Knowledge, action: str | None = None, unit: str | None = None, year: int | None = None,
    plan: str | None = None,
) -> list[LedgerRow]:
    """The targets ledger (目标任务台账), filtered: the one place the CLI, the API and the page get it from.

    `action` matches part of the action heading ("节能降碳"); `unit` any spelling or short form of a
    responsible unit ("发改局"); `year` the due year; `plan` part of a plan's title, its region, 文号
    or file name. Empty filters are no filters.
    """
    wanted_unit = knowledge.unit_aliases.canonical(unit) if unit else None
    docs = plans_matching(knowledge, plan) if plan else None
    targets = [t for t in knowledge.targets if docs is None or knowledge.clause(t.clause_id).doc in docs]
    rows = [_ledger_row(knowledge, target) for target in targets]
    return [
        row for row in rows
        if (not action or action in row.action)
        and (not wanted_unit or wanted_unit in row.units)
        and (year is None or row.year == year)
    ]


def plans_matching(knowledge: Knowledge, wanted: str) -> set[str]:
    """The documents whose title, region, 文号 or file name contains `wanted` ("苏州", "苏府〔2024〕34号")."""
    return {
        doc for doc, plan in knowledge.identities.items()
        if any(wanted in field for field in (plan.title, plan.region, plan.doc_number, doc) if field)
    }


def _ledger_row(knowledge: Knowledge, target: Target) -> LedgerRow:
    clause = knowledge.clause(target.clause_id)
    responsibility = knowledge.responsibilities.get(clause.id)
    units = responsibility.units if responsibility else ()
    parts = clause.section.split(" > ")
    return LedgerRow(
        action=clause.action or parts[0],
        task=parts[-1] if clause.kind == "task" else "",
        indicator=target.indicator,
        value=target.value_text,
        unit=target.unit,
        qualifier=target.qualifier,
        statement=target.display,
        year=target.year,
        baseline=target.baseline or "",
        lead_unit=units[0] if units else "",
        partner_units=tuple(units[1:]),
        clause_id=clause.id,
        quote=knowledge.quote(clause.doc, target.start, target.end),
        plan=plan_title(knowledge, clause.doc),
        direction="、".join(target.direction_words),
    )


class KnowledgeAnswerer(Answerer, Protocol):
    """What every entry point asks through (API, page, batch, CLI; assistant/web/service.py): answers,
    the plans it answers from (ledger, clause lookups, a questionnaire's sources), questions embedded
    ahead of a questionnaire (nothing to do for an answerer without an embedding model), and why it
    cannot answer now (a vector store's server down), or None."""

    @property
    def knowledge(self) -> Knowledge: ...

    def prefetch(self, questions: list[str]) -> None: ...

    def problem(self) -> str | None: ...
