import re

from tests.conftest import clause_with

CN = "一二三四五六七八九十"


def test_ten_actions_under_key_tasks(knowledge):
    actions = []
    for clause in knowledge.clauses:
        if clause.section.startswith("三、重点任务 > ") and clause.action not in actions:
            actions.append(clause.action)
    assert [a[:3] for a in actions] == [f"（{n}）" for n in CN]
    assert actions[1] == "（二）节能降碳增效行动"


def test_every_task_has_a_responsible_unit(knowledge):
    tasks = [c for c in knowledge.tasks() if c.section.startswith("三、重点任务")]
    assert len(tasks) == 39
    for task in tasks:
        assert knowledge.responsibilities[task.id].units, task.id


def test_section_path_is_readable(knowledge):
    clause = clause_with(knowledge, "加快5G基站及配套设施建设")
    assert clause.section == "三、重点任务 > （二）节能降碳增效行动 > 4. 加强新基建节能降碳"
    assert clause.kind == "task"
    assert clause.id.endswith(":s3.2.4")


def test_task_whose_heading_stands_alone_keeps_its_body_and_units(knowledge):
    clause = clause_with(knowledge, "每万人口有效发明专利拥有量达3.2件")
    assert clause.section.endswith("1. 推动重点领域绿色低碳技术攻关")
    assert knowledge.responsibilities[clause.id].lead == "区科技局"


def test_goals_and_policy_measures(knowledge):
    goals = [c for c in knowledge.clauses if c.kind == "goal"]
    assert len(goals) == 2 and all(c.section == "二、主要目标" for c in goals)
    measure = clause_with(knowledge, "健全碳排放统计核算体系")
    assert measure.kind == "task" and measure.section == "四、政策保障 > （一）健全碳排放统计核算体系"


def test_chronicle_entries_have_dates(knowledge):
    events = [c for c in knowledge.clauses if c.kind == "event"]
    months = {c.section for c in events}
    assert months == {"2024年4月区政府大事记", "2024年5月区政府大事记", "2024年6月区政府大事记"}
    same_day = clause_with(knowledge, "同日,鹤城区委副书记、区长郑明明主持召开省环保督察")
    assert same_day.date == "2024-04-08"
    advisers = clause_with(knowledge, "兼职法律顾问聘任仪式")
    assert advisers.date == "2024-04-12" and advisers.kind == "event"
    assert all(re.fullmatch(r"2024-0[456]-\d\d", c.date or "") for c in events)


def test_front_matter(knowledge):
    meta = {(f.field, f.value) for f in knowledge.meta}
    assert ("文号", "鹤政函〔2024〕1号") in meta
    assert ("印发日期", "2024年3月27日") in meta
    assert ("期号", "第2期") in meta and ("总期号", "总第8期") in meta
    assert ("总编辑", "罗媛媛") in meta and ("主任", "杨曜徽") in meta
    assert ("方案名称", "怀化市鹤城区碳达峰实施方案") in meta


# --- a document flattened to one line (assistant/ingest/segment.py) -----------------------------------------

FLAT = (
    "关于印发绵阳市节能降碳实施方案的通知为深入贯彻落实党中央决策部署，结合我市实际，制定本方案。"
    "一、主要目标到2025年，全市单位地区生产总值能耗比2020年下降14%，非化石能源消费比重达到35%。"
    "二、重点任务（一）优化能源结构1.推进光伏发电建设到2025年全市光伏装机容量达到1002.推动风电开发建设"
    "风电项目，新增装机20万千瓦（市发展改革委负责）3.统一、规范绿色电力交易（市经信局负责）"
    "（二）推进工业节能一是推动重点行业能效达标二是建设绿色工厂20家。"
)


def flat_clauses():
    from assistant.ingest.structure import structure_document
    from assistant.models import Document

    document = Document(name="flat.txt", path="flat.txt", text=FLAT, sha256="")
    return structure_document(document)


def test_a_one_line_document_is_cut_into_its_items():
    clauses = flat_clauses()
    tasks = [c for c in clauses if c.kind == "task"]
    assert [c.section.split(" > ")[-1][:2] for c in tasks] == ["1.", "2.", "3."]
    assert all(c.section.startswith("二、重点任务 > （一）优化能源结构") for c in tasks)
    assert tasks[0].text.endswith("达到100") and tasks[1].text.startswith("2.推动风电")
    points = [c.text for c in clauses if c.section.startswith("二、重点任务 > （二）")]
    assert [p[:2] for p in points] == ["一是", "二是"]  # 一是…二是 cut apart as well
    for clause in clauses:  # offsets still point into the original line
        assert clause.text[:3].replace("(", "（") == FLAT[clause.start : clause.start + 3]


def test_targets_of_a_one_line_document_are_still_read():
    from assistant.facts.targets import extract_targets

    targets = {(t.value_text, t.unit) for c in flat_clauses() for t in extract_targets(c)}
    assert {("14", "%"), ("35", "%"), ("100", ""), ("20", "万千瓦"), ("20", "家")} <= targets


def test_an_item_number_run_into_a_figure_does_not_merge_items():
    """"达到1002.推动…": the figure is 100, item 2 begins at its last digit."""
    from assistant.ingest.segment import outline_markers

    markers = [(m.level, m.value) for m in outline_markers(FLAT)]
    assert ("l3", 2) in markers and ("l3", 1002) not in markers
    assert ("l1", 1) in markers and ("l4", 2) in markers
    assert not any(FLAT[m.start - 1] == "统" for m in outline_markers(FLAT))  # "统一、" is a word, not item 一
