"""Up and down the levels: which lower target is at least as demanding as the higher one."""

from assistant.answer.levels import at_least_as_demanding, direction, level_rank
from assistant.models import Target


def _target(value: float, comparator: str = "达到", unit: str = "%", year: int | None = 2025, segment: str = "") -> Target:
    return Target("c", "指标", comparator, value, str(value), unit, "", year, None, None, "", 0, 1, segment)


def test_a_higher_share_is_more_demanding():
    assert at_least_as_demanding(_target(20), _target(18)) is True
    assert at_least_as_demanding(_target(13), _target(18)) is False


def test_a_lower_ceiling_is_more_demanding():
    cap = "控制在"
    assert direction(_target(1.3, "不高于", "", segment="PUE不高于1.3")) == "cap"
    assert at_least_as_demanding(_target(1.3, cap, ""), _target(1.5, cap, "")) is True


def test_a_larger_cut_is_more_demanding():
    assert at_least_as_demanding(_target(14.5, "下降"), _target(14, "下降")) is True


def test_other_units_years_or_directions_are_not_compared():
    assert at_least_as_demanding(_target(20, unit="万千瓦"), _target(18)) is None
    assert at_least_as_demanding(_target(20, year=2030), _target(18)) is None
    assert at_least_as_demanding(_target(14, "下降"), _target(18)) is None


def test_levels_run_from_the_nation_down():
    assert [level_rank(x) for x in ("国家", "省", "市州", "县市区")] == [0, 1, 2, 3]
