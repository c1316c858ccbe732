"""Is a figure of the kind asked for? "多少辆" wants vehicles, "多长" a length, "多少千伏" not kilometres."""

from __future__ import annotations

import re

from assistant.models import Target

ASKED_UNIT = re.compile(
    r"(?:多少|几)(万立方米|立方米|辆|亿元|万元|元|万吨|吨|公顷|户|人|千瓦时|度|千伏|kV|万千瓦|千瓦|MW|"
    r"万平方米|平方米|公里|千米|米|亩|年|个|家|座|条|台套|台|名|件|所|处|项)"
)
COUNT_UNITS = frozenset("个 家 座 条 台 台套 名 件 所 处 项".split())
LENGTH_UNITS = frozenset("公里 千米 米 km".split())
WRONG_LENGTH = 0.3
COUNT_FOR_SIZE = 0.2


def units_agree(question: str, target: Target) -> bool:
    """"保有量要达到多少辆" is not answered by a percentage, nor "多少千伏" by kilometres."""
    asked = ASKED_UNIT.search(question)
    if not asked:
        return True
    unit = asked.group(1)
    return unit == target.unit or (unit in COUNT_UNITS and target.unit in COUNT_UNITS)


def kind_penalty(question: str, target: Target) -> float:
    """"多长" wants a length, "规模/多大" rarely a count: penalise figures of the wrong kind."""
    if re.search(r"多长|总长|长度", question) and target.unit not in LENGTH_UNITS:
        return WRONG_LENGTH
    asks_size = re.search(r"规模|多大", question)
    if asks_size and target.unit in COUNT_UNITS and not re.search(r"几(个|座|家)|多少(个|座|家)", question):
        return COUNT_FOR_SIZE
    return 0.0


# A measure the question states about its subject ("500米公交站点覆盖率", "35千伏线路"): not a year, not the figure asked.
STATED_MEASURE = re.compile(r"(?<![\d.])(\d+(?:\.\d+)?)\s*(米|千米|公里|千伏|kV|KV|kv|蒸吨)")
OTHER_MEASURE = 0.5


def stated_measure_penalty(question: str, own_words: str) -> float:
    """"500米…覆盖率" is not answered by the 300米 figure: a measure the question states must be the figure's own."""
    stated = STATED_MEASURE.findall(question)
    if stated and any(f"{number}{unit}" not in own_words.replace(" ", "") for number, unit in stated):
        return OTHER_MEASURE
    return 0.0
