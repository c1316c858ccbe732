"""Front matter: the labelled cover and notice lines of a plan (方案名称, 文号, 期号, 印发日期, 发文机关…)."""

from __future__ import annotations

import re

from assistant.lang.doc_numbers import DOC_NUMBER
from assistant.models import Clause, MetaFact

DATE_LINE = re.compile(r"^\d{4}年\d{1,2}月\d{1,2}日$")
LABELLED = re.compile(r"^([\u4e00-\u9fff]{2,6})[:：](.+)$")


def extract_meta(clauses: list[Clause]) -> list[MetaFact]:  # noqa: C901 - one pass over labelled cover lines; each branch is one field form
    facts: list[MetaFact] = []
    last_label = ""
    for clause in clauses:
        if clause.kind != "meta":
            continue
        text = clause.text

        def add(field: str, value: str, c: Clause = clause) -> None:
            facts.append(MetaFact(field, value, c.id, c.start, c.end))

        if m := LABELLED.match(text):
            last_label = m.group(1)
            add(last_label, m.group(2).strip())
            continue
        if clause.section == "编辑委员会" and last_label and " " in text:
            add(last_label, text)  # a list of names continued on the next line
            continue
        last_label = ""
        if clause.section == "文件标题":
            add("方案名称", text)
        if m := DOC_NUMBER.search(text):
            add("文号", m.group())
        if m := re.fullmatch(r"第(\d+)期(?:\(总第(\d+)期\))?", text):
            add("期号", f"第{m.group(1)}期")
            if m.group(2):
                add("总期号", f"总第{m.group(2)}期")
        elif m := re.fullmatch(r"总第(\d+)期", text):
            add("总期号", text)
        if DATE_LINE.match(text):
            add("印发日期" if "通知" in clause.section else "出版日期", text)
        if "通知" in clause.section and re.search(r"关于.+的通知", text):
            add("通知标题", re.sub(r"\s+", "", text))
        if re.fullmatch(r".{2,20}(?:人民政府|办公室)", text) and "通知" in clause.section:
            add("发文机关", text)
        if re.fullmatch(r".{2,20}办公室", text) and clause.section == "封面":
            add("编印单位", text)
        if text.endswith(":") and "通知" in clause.section:
            add("主送机关", text.rstrip(":"))
    return facts
