"""Questions as officials write them: the part before answering that reads the question itself.

Questionnaires put item numbers and courtesies into the question cell ("3. 请问…（第9题）"), some users
write traditional characters or English, and chat users ask follow-ups that lean on the previous
question. Everything here is about the question's wording, never about a plan: the item label removed
must not take part in matching figures, and what was removed is kept so outputs can show the question
as written.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from importlib import resources

from assistant.lang.text import to_simplified

# Item labels at the start: 1、 1. 1) （1） ① 一、 1.1 1.1.2 2.3、 2-3 问题3： 问题1.2： 第3题 第一项 Q3 — a digit
# label needs its separator, or an outline number its space or a word after it that no figure takes, so that
# "2025年…", "1.3的PUE", "1.3是哪个指标…" and "2-3个" are left alone. Widths are folded before matching.
_DIGITS = r"[0-9一二三四五六七八九十]"
_OUTLINE_NUMBER = r"[0-9]{1,3}(?:[.．\-－—][0-9]{1,3}){1,3}"
# What may follow a figure such as 1.3 or 2-3 directly: a unit, 是/为/的, a comparison, a range's other end
# ("1.1到1.3", but "1.1到2025年" is a label and a year) — then it is no label.
_FIGURE_FOLLOWER = r"[0-9.．\-－—%％‰是为的倍万亿千百十个家项次吨米元度瓦户人天年月日台辆座条以及和或~～左上下内余多]|[到至](?!(?:19|20)[0-9][0-9])[0-9]"
# A date written straight after an outline number ("1.12030年…", "4.24月3日…") ends the number where the date begins.
_DATE_AFTER = r"(?:19|20)[0-9]{2}年|(?:1[0-2]|[1-9])月[0-9]"
LEADING_LABEL = re.compile(
    r"^\s*(?:"
    rf"(?:问题|题目)\s*(?:{_OUTLINE_NUMBER}|{_DIGITS}+)\s*[、.．:：)）]?"
    rf"|第\s*{_DIGITS}+\s*[题问项]\s*[、.．:：)）]?"
    r"|[Qq]\s*[0-9]+\s*[、.．:：)）]?"
    rf"|{_OUTLINE_NUMBER}(?:\s*[、.．:：)）](?![0-9])|\s+|(?!{_FIGURE_FOLLOWER})|(?={_DATE_AFTER}))"
    r"|[0-9]{1,3}\s*(?:[、:：)）]|[.．](?![0-9]))"
    rf"|[（(]\s*{_DIGITS}{{1,3}}\s*[)）]"
    r"|[①-⑳㉑-㉟]"
    rf"|{_DIGITS}{{1,3}}\s*、"
    r")\s*"
)
# Item labels at the end: （第9题） (第9题) 第9题 — and a bare (9) only after the question's own end.
TRAILING_LABEL = re.compile(
    r"\s*(?:[（(]\s*第?\s*[0-9０-９一二三四五六七八九十]+\s*题\s*[)）]|第\s*[0-9０-９]+\s*题"
    r"|(?<=[?？。.])\s*[（(]\s*[0-9０-９]{1,3}\s*[)）])\s*$"
)
COURTESY = re.compile(
    r"您好|你好|请问一下|请问|麻烦问一下|麻烦问下|麻烦您?|想问一下|想问下|想了解一下|请教一下|劳驾|"
    r"[，,]?\s*(?:请|并)?(?:附|注明|给出|说明|标注|列出)(?:一下)?(?:出处|来源|依据|原文)|谢谢您?|多谢|感谢"
)
ELLIPSIS_START = re.compile(r"^(?:那么?|那|还有|另外|再问|再请问|同样地?|也)")
ELLIPSIS_REFERENCE = re.compile(r"它|其中|这项|该项|这个任务|该任务|这一任务|上述|前述|同一|这条|该条|这个指标|该指标")
ELLIPSIS_END = re.compile(r"呢\s*[?？]?\s*$|如何呢|怎么样\s*[?？]?\s*$")
INTERROGATIVE = re.compile(
    r"谁|哪个(?:部门|单位)|哪些(?:部门|单位)|什么时候|何时|哪一年|哪年|哪天|几号|多少|多大|几[个项家座条次]|哪些|哪几|是否|有没有"
)
ENGLISH_FILLER = (
    r"\b(?:the|a|an|of|for|on|in|at|by|to|is|are|was|be|will|should|must|what|which|does|do|did|its|this|that|"
    r"there|under|set|plan|plans|according|please|s)\b|'s?"
)
YEAR_PAIR = re.compile(r"(20\d\d)\s*年?\s*(?:和|与|及|、|以及|跟)\s*(20\d\d)\s*年")
# "第50次和第51次", "300米和500米": two numbers with the same word, each one part of the question.
NUMBER_PAIR = re.compile(r"(第?)(\d+(?:\.\d+)?)([次米个号项])(?:和|与|及|、|以及|跟)\1(\d+(?:\.\d+)?)\3")
# "…开了几次会？各是哪天？": a second ask that details the first is one question with it, not a part of its own.
ELABORATION = re.compile(r"各|分别|具体|都|其中|每")
# What a follow-up keeps of the question before it: from its year or its question word on.
ASK_START = re.compile(r"20\d\d年|由|要|应|将|" + INTERROGATIVE.pattern)
# English words left once the glossary has run: dropped, but acronyms and figures (PUE, PM2.5, R&D) stay.
PLAIN_ENGLISH_WORD = re.compile(r"\b[A-Za-z][a-z]+(?:-[a-z]+)*\b")


@dataclass(frozen=True)
class AskedQuestion:
    """A question as written, and the form the assistant answers."""

    written: str  # exactly as the user wrote it (shown in outputs)
    text: str  # labels and courtesies removed, simplified characters, English terms in Chinese
    label: str = ""  # the item label removed ("3、", "（第9题）"); never matched against figures
    removed: tuple[str, ...] = ()  # courtesies removed ("请问", "请附出处")
    language: str = "zh"  # "en" when the question was written in English


def read_question(written: str) -> AskedQuestion:
    """Strip what belongs to the questionnaire, not to the question."""
    text = to_simplified(fold_widths(written)).strip()
    labels = []
    while match := LEADING_LABEL.match(text):
        if not match.group(0).strip() or match.end() == len(text):
            break
        labels.append(match.group(0).strip())
        text = text[match.end() :]
    if match := TRAILING_LABEL.search(text):
        labels.append(match.group(0).strip())
        text = text[: match.start()]
    removed = tuple(m.group(0).strip(" ,，") for m in COURTESY.finditer(text))
    text = COURTESY.sub("", text).strip(" ，,：:")
    language = "en" if is_english(text) else "zh"
    if language == "en":
        text = english_to_chinese(text)
    return AskedQuestion(written, re.sub(r"\s+", " ", text).strip() or written.strip(), " ".join(labels), removed, language)


def fold_widths(text: str) -> str:
    """Full-width digits and letters as ASCII; the ideographic space as a space."""
    return "".join(chr(ord(ch) - 0xFEE0) if "\uff10" <= ch <= "\uff5a" and ch.isalnum() else ch for ch in text).replace(
        "\u3000", " "
    )


def is_english(text: str) -> bool:
    letters = sum(ch.isascii() and ch.isalpha() for ch in text)
    han = sum("\u4e00" <= ch <= "\u9fff" for ch in text)
    return letters >= 8 and letters > 3 * han


@cache
def english_terms() -> tuple[tuple[re.Pattern[str], str], ...]:
    """The policy glossary (assistant/data/english_terms.tsv), longest English phrase first."""
    rows = []
    for line in resources.files("assistant").joinpath("data/english_terms.tsv").read_text("utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            english, chinese = line.split("\t")[:2]
            rows.append((english.strip(), chinese.strip()))
    rows.sort(key=lambda row: -len(row[0]))
    return tuple((re.compile(rf"\b{re.escape(en)}\b", re.IGNORECASE), zh) for en, zh in rows)


def english_to_chinese(text: str) -> str:
    """Map an English question onto the plans' Chinese terms; figures, years and acronyms stay."""
    text = re.sub(r"\b(?:by|in|for|until|before)\s+(20\d\d)\b", r"\1年", text, flags=re.IGNORECASE)
    text = re.sub(r"\b(20\d\d)\b(?!年)", r"\1年", text)
    text = re.sub(r"\b(\d+)(?:st|nd|rd|th)\b", r"第\1次", text)
    for pattern, chinese in english_terms():
        text = pattern.sub(chinese, text)
    text = re.sub(ENGLISH_FILLER, " ", text, flags=re.IGNORECASE)
    text = PLAIN_ENGLISH_WORD.sub(" ", re.sub(r"[()（）]", " ", text))
    text = re.sub(r"\s+", "", text).rstrip("?？")
    return text + ("？" if INTERROGATIVE.search(text) else "是多少？")


def is_elliptical(text: str) -> bool:
    """A question that cannot stand alone: "那2030年呢？", "它由谁牵头？", a bare year or unit."""
    core = re.sub(r"[?？。!！\s]", "", text)
    if ELLIPSIS_START.match(core) or ELLIPSIS_REFERENCE.search(core) or ELLIPSIS_END.search(text):
        return True
    return len(re.sub(r"20\d\d年?|[0-9]+", "", core)) <= 2


def split_parts(text: str) -> list[str]:
    """ "2025年和2030年…分别是多少" and "…谁牵头、什么时候完成" become one question per part."""
    if pair := YEAR_PAIR.search(text):
        template = text[: pair.start()] + "{year}年" + text[pair.end() :]
        template = template.replace("分别", "")
        return [template.format(year=year) for year in pair.groups()]
    if "分别" in text and (pair := NUMBER_PAIR.search(text)):
        prefix, first, word, second = pair.groups()
        head, tail = text[: pair.start()], text[pair.end() :].replace("分别", "")
        return [f"{head}{prefix}{number}{word}{tail}" for number in (first, second)]
    asks = list(INTERROGATIVE.finditer(text))
    if len(asks) < 2:
        return [text]
    if len(sentences := _asked_sentences(text)) > 1:
        return sentences
    subject = text[: asks[0].start()]
    pieces = re.split(r"[、，,；;]|(?:以及|并且|还有)", text[asks[0].start() :])
    pieces = [piece.strip(" ？?") for piece in pieces if piece.strip(" ？?")]
    if len(pieces) < 2 or any(not INTERROGATIVE.search(piece) for piece in pieces):
        return [text]
    return [f"{subject}{piece}？" for piece in pieces]


# An ask with its measure and noun, taken out of a sentence whose subject the next one reuses.
ASK_PHRASE = re.compile(rf"(?:{INTERROGATIVE.pattern})[个项家]?(?:部门|单位)?(?:负责)?")


def _asked_sentences(text: str) -> list[str]:
    """"…目标是多少？由哪些单位负责？": each sentence one part; one without a subject of its own asks about
    the sentence before it, its ask left out ("…目标" + "由哪些单位负责？"). [] when it is one question."""
    sentences = [s.strip() for s in re.split(r"[？?]", text) if s.strip()]
    if len(sentences) < 2 or any(not INTERROGATIVE.search(s) or ELABORATION.match(s) for s in sentences):
        return []
    parts = [sentences[0] + "？"]
    for before, sentence in zip(sentences, sentences[1:], strict=False):
        context = re.sub(r"(?:是|为|吗|由)+$", "", ASK_PHRASE.sub("", before))
        parts.append(sentence + "？" if _has_own_subject(sentence) else f"{context}{sentence}？")
    return parts


OWN_SUBJECT = 4  # characters before a part's ask, beyond 由/要/是…, that make it a question of its own


def _has_own_subject(piece: str) -> bool:
    """"某区2035年的GDP目标是多少" stands alone; "由哪些单位负责" leans on the subject before it."""
    ask = INTERROGATIVE.search(piece)
    own = piece[: ask.start()] if ask else piece
    return len(re.sub(r"由|要|应|将|需|是|为|的", "", own)) >= OWN_SUBJECT


def follow_up_core(text: str) -> str:
    """What a follow-up asks once its leaning words are gone: "那2030年呢？" → "2030年"."""
    return ELLIPSIS_END.sub("", ELLIPSIS_START.sub("", re.sub(r"[?？。!！\s]", "", text)))


def complete_follow_up(text: str, previous: str) -> str:
    """An elliptical follow-up read with the question before it: "那垃圾分类呢？" after "老旧小区改造谁牵头？"
    asks "垃圾分类谁牵头？"; "它由谁牵头？" puts the earlier topic in place of "它".

    A follow-up that only changes the year is left to the caller (it replaces the year in place).
    """
    core = follow_up_core(text)
    ask = ASK_START.search(previous)
    topic = re.sub(r"(?:的|是|为)+$", "", previous[: ask.start()] if ask else previous.rstrip("?？"))
    asked = previous[ask.start() :] if ask else "？"
    if reference := ELLIPSIS_REFERENCE.search(core):
        return core[: reference.start()] + topic + core[reference.end() :] + "？"
    if not core:
        return text
    if has_own_ask(core):  # "那什么时候完成？": its own ask, about the earlier question's subject
        subject = follow_up_subject(previous)
        return f"{subject}{core}？" if subject else text
    return sibling_indicator(core, previous) or core + asked


# What a question asks, after its subject: "老旧小区改造|谁牵头", "非化石能源消费比重|要达到多少".
SUBJECT_END = re.compile(r"由|要|应|将|需|的?目标|" + INTERROGATIVE.pattern)
ASKED_YEAR = re.compile(r"(?:到|至|在)?20\d\d年(?:底|末|前|以前|之前)?(?:的|时)?")
# An ask a year changes: a figure or a list for that year; a unit or a date is asked again as the year's target.
YEARLY_ASK = re.compile(r"多少|多大|几[个项家座条次]|哪些|哪几|目标|达到|提高|下降|控制")


def has_own_ask(core: str) -> bool:
    """"什么时候完成", "牵头单位是谁": a follow-up whose intent is its own, whatever the earlier question asked."""
    return bool(INTERROGATIVE.search(core))


def follow_up_subject(previous: str) -> str:
    """What the earlier question was about, without its year or its ask: "2025年非化石能源消费比重是多少？" →
    "非化石能源消费比重". A follow-up with its own ask ("那牵头单位是谁？") is asked of this."""
    core = ASKED_YEAR.sub("", re.sub(r"[?？。!！\s]", "", previous))
    end = SUBJECT_END.search(core)
    return re.sub(r"(?:的|是|为)+$", "", core[: end.start()] if end else core)


def year_follow_up(year: int, previous: str) -> str:
    """"那2030年呢？" after a question naming no year: the earlier question for that year. An earlier question
    that asked no figure ("老旧小区改造谁牵头？") has no other answer in 2030: the subject's target then is asked."""
    if YEARLY_ASK.search(previous) or not (subject := follow_up_subject(previous)):
        return f"{year}年{previous}"
    return f"到{year}年{subject}的目标是多少？"


# The kind of figure an indicator is: "…利用率" and "…处置率" are two figures of one kind.
INDICATOR_HEAD = re.compile(r"(?:率|比重|占比|比例|总量|保有量|面积|规模|强度|指数)$")
SIBLING_SLACK = 2  # characters an indicator of that kind may be longer or shorter than the one it replaces


def sibling_indicator(core: str, previous: str) -> str:
    """"资源化利用率呢？" after "2025年城市生活垃圾无害化处置率要求多少？" asks for the same subject's other
    figure of that kind: "2025年城市生活垃圾资源化利用率要求多少？" — the earlier indicator replaced, not kept
    beside it (where it would win the match). "" when the earlier question has no figure of that kind."""
    import jieba  # the dictionary loads once; answering has loaded it for BM25 already

    head = INDICATOR_HEAD.search(core)
    end = previous.rfind(head.group()) + len(head.group()) if head and head.group() in previous else -1
    if end < 0:
        return ""
    starts = [start for _, start, _ in jieba.tokenize(previous[:end]) if not re.search(r"\d|年", previous[start:end])]
    fits = [s for s in starts if abs((end - s) - len(core)) <= SIBLING_SLACK and s > 0]
    if not fits:
        return ""
    start = min(fits, key=lambda s: abs((end - s) - len(core)))
    return previous[:start] + core + previous[end:]
