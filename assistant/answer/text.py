"""Word matching shared by every handler: content bigrams, how much of them a text covers, synonyms.

Matching is on character bigrams of the question's content words (question words and particles
removed), because Chinese has no spaces and a plan's terms are compounds of two-character words.
"""

from __future__ import annotations

import re

from assistant.ingest.clean import chinese_numerals_to_digits

# Words users type for the plan's own terms.
SYNONYMS = {
    # One indicator, spelled four ways across plans: 单位GDP能耗 = 单位地区生产总值能耗 = …能源消费/消耗.
    "生产总值(GDP)": "GDP", "地区生产总值": "GDP", "国内生产总值": "GDP", "单位生产总值": "单位GDP",
    "GDP能源消费": "GDP能耗", "GDP能源消耗": "GDP能耗",
    "PUE": "电能利用效率", "pue": "电能利用效率", "新能源车": "新能源汽车", "电动车": "新能源汽车",
    "占比": "比重", "比例": "比重", "光伏覆盖": "光伏覆盖率", "充电桩": "充电基础设施",
}
FILLER = re.compile(
    # Question words and particles; single characters only where they never start a plan term
    # (not 能 of 能源, 达 of 碳达峰, 中 of 碳中和). "全区/我市/县里": the plan's own area, whatever it is.
    r"请问|请|一下|方案|实施方案|规划|文件|里面|中的|之中|提出|要求|规定|明确|目标值?|指标|是多少|多少|多大|几个|几家|几座|几项|"
    r"什么|哪些|哪个|哪一年|哪年|吗|呢|啊|吧|要|达到|为|是|的|了|到|在|全[省市县区镇乡]|我[省市县区镇乡]|[区市县]里|"
    r"计划|预计|准备|应该|需要|必须|"
    r"怎么|怎样|如何|部分|那一节|这一节|一节|这块|那块|那个|这个|这些|那些|方面|对于|关于|一共|总共|分别|大概|左右吗|"
    r"最低|最高|至少|最少|最多|时候|时|还|都|里|和|与|及|"
    r"[?？!！,，。、:：;；“”\"'()（）《》\s]"
)
QUANTITY_ASKED = re.compile(r"多少|几|比例|比重|占比|率|百分|%|多大|多长|多高|规模|数量|目标|指标|达到|提高到|不低于|不高于|下降|增长")


def bigrams(text: str) -> set[str]:
    """The content bigrams of `text`: filler removed, years dropped (a year is matched separately)."""
    text = FILLER.sub(" ", text)
    grams: set[str] = set()
    for run in re.findall(r"[\u4e00-\u9fffA-Za-z0-9.%]+", text):
        run = re.sub(r"20\d\d年?", "", run)
        grams.update(run[i : i + 2] for i in range(len(run) - 1))
    return grams


def coverage(question_grams: set[str], text: str) -> float:
    """Share of the question's content bigrams found in `text` (already normalised corpus text)."""
    if not question_grams:
        return 0.0
    return sum(1 for g in question_grams if g in text) / len(question_grams)


def apply_synonyms(text: str) -> str:
    """Users' words → the plan's words (PUE → 电能利用效率, 占比/比例 → 比重), on both sides of a match."""
    for word, replacement in SYNONYMS.items():
        if replacement not in text:
            text = text.replace(word, replacement)
    return text


def numbers_agree(question: str, text: str) -> bool:
    """A figure the question states ("第53次", "第1期", "27%") must be in the text that answers it."""
    stated = re.sub(r"20\d\d年?|\d{1,2}月\d{1,2}[日号]?|\d{1,2}月份?", " ", question)
    numbers = re.findall(r"\d+(?:\.\d+)?", stated)
    text = chinese_numerals_to_digits(text)
    return all(re.search(rf"(?<![\d.]){re.escape(n)}(?![\d.])", text) for n in numbers)
