"""The reports of a run (Markdown tables, JSON, a PNG chart) and the CI floors."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Sequence
from pathlib import Path

from assistant.evaluation.sets import EvalSet

log = logging.getLogger(__name__)


def pct(value: float | None) -> str:
    return "–" if value is None else f"{100 * value:.1f}%"


def tables(summary: dict) -> list[str]:
    systems = list(summary["systems"])
    lines = []
    if "accuracy" in summary:
        ab = summary["abstention"]
        lat = summary["latency_ms"]
        lines += [
            f"questions: {summary['questions']}",
            f"accuracy (ours): {pct(summary['accuracy'])}",
            f"citation accuracy: {pct(summary['citation_accuracy'])} of {summary['citation_questions']} answered questions with a gold quote",
            f"verbatim citations: {pct(summary['verbatim_citation_share'])} of answered questions",
            f"direction kept: {pct(summary.get('direction_kept'))} of {summary.get('direction_questions', 0)} answered targets "
            "whose source states a direction word by the figure",
            f"abstention: precision {pct(ab['precision'])}, recall {pct(ab['recall'])} "
            f"({ab['abstained']} abstained, {ab['unanswerable']} unanswerable)",
            f"latency (warm): p50 {lat['p50']} ms, p95 {lat['p95']} ms (load average {summary['load_average']:.1f})",
            error_line(summary),
            "",
        ]
    with_accuracy = [s for s in systems if "accuracy" in summary["systems"][s]]
    if with_accuracy:
        categories = list(summary["systems"][with_accuracy[0]]["by_category"])
        lines.append("| category | " + " | ".join(with_accuracy) + " |")
        lines.append("|---|" + "---|" * len(with_accuracy))
        for c in categories:
            lines.append(
                f"| {c} | "
                + " | ".join(pct(summary["systems"][s]["by_category"][c]) for s in with_accuracy)
                + " |"
            )
        for key in ("answerable_accuracy", "accuracy"):
            lines.append(
                f"| **{key}** | " + " | ".join(pct(summary["systems"][s][key]) for s in with_accuracy) + " |"
            )
        chars = " | ".join(str(summary["systems"][s]["mean_answer_chars"]) for s in with_accuracy)
        lines.append(f"| answer length (chars) | {chars} |")
        lines.append("")
    n = summary["systems"][systems[0]]["retrieval"]["questions"]
    lines.append(f"retrieval over {n} answerable questions with a gold quote (ours = hybrid):")
    lines.append("")
    lines.append("| system | hit@1 | hit@5 | MRR@10 |")
    lines.append("|---|---|---|---|")
    for s in systems:
        r = summary["systems"][s]["retrieval"]
        lines.append(f"| {s} | {pct(r['hit@1'])} | {pct(r['hit@5'])} | {r['mrr']} |")
    return lines


def write_reports(summary: dict, results: list[dict], folder: Path) -> dict[str, str]:
    folder.mkdir(parents=True, exist_ok=True)
    stem = folder / f"eval-{time.strftime('%Y%m%d-%H%M%S')}"
    paths = {"json": f"{stem}.json", "markdown": f"{stem}.md"}
    brief = {k: v for k, v in summary.items() if k != "answers"}  # every answer is in the results already
    Path(paths["json"]).write_text(
        json.dumps({"summary": brief, "results": results}, ensure_ascii=False, indent=2), "utf-8"
    )
    if chart := write_chart(summary, Path(f"{stem}.png")):
        paths["chart"] = str(chart)
    lines = ["# planqa evaluation", "", f"{time.strftime('%Y-%m-%d %H:%M')} · {summary.get('file', '')}", ""]
    lines += tables(summary)
    if "chart" in paths:
        lines += ["", f"![accuracy per category]({Path(paths['chart']).name})"]
    if "wrong" in summary:
        lines += ["", f"## Wrong answers of ours ({len(summary['wrong'])})", ""]
        for w in summary["wrong"]:
            cite = w["citation"]
            where = f"{cite['section']} — 「{cite['quote'][:120]}」" if cite else "(no citation)"
            lines += [
                f"### {w['id']} ({w['category']})",
                f"- question: {w['question']}",
                f"- expected: {w['expected']}",
                f"- got: {w['got'][:400]}",
                f"- first citation: {where}",
                "",
            ]
    Path(paths["markdown"]).write_text("\n".join(lines) + "\n", "utf-8")
    return paths


def write_chart(summary: dict, path: Path) -> Path | None:
    systems = [s for s in summary["systems"] if "by_category" in summary["systems"][s]]
    if not systems:
        return None
    try:
        import matplotlib  # the `eval` extra: no default path (build, ask, serve, batch) needs it
    except ImportError:
        log.warning("no chart: matplotlib is missing (pip install 'planqa[eval]')")
        return None

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    categories = list(summary["systems"][systems[0]]["by_category"]) + ["overall"]
    width = 0.8 / len(systems)
    fig, ax = plt.subplots(figsize=(10, 4.5))
    for n, system in enumerate(systems):
        block = summary["systems"][system]
        values = [100 * (block["by_category"][c] or 0) for c in categories[:-1]] + [
            100 * (block["accuracy"] or 0)
        ]
        ax.bar([i + n * width for i in range(len(categories))], values, width, label=system)
    ax.set_xticks([i + width * (len(systems) - 1) / 2 for i in range(len(categories))], categories)
    ax.set_ylabel("accuracy (%)")
    ax.set_ylim(0, 100)
    ax.set_title(f"planqa: answer accuracy per category ({summary['questions']} questions)")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


SET_METRICS = (
    "accuracy",
    "citation_accuracy",
    "direction_kept",
    "first_citation_doc",
    "uncovered_abstention",
    "abstention_precision",
    "abstention_recall",
)


# the two ways an answer fails, counted and as a share (error_rates in scoring.py)
ERRORS = {"false_abstentions": "false_abstention_rate", "wrong_answers": "wrong_answer_rate"}


def error_cell(summary: dict, key: str) -> str:
    return f"{summary[key]} ({pct(summary[ERRORS[key]])})"


def error_line(summary: dict) -> str:
    return (
        f"false abstentions: {error_cell(summary, 'false_abstentions')} of {summary['answerable']} answerable; "
        f"wrong answers: {error_cell(summary, 'wrong_answers')} of {summary['answered']} answered"
    )


def set_tables(summaries: Sequence[dict]) -> list[str]:
    columns = (*SET_METRICS, *ERRORS)
    lines = ["| set | questions | " + " | ".join(columns) + " |", "|---|---|" + "---|" * len(columns)]
    for s in summaries:
        cells = [pct(s[m]) for m in SET_METRICS] + [error_cell(s, e) for e in ERRORS]
        lines.append(f"| {s['set']} | {s['questions']} | " + " | ".join(cells) + " |")
    for s in summaries:
        lines += ["", f"{s['set']} ({s['documents']} documents): {error_line(s)}; by category:", ""]
        lines += [f"- {c}: {pct(v)}" for c, v in s["by_category"].items()]
        lines += [f"- form {f}: {pct(v)}" for f, v in s["by_form"].items()]
    return lines


def write_set_report(summaries: Sequence[dict], folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    stem = folder / f"sets-{time.strftime('%Y%m%d-%H%M%S')}"
    Path(f"{stem}.json").write_text(json.dumps(list(summaries), ensure_ascii=False, indent=2), "utf-8")
    lines = ["# planqa eval sets", "", *set_tables(summaries)]
    for s in summaries:
        lines += ["", f"## Wrong answers in {s['set']} ({len(s['wrong'])})", ""]
        for w in s["wrong"]:
            cite = w["citation"]
            where = (
                f"{cite['doc']} {cite['section']} — 「{cite['quote'][:100]}」" if cite else "(no citation)"
            )
            lines += [
                f"- **{w['id']}** {w['question']}",
                f"  - expected: {w['expected']}",
                f"  - got: {w['got'][:300]}",
            ]
            lines += [f"  - first citation: {where}"]
    Path(f"{stem}.md").write_text("\n".join(lines) + "\n", "utf-8")
    return Path(f"{stem}.md")


def check_floor(summary: dict, floor_path: Path) -> list[str]:
    """Metrics below the CI floor, as messages (empty = all at or above it)."""
    return floor_problems(summary, json.loads(Path(floor_path).read_text("utf-8")), str(floor_path))


def floor_problems(summary: dict, floor: dict[str, float], source: str) -> list[str]:
    problems = []
    for metric, minimum in floor.items():
        value = summary.get(metric)
        if value is None:
            problems.append(f"{metric}: not measured (floor {pct(minimum)})")
        elif value < minimum:
            problems.append(f"{metric} {pct(value)} is below the floor {pct(minimum)} in {source}")
    return problems


def set_floor_problems(summaries: Sequence[dict], sets: Sequence[EvalSet]) -> list[str]:
    floors = {s.name: s.floor for s in sets}
    return [
        f"{summary['set']}: {problem}"
        for summary in summaries
        for problem in floor_problems(summary, floors.get(summary["set"], {}), "evals/sets.json")
    ]


def write_answers(path: Path, answers: dict[str, list[dict]]) -> Path:
    """Every question's answer (id, got, abstained, correct, first citation) per set, as JSON: two runs that
    answered alike write the same bytes, so `cmp before.json after.json` says whether answers changed."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(answers, ensure_ascii=False, indent=1), "utf-8")
    return path
