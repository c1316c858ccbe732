"""The 目标台账 tab: the targets ledger filtered, its timeline and each unit's workload, as xlsx and a report."""

from __future__ import annotations

from pathlib import Path

from assistant.web.files import web_files
from assistant.web.render import PRIVATE


def add_ledger_tab(gr, knowledge, files_root: Path) -> None:
    """目标台账: every numeric target, filterable by plan, action, unit and year, with a timeline by year
    and each unit's workload; the table turns into cards on a phone; downloadable as xlsx."""
    from assistant.facts.knowledge import ledger_rows
    from assistant.office.ledger import write_ledger
    from assistant.office.report import ledger_report
    from assistant.web import ledger_views as views

    rows = ledger_rows(knowledge)
    everything = [("全部", "")]
    plans = everything + views.plan_choices(knowledge)
    actions = everything + [(a, a) for a in dict.fromkeys(r.action for r in rows)]
    units = everything + views.unit_choices((u for r in rows for u in r.units), knowledge.unit_aliases)
    years = everything + [(y, y) for y in sorted({str(r.year) for r in rows if r.year})]

    def filtered(plan: str, action: str, unit: str, year: str):
        chosen = views.rows_of_plan(knowledge, ledger_rows(knowledge, action=action, unit=unit, year=_year(year)), plan or "")
        folder = web_files(files_root)  # one folder per call: callers never share a link
        path, report = folder / "目标台账.xlsx", folder / "目标台账报告.docx"
        write_ledger(chosen, path, "xlsx")
        report.write_bytes(ledger_report(knowledge, chosen))
        loads = views.workload_chart(views.workloads(knowledge, doc=plan or "", action=action or ""),
                                     chosen=knowledge.unit_aliases.canonical(unit) if unit else "")
        return (views.ledger_table(chosen), views.timeline(chosen), loads, str(path), str(report),
                f"共 {len(chosen)} 项目标")

    with gr.Row():
        plan = gr.Dropdown(plans, value="", label="方案", elem_id="planqa-ledger-plan", elem_classes="planqa-filter", min_width=240)
        action = gr.Dropdown(actions, value="", label="行动", elem_id="planqa-ledger-action", elem_classes="planqa-filter", min_width=240)
        unit = gr.Dropdown(units, value="", label="责任单位（可输入简称，如 发改局）", allow_custom_value=True,
                           elem_id="planqa-ledger-unit", elem_classes="planqa-filter", min_width=240)
        year = gr.Dropdown(years, value="", label="年份", elem_id="planqa-ledger-year", elem_classes="planqa-filter", min_width=240)
    first_table, first_timeline, first_loads, first_path, first_report, first_count = filtered("", "", "", "")
    with gr.Row():
        count = gr.Markdown(first_count, elem_id="planqa-ledger-count")
        download = gr.DownloadButton("下载 xlsx", value=first_path, size="sm", scale=0, min_width=120)
        report = gr.DownloadButton("下载报告（Word）", value=first_report, size="sm", scale=0, min_width=150,
                                   elem_id="planqa-ledger-report")
    with gr.Row():  # side by side on a wide screen, one above the other on a phone
        with gr.Column(min_width=340):
            years_view = gr.HTML(first_timeline, elem_id="planqa-ledger-timeline", min_height=0)
        with gr.Column(min_width=340):
            loads_view = gr.HTML(first_loads, elem_id="planqa-ledger-workload", min_height=0)
    table = gr.HTML(first_table, elem_id="planqa-ledger-table", min_height=0)
    controls = [plan, action, unit, year]
    for control in controls:
        control.change(filtered, controls, [table, years_view, loads_view, download, report, count],
                       api_visibility=PRIVATE, show_progress="hidden")


def _year(text: str | None) -> int | None:
    return int(text) if text and text.isdigit() else None
