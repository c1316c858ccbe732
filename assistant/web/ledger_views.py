"""The targets ledger as the page shows it: a table that becomes one card per row on a phone, a timeline
of targets by year and each unit's workload (tasks led and supported), all plain HTML; and the API's
schema of a ledger row, from the same column definition.

Plain HTML with CSS widths rather than a plotting library: it renders with no script or CDN, prints,
and reads on a phone. Every value is escaped here; the page only places the result.
"""

from __future__ import annotations

import html
import typing
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, Field, create_model

from assistant.facts.knowledge import Knowledge, plan_title
from assistant.models import LEDGER_COLUMNS, LEDGER_HEADERS, LedgerRow
from assistant.office.ledger import field_text
from assistant.office.safe_text import clean_text

# What the page's table shows of a row (the xlsx download carries every column), under the ledger's headers.
TABLE_FIELDS = ("action", "indicator", "statement", "year", "lead_unit", "partner_units", "quote")
NO_YEAR = "未注明年份"
SHORT_ALIAS = 4  # aliases up to this length are what people type ("发改局"); longer ones are spellings
ALIASES_SHOWN = 4


@dataclass(frozen=True)
class Workload:
    """How many tasks (clauses naming units) a unit leads and how many it supports."""

    unit: str
    leads: int
    supports: int

    @property
    def total(self) -> int:
        return self.leads + self.supports


# ---------------------------------------------------------------- filter choices


def plan_choices(knowledge: Knowledge) -> list[tuple[str, str]]:
    """(title, document) of every plan that sets a target or names a unit, for the plan filter."""
    docs = {knowledge.clause(t.clause_id).doc for t in knowledge.targets}
    docs |= {knowledge.clause(cid).doc for cid in knowledge.responsibilities}
    return [(plan_title(knowledge, d.name), d.name) for d in knowledge.documents if d.name in docs]


def unit_choices(units: Iterable[str], aliases: dict[str, str]) -> list[tuple[str, str]]:
    """(label, unit): the label carries the short forms people type, so the dropdown's own filter finds
    "发改局" under 区发展和改革局 (the filter matches labels, not values)."""
    short: dict[str, list[str]] = {}
    for alias, canonical in aliases.items():
        if alias != canonical and len(alias) <= SHORT_ALIAS and alias not in canonical:
            short.setdefault(canonical, []).append(alias)
    out = []
    for unit in sorted(set(units)):
        forms = sorted(short.get(unit, []), key=lambda a: (len(a), a))[:ALIASES_SHOWN]
        out.append((f"{unit}（{'、'.join(forms)}）" if forms else unit, unit))
    return out


def rows_of_plan(knowledge: Knowledge, rows: Sequence[LedgerRow], doc: str) -> list[LedgerRow]:
    """Exactly one plan's rows (ledger_rows' `plan` matches parts of titles, which could catch two)."""
    return [r for r in rows if not doc or knowledge.clause(r.clause_id).doc == doc]


# ---------------------------------------------------------------- the table / cards


def ledger_table(rows: Sequence[LedgerRow]) -> str:
    """A table on a wide screen; the CSS (`LEDGER_CSS`) lays each row out as a labelled card on a phone."""
    if not rows:
        return '<p class="planqa-empty">没有符合条件的目标。</p>'
    head = "".join(f"<th>{LEDGER_HEADERS[field]}</th>" for field in TABLE_FIELDS)
    body = "".join(_table_row(row) for row in rows)
    return f'<table class="planqa-ledger"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def _table_row(row: LedgerRow) -> str:
    cells = []
    for field in TABLE_FIELDS:
        text = str(field_text(row, field))
        cells.append(f'<td data-label="{LEDGER_HEADERS[field]}" class="planqa-col-{field}">{_html(text) or "—"}</td>')
    return f"<tr>{''.join(cells)}</tr>"


def ledger_row_model() -> type[BaseModel]:
    """The API's schema of one ledger row: the ledger's columns, typed as `LedgerRow` types them."""
    types = typing.get_type_hints(LedgerRow)
    fields: dict[str, Any] = {
        column.field: (list[str] if column.field == "partner_units" else types[column.field],
                       Field(description=column.about or None))
        for column in LEDGER_COLUMNS
    }
    return create_model("LedgerRowOut", __doc__="One numeric target of the ledger (models.LedgerRow).", **fields)


# ---------------------------------------------------------------- timeline by year


def year_counts(rows: Sequence[LedgerRow]) -> list[tuple[str, list[str]]]:
    """(year, the indicators due that year), years in order, rows without a year last."""
    by_year: dict[str, list[str]] = {}
    for row in sorted(rows, key=lambda r: (r.year is None, r.year or 0)):
        by_year.setdefault(str(row.year) if row.year else NO_YEAR, []).append(row.indicator or row.statement)
    return list(by_year.items())


def timeline(rows: Sequence[LedgerRow]) -> str:
    """One bar per year, its length the number of targets due, the indicators named beside it."""
    counts = year_counts(rows)
    if not counts:
        return ""
    most = max(len(items) for _, items in counts)
    lines = "".join(
        f'<div class="planqa-bar-row"><span class="planqa-bar-label">{_html(year)}</span>'
        f'<span class="planqa-bar-track"><span class="planqa-bar planqa-bar-lead" style="width:{_percent(len(items), most)}%"></span></span>'
        f'<span class="planqa-bar-value">{len(items)} 项</span>'
        f'<div class="planqa-bar-note">{_html(_some(items))}</div></div>'
        for year, items in counts
    )
    return f'<div class="planqa-chart planqa-years" id="planqa-timeline"><div class="planqa-chart-title">目标年度分布</div>{lines}</div>'


# ---------------------------------------------------------------- workload by unit


def workloads(knowledge: Knowledge, doc: str = "", action: str = "") -> list[Workload]:
    """Tasks each unit leads and supports, busiest first; limited to one plan and action when given."""
    leads: Counter[str] = Counter()
    supports: Counter[str] = Counter()
    for clause_id, duty in knowledge.responsibilities.items():
        clause = knowledge.clause(clause_id)
        if (doc and clause.doc != doc) or (action and action not in (clause.action or clause.section)):
            continue
        leading = set(duty.leads or duty.units)  # no lead named: every unit named is responsible
        leads.update(leading)
        supports.update(set(duty.units) - leading)
    units = set(leads) | set(supports)
    loads = [Workload(u, leads[u], supports[u]) for u in units]
    return sorted(loads, key=lambda w: (-w.total, -w.leads, w.unit))


def workload_chart(loads: Sequence[Workload], chosen: str = "") -> str:
    """A stacked bar per unit: the tasks it leads, then those it supports; the unit filtered on is marked."""
    if not loads:
        return ""
    most = max(w.total for w in loads)
    lines = "".join(
        f'<div class="planqa-bar-row{" planqa-chosen" if w.unit == chosen else ""}">'
        f'<span class="planqa-bar-label">{_html(w.unit)}</span>'
        f'<span class="planqa-bar-track">'
        f'<span class="planqa-bar planqa-bar-lead" style="width:{_percent(w.leads, most)}%"></span>'
        f'<span class="planqa-bar planqa-bar-support" style="width:{_percent(w.supports, most)}%"></span></span>'
        f'<span class="planqa-bar-value">牵头 {w.leads} · 配合 {w.supports}</span></div>'
        for w in loads
    )
    legend = ('<div class="planqa-legend"><span class="planqa-key planqa-bar-lead"></span>牵头'
              '<span class="planqa-key planqa-bar-support"></span>配合</div>')
    return f'<div class="planqa-chart" id="planqa-workload"><div class="planqa-chart-title">各单位任务量</div>{legend}{lines}</div>'


def _some(items: Sequence[str], shown: int = 6) -> str:
    """The first few distinct indicators of a year, "… 等 N 项" for the rest (the table lists them all)."""
    distinct = list(dict.fromkeys(items))
    return "、".join(distinct[:shown]) + (f" 等 {len(distinct)} 项" if len(distinct) > shown else "")


def _html(text: str) -> str:
    """Escaped, and cleaned as every export is (a form feed or a lone surrogate from a PDF's text)."""
    return html.escape(clean_text(text))


def _percent(part: int, whole: int) -> float:
    return round(100 * part / whole, 1) if whole else 0.0


LEDGER_CSS = """
.planqa-ledger { width: 100%; border-collapse: collapse; font-size: 0.9em; }
.planqa-ledger th, .planqa-ledger td { border: 1px solid #d1d5db; padding: 4px 6px; vertical-align: top; text-align: left; }
.planqa-ledger th { background: #eef2ff; position: sticky; top: 0; }
.planqa-ledger td.planqa-col-quote { color: #4b5563; font-size: 0.92em; min-width: 14em; }
.planqa-ledger td.planqa-col-year { white-space: nowrap; }
.planqa-chart { border: 1px solid #e5e7eb; border-radius: 8px; padding: 8px 12px; }
.planqa-chart-title { font-weight: 600; margin-bottom: 6px; }
.planqa-bar-row { display: grid; grid-template-columns: 11em 1fr auto; gap: 2px 8px; align-items: center; margin: 3px 0; }
.planqa-bar-label { font-size: 0.9em; overflow-wrap: anywhere; }
.planqa-bar-track { display: flex; height: 14px; background: #f3f4f6; border-radius: 3px; overflow: hidden; }
.planqa-bar { display: block; height: 100%; }
.planqa-bar-lead { background: #2563eb; }
.planqa-bar-support { background: #93c5fd; }
.planqa-bar-value { font-size: 0.85em; white-space: nowrap; color: #374151; }
.planqa-years .planqa-bar-row { grid-template-columns: 6em 1fr auto; }
.planqa-bar-note { grid-column: 2 / 4; font-size: 0.8em; color: #6b7280; }
.planqa-chosen { background: #fef3c7; font-weight: 600; border-radius: 3px; }
.planqa-legend { font-size: 0.85em; margin-bottom: 4px; }
.planqa-key { display: inline-block; width: 12px; height: 12px; margin: 0 4px 0 10px; vertical-align: -1px; }
.planqa-bar, .planqa-key { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
@media (max-width: 640px) {
  .planqa-ledger thead { display: none; }
  .planqa-ledger, .planqa-ledger tbody, .planqa-ledger tr, .planqa-ledger td { display: block; width: 100%; }
  .planqa-ledger tr { border: 1px solid #d1d5db; border-radius: 8px; margin-bottom: 10px; padding: 6px 8px; background: #f9fafb; }
  .planqa-ledger td { border: 0; padding: 2px 0; }
  .planqa-ledger td::before { content: attr(data-label) "："; font-weight: 600; color: #1d4ed8; }
  .planqa-bar-row { grid-template-columns: 7.5em 1fr auto; }
}
"""
