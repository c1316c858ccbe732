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


def test_province_abbreviations_come_from_the_data() -> None:
    from assistant.lang.places import abbreviations

    assert [r.name for r in abbreviations()["黔"]] == ["贵州省"] == [r.name for r in abbreviations()["贵"]]
    assert [r.name for r in abbreviations()["滇"]] == ["云南省"]
    assert len({r.code for found in abbreviations().values() for r in found}) == 34


def test_a_county_is_named_with_its_parent_as_plans_write_it() -> None:
    from assistant.lang.places import full_name

    assert full_name(find_regions("涪城区")[0].region) == "绵阳市涪城区"
    assert full_name(find_regions("沙坪坝区")[0].region) == "重庆市沙坪坝区"  # a municipality's district


def test_a_citys_districts_add_up_to_the_city() -> None:
    from assistant.lang.places import region_votes

    votes = {r.name: n for r, n in region_votes("涪城区、游仙区和江油市，三台县").items()}
    assert votes["绵阳市"] == 4 and votes["四川省"] == 4 and votes["涪城区"] == 1
