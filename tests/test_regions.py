"""The region gazetteer (assistant/lang/places.py) on place names as questions and plan titles write them."""

import pytest

from assistant.lang.places import Region, find_regions, levels_named, same_place


def names(text: str) -> list[tuple[str, str]]:
    return [(m.region.name, m.region.level) for m in find_regions(text)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("成都的森林覆盖率目标", [("成都市", "市")]),
        ("苏州和海南的目标分别是多少", [("苏州市", "市"), ("海南省", "省")]),
        ("北京市碳达峰实施方案", [("北京市", "省")]),
        ("天津市西青区碳达峰实施方案", [("天津市", "省"), ("西青区", "县")]),
        ("岳阳县碳达峰实施方案", [("岳阳县", "县")]),
        ("岳阳的目标", [("岳阳市", "市")]),
        ("重庆市万盛经开区碳达峰实施方案", [("重庆市", "省"), ("万盛经开区", "县")]),
        ("单位GDP能耗下降13.5%", []),
    ],
)
def test_places_are_found_with_their_level(text: str, expected: list[tuple[str, str]]) -> None:
    assert names(text) == expected


def test_a_city_lies_within_its_province() -> None:
    city = find_regions("苏州市")[0].region
    province = find_regions("江苏省")[0].region
    assert city.within(province) and not province.within(city)
    assert not city.within(Region("460000", "海南省", "省"))


def test_levels_named_without_a_place() -> None:
    assert levels_named("市里和我们区的森林覆盖率目标分别是多少？") == ("市", "县")
    assert levels_named("省里2025年非化石能源比重要求是多少？") == ("省",)
    assert levels_named("国家层面的要求是什么？") == ("国家",)
    assert levels_named("森林覆盖率目标是多少？") == ()


def test_short_and_full_names_are_one_place() -> None:
    assert same_place("苏州", "苏州市") and same_place("海南", "海南省")
    assert not same_place("苏州", "宿州")
