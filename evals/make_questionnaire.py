"""Generate evals/sets/questionnaire.jsonl: the bulletin questions as officials' questionnaires phrase them.

Why generated: the numbered (outline forms included), polite and traditional-character forms are mechanical rewrites of
evals/questions.jsonl, so a script keeps them reproducible (tests/test_evalset.py checks the file equals
this script's output). The English, multi-part and follow-up rows are written by hand below; each keeps
`variant_of` (the id in questions.jsonl whose gold it shares) and `form`.

    python evals/make_questionnaire.py            # rewrite evals/sets/questionnaire.jsonl
    python evals/make_questionnaire.py --check    # exit 1 when the file differs

Needs the opencc package (a development tool only: pip install opencc).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
QUESTIONS = ROOT / "evals" / "questions.jsonl"
OUTPUT = ROOT / "evals" / "sets" / "questionnaire.jsonl"
GOLD_FIELDS = ("category", "answer", "must_include", "any_of", "source_quote")

NUMBERINGS: list[Callable[[int, str], str]] = [
    lambda n, q: f"{n}、{q}",
    lambda n, q: f"{n}. {q}",
    lambda n, q: f"（{n}）{q}",
    lambda n, q: f"{'①②③④⑤⑥⑦⑧⑨⑩'[(n - 1) % 10]}{q}",
    lambda n, q: f"问题{n}：{q}",
    lambda n, q: f"Q{n} {q}",
    lambda n, q: f"{q}（第{n}题）",
]
CHINESE_NUMERALS = "一二三四五六七八九十"


def chinese_numeral(n: int) -> str:
    """1..99 as officials number items: 一, 十, 十二, 二十一."""
    tens, ones = divmod(n, 10)
    return (CHINESE_NUMERALS[tens - 1] if tens > 1 else "") + ("十" if tens else "") + (CHINESE_NUMERALS[ones - 1] if ones else "")


def outline(n: int) -> tuple[int, int]:
    """Item n of a questionnaire in sections of five: 1.1 … 1.5, 2.1 …"""
    return (n - 1) // 5 + 1, (n - 1) % 5 + 1


# Outline numberings as audit questionnaires use them, each asking the same questions as the plain form
# (form "outline_plain"): the per-form figures must stay within a point of the plain one.
OUTLINES: dict[str, Callable[[int, str], str]] = {
    "outline_plain": lambda n, q: q,
    "outline_dotted": lambda n, q: "{}.{} {}".format(*outline(n), q),
    "outline_dotted_nospace": lambda n, q: "{}.{}{}".format(*outline(n), q),
    "outline_three_level": lambda n, q: "{}.{}.{} {}".format(*outline(n), 1, q),
    "outline_dotted_comma": lambda n, q: "{}.{}、{}".format(*outline(n), q),
    "outline_dashed": lambda n, q: "{}-{} {}".format(*outline(n), q),
    "outline_fullwidth": lambda n, q: "{}．{}\u3000{}".format(*outline(n), q).translate(FULL_WIDTH_DIGITS),
    "outline_paren": lambda n, q: f"({n}){q}",
    "outline_circled": lambda n, q: f"{'①②③④⑤⑥⑦⑧⑨⑩⑪⑫⑬⑭⑮⑯⑰⑱⑲⑳'[(n - 1) % 20]}{q}",
    "outline_chinese": lambda n, q: f"{chinese_numeral(n)}、{q}",
    "outline_item": lambda n, q: f"第{chinese_numeral(n)}项 {q}",
    "outline_question": lambda n, q: "问题{}.{}：{}".format(*outline(n), q),
}
FULL_WIDTH_DIGITS = str.maketrans("0123456789", "０１２３４５６７８９")
POLITENESS: list[Callable[[str], str]] = [
    lambda q: f"请问{q}",
    lambda q: f"麻烦问一下，{q}",
    lambda q: f"{q.rstrip('？?')}，请附出处。",
    lambda q: f"您好，想了解一下：{q}",
    lambda q: f"请帮忙查一下：{q}",
]

ENGLISH = [  # (variant_of, question)
    ("target-001", "What is the 2025 target for the share of non-fossil energy in energy consumption?"),
    ("target-003", "What is the non-fossil energy share target for 2030?"),
    ("target-002", "By how much should energy consumption per unit of GDP fall by 2025 compared with 2020?"),
    ("responsible-001", "Which department leads the renovation of old residential compounds?"),
    ("deadline-001", "By when should the district reach its carbon peak?"),
    ("target-020", "What is the maximum PUE for new large and very large data centres?"),
    ("target-058", "What share of new car sales should new energy vehicles reach by 2025?"),
    ("target-085", "What is the 2025 target for the harmless treatment rate of urban household waste?"),
    ("target-088", "What R&D spending intensity (as a share of GDP) should be reached by 2025?"),
    ("responsible-010", "Who leads building the carbon emission statistics and accounting system?"),
    ("meta-002", "On what date did the district government issue the carbon peaking plan?"),
    ("meta-004", "Who is the editor-in-chief of the government gazette?"),
    ("target-116", "How many old residential compounds should be renovated in total by 2025?"),
    ("chronicle-004", "On which day was the 50th executive meeting of the district government held?"),
    ("unanswerable-008", "In which year does the district plan to reach carbon neutrality?"),
    ("unanswerable-021", "What annual average PM2.5 concentration should the urban area reach by 2025?"),
]
MULTIPART = [  # (ids whose gold is combined, question)
    (("target-001", "target-003"), "2025年和2030年的非化石能源消费比重分别是多少？"),
    (
        ("target-042", "target-043"),
        "城镇建筑可再生能源替代率和新建公共机构建筑、新建厂房屋顶光伏覆盖率的目标分别是多少？",
    ),
    (("target-085", "target-086"), "2025年城市生活垃圾无害化处置率和资源化利用率分别要达到多少？"),
    (("target-066", "target-067"), "中心城区300米和500米公交站点覆盖率分别要达到多少？"),
    (("target-072", "target-073"), "一般工业固废和建筑垃圾的资源综合利用率目标分别是多少？"),
    (("responsible-001", "responsible-014"), "老旧小区改造和运输工具低碳转型分别由哪个单位牵头？"),
    (("chronicle-004", "chronicle-005"), "第50次和第51次区政府常务会议分别是哪天开的？"),
    (
        ("target-020", "target-021"),
        "新建大型、超大型数据中心的PUE上限和2025年全区数据中心PUE总体要求分别是多少？",
    ),
    (("meta-004", "meta-005"), "公报的总编辑和编辑委员会主任分别是谁？"),
    (("target-088", "target-093"), "研发经费投入强度和高新技术产业增加值占GDP比重的目标分别是多少？"),
    (("target-046", "target-047"), "公共机构人均综合能耗和单位建筑面积能耗分别要下降多少？"),
    (("target-038", "target-040"), "专精特新“小巨人”企业和“上云上平台”企业的目标分别是多少家？"),
]
FOLLOWUP_COMPLETE = [  # (earlier question's id, the complete second question's id)
    ("target-001", "responsible-001"),
    ("responsible-001", "target-058"),
    ("target-003", "target-002"),
    ("deadline-001", "target-085"),
    ("meta-002", "meta-004"),
    ("chronicle-004", "chronicle-002"),
    ("target-020", "target-021"),
    ("target-066", "target-067"),
    ("unanswerable-008", "target-001"),
    ("target-042", "unanswerable-011"),
    ("responsible-014", "responsible-024"),
    ("target-088", "deadline-005"),
]
FOLLOWUP_ELLIPTICAL = [  # (earlier question's id, elliptical follow-up, id whose gold answers it)
    ("target-001", "那2030年呢？", "target-003"),
    ("target-003", "那2025年呢？", "target-001"),
    ("target-085", "资源化利用率呢？", "target-086"),
    ("target-086", "那到2030年呢？", "target-087"),
    ("responsible-001", "那垃圾分类回收利用呢？", "responsible-002"),
    ("target-066", "500米的呢？", "target-067"),
    ("chronicle-004", "第51次呢？", "chronicle-005"),
    ("meta-004", "副总编辑呢？", "meta-006"),
    ("target-020", "那全区数据中心到2025年总体呢？", "target-021"),
    ("target-072", "建筑垃圾呢？", "target-073"),
    ("target-114", "那要新增多少家？", "target-115"),
    ("target-001", "那2035年呢？", "unanswerable-001"),
    ("target-099", "畜禽粪污呢？", "target-100"),
    ("target-046", "那单位建筑面积能耗呢？", "target-047"),
]


def load(path: Path = QUESTIONS) -> dict[str, dict]:
    rows = [json.loads(line) for line in path.read_text("utf-8").splitlines() if line.strip()]
    return {row["id"]: row for row in rows}


def variant(gold: dict, form: str, number: int, question: str, **extra) -> dict:
    """A questionnaire row that shares the gold of the question it rewrites."""
    row = {"id": f"qn-{form}-{number:03d}", "set": "questionnaire", "question": question, "form": form}
    row.update({k: gold[k] for k in GOLD_FIELDS if k in gold})
    row["variant_of"] = gold["id"]
    if gold["category"] == "unanswerable":
        row["abstain"] = True
    row.update(extra)
    return row


def mechanical(questions: list[dict], to_traditional: Callable[[str], str]) -> list[dict]:
    """Numbered, polite and traditional forms of evenly spread questions (every category)."""
    rows = []
    for n, gold in enumerate(questions[0::11], 1):
        rows.append(variant(gold, "numbered", n, NUMBERINGS[n % len(NUMBERINGS)](n, gold["question"])))
    for n, gold in enumerate(questions[3::13], 1):
        rows.append(variant(gold, "polite", n, POLITENESS[n % len(POLITENESS)](gold["question"])))
    for n, gold in enumerate(questions[5::11], 1):
        rows.append(variant(gold, "traditional", n, to_traditional(gold["question"])))
    return rows


def outlined(questions: list[dict]) -> list[dict]:
    """The same evenly spread questions under every outline numbering, and plain."""
    chosen = questions[2::13]
    return [
        variant(gold, form, n, number(n, gold["question"]))
        for form, number in OUTLINES.items()
        for n, gold in enumerate(chosen, 1)
    ]


def combined(golds: list[dict], form: str, number: int, question: str) -> dict:
    """One question asking for several gold facts: a right answer must contain all of them."""
    must: list[str] = []
    for gold in golds:
        must += [s for s in gold["must_include"] if s not in must]
    row = variant(golds[0], form, number, question)
    row.update(
        answer="；".join(g["answer"] for g in golds),
        must_include=must,
        source_quote=[g["source_quote"] for g in golds],
        variant_of=[g["id"] for g in golds],
    )
    any_of = [s for g in golds for s in g.get("any_of") or []]
    if any_of:
        raise ValueError(f"multi-part rows cannot combine any_of alternatives: {row['id']}")
    return row


def by_hand(gold: dict[str, dict]) -> list[dict]:
    rows = [variant(gold[i], "english", n, q) for n, (i, q) in enumerate(ENGLISH, 1)]
    rows += [combined([gold[i] for i in ids], "multipart", n, q) for n, (ids, q) in enumerate(MULTIPART, 1)]
    for n, (earlier, second) in enumerate(FOLLOWUP_COMPLETE, 1):
        history = [[gold[earlier]["question"], ""]]
        rows.append(variant(gold[second], "followup_complete", n, gold[second]["question"], history=history))
    for n, (earlier, question, answered_by) in enumerate(FOLLOWUP_ELLIPTICAL, 1):
        history = [[gold[earlier]["question"], ""]]
        rows.append(variant(gold[answered_by], "followup_elliptical", n, question, history=history))
    return rows


def generate(path: Path = QUESTIONS) -> str:
    import opencc

    gold = load(path)
    convert = opencc.OpenCC("s2t").convert
    rows = mechanical(list(gold.values()), convert) + by_hand(gold) + outlined(list(gold.values()))
    return "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--check", action="store_true", help="exit 1 when the file is not what this script writes"
    )
    args = parser.parse_args(argv)
    text = generate()
    if args.check:
        same = OUTPUT.exists() and OUTPUT.read_text("utf-8") == text
        print("up to date" if same else f"{OUTPUT} differs: run python evals/make_questionnaire.py")
        return 0 if same else 1
    OUTPUT.parent.mkdir(parents=True, exist_ok=True)
    OUTPUT.write_text(text, "utf-8")
    print(f"wrote {text.count(chr(10))} rows to {OUTPUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
