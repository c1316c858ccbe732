"""The eval set is only worth something if its gold is anchored in the source."""

import json
from collections import Counter

import pytest

from assistant.evaluation.scoring import match_form
from assistant.ingest.clean import normalise_text
from tests.conftest import BULLETIN, ROOT

CATEGORIES = {
    "target",
    "responsible",
    "deadline",
    "aggregate",
    "conflict",
    "chronicle",
    "meta",
    "unanswerable",
}


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


# --- the eval sets of evals/sets.json (issues 12 and 13) ---------------------------------------------------
DEV_CORPUS = ROOT / ".." / "shared" / "corpus-dev"
SETS = ROOT / "evals" / "sets"
SET_CATEGORIES = {
    "dev-plans": {
        "target",
        "responsible",
        "deadline",
        "comparison",
        "meta",
        "uncovered_region",
        "unanswerable",
    },
    "questionnaire": CATEGORIES,
}
FORMS = {
    "numbered",
    *(f"outline_{kind}" for kind in ("plain", "dotted", "dotted_nospace", "three_level", "dotted_comma", "dashed",
                                     "fullwidth", "paren", "circled", "chinese", "item", "question")),
    "polite",
    "traditional",
    "english",
    "multipart",
    "followup_complete",
    "followup_elliptical",
}


def load_set(name: str) -> list[dict]:
    lines = (SETS / f"{name}.jsonl").read_text("utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def as_list(value) -> list:
    return value if isinstance(value, list) else [value]


def dev_documents() -> dict[str, str]:
    if not DEV_CORPUS.is_dir():
        pytest.skip(
            f"the dev corpus is not here ({DEV_CORPUS.resolve()}): it is read from ../shared/corpus-dev"
        )
    return {path.stem: path.read_text("utf-8") for path in DEV_CORPUS.glob("*.txt")}


@pytest.mark.parametrize("name", sorted(SET_CATEGORIES))
def test_set_shape(name: str):
    rows = load_set(name)
    assert len({row["id"] for row in rows}) == len(rows)
    for row in rows:
        assert row["set"] == name and row["question"].strip(), row["id"]
        assert row["category"] in SET_CATEGORIES[name], row["id"]
        abstains = row["category"] in ("unanswerable", "uncovered_region")
        assert bool(row.get("abstain")) == abstains, row["id"]
        assert abstains or row["must_include"] or row.get("any_of"), row["id"]
        if abstains:
            assert row["must_include"] == [], row["id"]


@pytest.mark.parametrize("name", sorted(SET_CATEGORIES))
def test_set_gold_strings_appear_in_the_gold_answer(name: str):
    for row in load_set(name):
        answer = match_form(row["answer"])
        for needle in row["must_include"]:
            assert match_form(needle) in answer, (row["id"], needle)
        if row.get("any_of"):  # alternatives: the gold answer uses at least one
            assert any(match_form(needle) in answer for needle in row["any_of"]), row["id"]


def test_dev_quotes_are_verbatim_short_spans_of_their_documents():
    documents = dev_documents()
    for row in load_set("dev-plans"):
        if row["category"] == "uncovered_region":
            continue
        docs, quotes = as_list(row["doc"]), as_list(row["source_quote"])
        assert all(doc in documents for doc in docs), row["id"]
        if row["category"] == "unanswerable":
            continue
        assert len(docs) == len(quotes), row["id"]
        for doc, quote in zip(docs, quotes, strict=True):
            assert quote and len(quote) <= 60, row["id"]
            assert quote in documents[doc], (row["id"], doc, quote)


def test_dev_set_covers_every_document_and_the_national_plans():
    documents = dev_documents()
    rows = load_set("dev-plans")
    asked = {doc for row in rows if row["doc"] for doc in as_list(row["doc"])}
    assert asked == set(documents)
    national = {
        "“十三五”控制温室气体排放工作方案部门分工",
        "减污降碳协同增效实施方案",
        "工业领域碳达峰实施方案",
        "2022年政府工作报告",
    }
    assert sum(1 for row in rows if set(as_list(row["doc"])) & national) >= 25
    assert sum(1 for row in rows if row["category"] == "comparison" and len(row["doc"]) == 2) >= 5


def test_uncovered_regions_are_in_no_loaded_title():
    titles = list(dev_documents()) + [path.stem for path in (ROOT / "corpus").iterdir()]
    uncovered = [row for row in load_set("dev-plans") if row["category"] == "uncovered_region"]
    assert len(uncovered) >= 5
    for row in uncovered:
        region = row["region"]
        assert region in row["question"] and row["doc"] is None, row["id"]
        core = region.rstrip("省市县区")
        assert not any(core in title for title in titles), (row["id"], region)


def test_questionnaire_rows_keep_the_gold_of_the_question_they_vary():
    gold = {q["id"]: q for q in load_questions()}
    rows = load_set("questionnaire")
    assert {row["form"] for row in rows} == FORMS
    for row in rows:
        ids = as_list(row["variant_of"])
        assert all(i in gold for i in ids), row["id"]
        if row["form"] == "multipart":
            assert len(ids) >= 2
            assert all(set(gold[i]["must_include"]) <= set(row["must_include"]) for i in ids), row["id"]
        else:
            assert row["must_include"] == gold[ids[0]]["must_include"], row["id"]
        if row["form"].startswith("followup"):
            assert len(row["history"]) == 1 and row["history"][0][0] in {q["question"] for q in gold.values()}


def test_questionnaire_file_is_what_the_script_generates():
    pytest.importorskip(
        "opencc", reason="opencc (the traditional-character converter) is a dev tool: pip install opencc"
    )
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "make_questionnaire", ROOT / "evals" / "make_questionnaire.py"
    )
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    assert (SETS / "questionnaire.jsonl").read_text("utf-8") == script.generate()


def test_manifest_names_every_set_file_and_corpus():
    from assistant.evaluation.sets import load_manifest

    sets = {s.name: s for s in load_manifest(ROOT / "evals" / "sets.json")}
    assert {"bulletin", "dev-plans", "dev-plans-with-bulletin", "questionnaire"} <= set(sets)
    for eval_set in sets.values():
        assert eval_set.file.is_file(), eval_set.name
        assert all(0 < v <= 1 for v in eval_set.floor.values()), eval_set.name
    assert sets["dev-plans-with-bulletin"].file == sets["dev-plans"].file
    assert set(sets["dev-plans-with-bulletin"].corpus) == set(sets["dev-plans"].corpus) | set(
        sets["bulletin"].corpus
    )
