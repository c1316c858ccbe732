"""A questionnaire's layout as audit offices send it (assistant/office/layout.py): rows that are no questions,
the questionnaire's own answer column, and the 说明 sheet's plan line."""

from __future__ import annotations

import pytest
from openpyxl import Workbook, load_workbook

from assistant.office.layout import classify_row, own_answer_column
from assistant.office.questionnaire import answer_questionnaire


@pytest.mark.parametrize(
    ("row", "reason"),
    [
        (["一", "能源结构", None], "分节标题"),  # a section row with its label in the 序号 column: the name alone
        ([None, "一、能源结构", None], "分节标题"),
        (["小计", 21, None], "合计行"),  # an .xls 小计 row: its number is no question
        (["合计：", None, None], "合计行"),
        ([None, "总计", None], "合计行"),
        (["填报单位（盖章）：", None, "填报日期："], "签章日期行"),
        ([None, "填报人：张三　联系电话：", None], "签章日期行"),
        ([None, "注：请逐项填写，不得空项", None], "说明"),
        ([None, "请于6月30日前报送区发改局", None], "说明"),
        ([None, "21", None], "数字"),
    ],
)
def test_each_row_kind_that_is_no_question_is_recognised(row: list[object], reason: str) -> None:
    kind = classify_row(row[1], row, 1)
    assert not kind.is_question and kind.reason.startswith(reason), (row, kind)


@pytest.mark.parametrize("cell", ["1.1 到2025年森林覆盖率目标是多少？", "2.3、老旧小区改造由哪个单位牵头？", "第一项 碳达峰的时间是哪一年？"])
def test_outline_numbered_questions_are_questions(cell: str) -> None:
    assert classify_row(cell, [1, cell, None], 1).is_question


def test_the_own_answer_column_is_found_when_empty() -> None:
    header = ["序号", "检查问题", "被检查单位 答复", "备注"]
    assert own_answer_column(header, 1, [[1, "q", None, ""]]) == 2
    assert own_answer_column(header, 1, [[1, "q", "已填写", ""]]) is None  # the user's own answers stay
    assert own_answer_column(["序号", "问题", "备注"], 1, []) is None


def audit_questionnaire(path):
    """As an audit office sends it: a title, a 说明 line, sections, a 小计, its own answer column, a footer."""
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "问卷"
    for row in (
        ["某区碳达峰工作专项审计调查问卷"],
        ["说明：请被检查单位如实填写“被检查单位答复”栏。"],
        ["序号", "问题", "被检查单位答复", "备注"],
        [None, "一、能源结构", None, None],
        ["1.1", "1.1 2030年非化石能源消费比重的目标是多少？", None, None],
        ["1.2", "1.2老旧小区改造谁牵头？", None, "甲"],
        ["小计", 2, None, None],
        ["填报单位（盖章）：", None, "填报日期：", None],
    ):
        sheet.append(row)
    workbook.save(path)
    return path


def test_an_audit_questionnaire_is_answered_in_its_own_column(assistant, tmp_path):
    report = answer_questionnaire(assistant, audit_questionnaire(tmp_path / "q.xlsx"), tmp_path / "a.xlsx", progress=False)
    assert (report.rows, report.answered, report.skipped, report.errors) == (5, 2, 3, 0)
    workbook = load_workbook(tmp_path / "a.xlsx")
    rows = list(workbook["问卷"].values)
    assert rows[2][:4] == ("序号", "问题", "被检查单位答复", "备注") and rows[2][4:] == ("出处章节", "原文摘录", "置信度", "方案是否明确")
    assert "31%" in rows[4][2] and "住房和城乡建设局" in rows[5][2] and rows[5][3] == "甲"
    assert rows[4][7] == "是" and "31%" in rows[4][5]  # citations and confidence beside it, in added columns
    assert all(value is None for value in rows[3][2:]) and rows[6][1:] == (2, *[None] * 6)  # section, 小计 untouched
    assert rows[7][:3] == ("填报单位（盖章）：", None, "填报日期：") and all(v is None for v in rows[7][3:])
    notes = [row for row in workbook["说明"].values]
    skipped = [row[1] for row in notes if str(row[1]).startswith("第 ")]
    assert [s.split("：")[0] for s in skipped] == ["第 4 行", "第 7 行", "第 8 行"]
    assert "分节标题" in skipped[0] and "合计行" in skipped[1] and "签章日期行" in skipped[2]


def test_notes_sheet_names_the_plan_by_title_and_doc_number(assistant, tmp_path):
    answer_questionnaire(assistant, audit_questionnaire(tmp_path / "q.xlsx"), tmp_path / "a.xlsx", progress=False)
    notes = {row[0]: row[1] for row in load_workbook(tmp_path / "a.xlsx")["说明"].values if row[0]}
    identity = next(iter(assistant.knowledge.identities.values()))
    assert identity.title and identity.doc_number  # the bulletin's plan has both
    assert identity.title in notes["依据方案"] and identity.doc_number in notes["依据方案"]
    assert "未知" not in notes["依据方案"]
