"""The eval set is only worth something if its gold is anchored in the source."""

import json
from collections import Counter

from assistant.clean import normalise_text
from tests.conftest import BULLETIN, ROOT

CATEGORIES = {"target", "responsible", "deadline", "aggregate", "conflict", "chronicle", "meta", "unanswerable"}


def load_questions():
    lines = (ROOT / "evals" / "questions.jsonl").read_text("utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def test_every_source_quote_is_verbatim_in_the_corpus():
    text = BULLETIN.read_text("utf-8")
    for question in load_questions():
        if question["source_quote"]:
            assert question["source_quote"] in text, question["id"]


def test_shape_and_coverage():
    questions = load_questions()
    assert len(questions) >= 150
    assert len({q["id"] for q in questions}) == len(questions)
    counts = Counter(q["category"] for q in questions)
    assert set(counts) <= CATEGORIES
    assert counts["unanswerable"] / len(questions) >= 0.15
    for question in questions:
        assert question["question"].strip() and isinstance(question["must_include"], list)
        if question["category"] == "unanswerable":
            assert question["must_include"] == []
        else:
            assert question["must_include"] or question.get("any_of"), question["id"]


def test_gold_strings_appear_in_the_gold_answer():
    for question in load_questions():
        answer = normalise_text(question["answer"])
        for needle in question["must_include"]:
            assert normalise_text(needle) in answer, (question["id"], needle)
