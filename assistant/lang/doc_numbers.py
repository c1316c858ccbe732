"""A document number (文号) as plans, pasted pages and questions write it: "晋政发〔2022〕29号"."""

from __future__ import annotations

import re

# In any of the brackets plans and pasted pages use: "晋政发〔2022〕29号", "京政发[2022]18号", "（2023）5号".
DOC_NUMBER = re.compile(r"[\u4e00-\u9fff]{1,10}[〔\[（(【]\s*(?:19|20)\d\d\s*[〕\]）)】]\s*\d{1,4}\s*号")
DOC_NUMBER_YEAR = re.compile(r"[〔\[（(【]\s*(?:19|20)\d\d")  # the year part of one
