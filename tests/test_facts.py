import pytest

from assistant.facts.knowledge import ledger_rows


def targets_for(knowledge, indicator):
    return [t for t in knowledge.targets if indicator in t.indicator]


def test_non_fossil_share(knowledge):
    found = {(t.year, t.display) for t in targets_for(knowledge, "非化石能源消费比重")}
    assert found == {(2025, "提高到27%以上"), (2030, "提高到31%以上")}


def test_new_energy_capacity(knowledge):
    (target,) = targets_for(knowledge, "新能源装机")
    assert (target.value, target.unit, target.comparator, target.year) == (16.24, "万千瓦", "不低于", 2025)
    assert "力争" in target.qualifier and target.display == "力争不低于16.24万千瓦"


def test_pue_of_new_large_data_centres(knowledge):
    target = next(t for t in targets_for(knowledge, "数据中心电能利用效率") if "新建大型" in t.indicator)
    assert (target.comparator, target.value, target.unit) == ("不高于", 1.3, "")


def test_baseline_and_strive_value(knowledge):
    energy = [t for t in knowledge.targets if t.indicator == "单位GDP能耗"]
    # the direction is never dropped: "力争达到15%" after "下降14.5%" is a fall of 15%
    assert [(t.display, t.baseline) for t in energy] == [("较2020年下降14.5%", "较2020年"), ("较2020年力争下降15%", "较2020年")]
    assert [t.direction_words for t in energy] == [("下降",), ("下降", "力争")]


def test_forest_cover_is_stated_twice(knowledge):
    assert {t.display for t in targets_for(knowledge, "森林覆盖率")} == {"稳定在67%以上", "稳定在61.86%以上"}


def test_descriptive_figures_are_not_targets(knowledge):
    values = {(t.value_text, t.unit) for t in knowledge.targets}
    assert ("65", "蒸吨/小时") not in values and ("35", "蒸吨/小时") not in values
    assert ("300", "米") not in values and ("10", "亿元") not in values


def test_target_quote_is_the_source_sentence(knowledge):
    (target,) = targets_for(knowledge, "新能源装机")
    assert knowledge.quote("hecheng-bulletin-2024-02.txt", target.start, target.end).startswith("到 2025 年，力争全区新能源装机")


@pytest.mark.parametrize(
    ("alias", "canonical"),
    [("发改局", "区发展和改革局"), ("区发展和改革委员会", "区发展和改革局"), ("住建局", "区住房和城乡建设局"),
     ("工信局", "区工业和信息化局"), ("生态环境分局", "鹤城生态环境分局"), ("林业局", "区林业局"),
     ("国网怀化鹤城供电分公司", "国网怀化供电鹤城分公司"), ("供电公司", "国网怀化供电鹤城分公司"), ("人社局", "区人力资源和社会保障局"),
     ("高新区", "鹤城高新区管委会"), ("某某未知局", "某某未知局")],
)
def test_unit_aliases(knowledge, alias, canonical):
    # learned by rule from the units the bulletin names, not a hand table
    assert knowledge.unit_aliases.canonical(alias) == canonical


def test_units_keep_original_spelling_and_order(knowledge):
    units = knowledge.responsibilities["hecheng-bulletin-2024-02:s3.1.2"]
    assert units.original[0] == "区发展和改革委员会" and units.lead == "区发展和改革局"
    assert units.units[-1] == "国网怀化供电鹤城分公司"


def test_deadlines(knowledge):
    deadline = next(d for d in knowledge.deadlines if "国三及以下排放标准汽车" in d.text)
    assert deadline.year == 2025 and deadline.phrase == "到2025年"
    assert any(d.year == 2030 and "陆路交通运输石油消费达到峰值" in d.text for d in knowledge.deadlines)


def test_ledger_filters(knowledge):
    forestry = ledger_rows(knowledge, unit="林业局")
    assert forestry and all("区林业局" in r.units for r in forestry)
    rows_2030 = ledger_rows(knowledge, year=2030)
    assert {r.statement for r in rows_2030} >= {"提高到31%以上", "达到40%", "提升至65%"}
    assert {r.direction for r in rows_2030 if r.statement == "提高到31%以上"} == {"提高、以上"}
    assert all(r.year == 2030 for r in rows_2030)


def test_a_year_alone_is_no_indicator_the_clause_before_names_it():
    from assistant.facts.targets import extract_targets
    from assistant.models import Clause

    text = "方案指出,控制煤炭消费总量,2020年控制在42亿吨左右。"
    clause = Clause("d:c1", "d", "封面", "meta", text, 0, len(text), offsets=tuple(range(len(text) + 1)))
    (target,) = extract_targets(clause)
    assert target.indicator == "煤炭消费总量" and target.year == 2020 and target.value_text == "42"


def test_a_range_is_one_figure_with_its_bound_kept():
    """"不低于1~2个" was read as "~…2个": the bound 不低于 lost, a reduction of the figure to its upper end."""
    from assistant.facts.targets import extract_targets
    from assistant.models import Clause

    text = "到2027年，每年不低于1~2个以园区为单位成批量更新落后用能设备。"
    clause = Clause("d:c1", "d", "封面", "task", text, 0, len(text), offsets=tuple(range(len(text) + 1)))
    (target,) = extract_targets(clause)
    assert target.value_text == "1~2" and target.unit == "个" and target.value == 1.0
    assert target.figure(target.comparator) == "不低于1~2个"


def test_each_item_of_a_counted_list_is_its_own_target():
    """"完成52个老旧小区、24座公厕": the 公厕 count was lost, so the 老旧小区 figure answered for it."""
    from assistant.facts.targets import extract_targets
    from assistant.models import Clause

    text = "完成52个老旧小区、6000户电力“一户一表”、24座公厕、104条城区道路升级改造；建设4条物流通道、完善3个枢纽。"
    clause = Clause("d:c1", "d", "封面", "task", text, 0, len(text), offsets=tuple(range(len(text) + 1)))
    found = {t.indicator: (t.comparator, t.value_text, t.unit) for t in extract_targets(clause)}
    assert found["公厕"] == ("完成", "24", "座") and found["城区道路升级改造"] == ("完成", "104", "条")
    assert "枢纽" not in "".join(found)  # another verb (完善) starts another list


def test_items_before_a_shared_noun_share_it():
    from assistant.facts.targets import extract_targets
    from assistant.models import Clause

    text = "重点推动甲公司新建1.2MW、乙公司新建3.5MW屋顶分布式光伏项目。"
    clause = Clause("d:c1", "d", "封面", "task", text, 0, len(text), offsets=tuple(range(len(text) + 1)))
    first, second = extract_targets(clause)
    assert first.indicator.endswith("甲公司新建屋顶分布式光伏项目") and first.value_text == "1.2"
    assert second.indicator.endswith("乙公司新建屋顶分布式光伏项目") and second.value_text == "3.5"


def test_every_item_of_a_respectively_list_keeps_the_verb_and_baseline():
    """"较2012年分别累计下降48%和38%": the second figure had lost 下降 and its baseline."""
    from assistant.facts.targets import extract_targets
    from assistant.models import Clause

    text = "全市万元地区生产总值二氧化碳排放量、万元地区生产总值能耗较2012年分别累计下降48%和38%。"
    clause = Clause("d:c1", "d", "封面", "goal", text, 0, len(text), offsets=tuple(range(len(text) + 1)))
    first, second = extract_targets(clause)
    assert second.indicator == "万元地区生产总值能耗" and second.value_text == "38"
    assert (second.direction, second.baseline) == (first.direction, first.baseline) == ("下降", "较2012年")
