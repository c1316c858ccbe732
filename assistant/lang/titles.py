"""How a plan's title is written: the word a title ends with (…实施方案, …规划, …若干措施) names a plan,
in a document's own title line and in a question that asks about one."""

from __future__ import annotations

TITLE_ENDING = r"(?:实施方案|工作方案|行动方案|方案|规划|计划|纲要|意见|办法|报告|分工|要点|措施)"
