"""A question, read once: validated, normalised, follow-ups resolved, then frozen for every handler."""

from __future__ import annotations

import re
from dataclasses import dataclass

from assistant.answer.text import apply_synonyms, bigrams
from assistant.errors import QuestionError
from assistant.ingest.clean import chinese_numerals_to_digits, normalise_text
from assistant.lang.agencies import NO_ALIASES, AgencyAliases
from assistant.lang.asking import complete_follow_up, follow_up_core, has_own_ask, year_follow_up
from assistant.lang.periods import YEAR


@dataclass(frozen=True)
class Question:
    raw: str  # as asked (validated), what the answer repeats
    text: str  # normalised (widths, Chinese numerals, synonyms), a follow-up completed from the history
    topic: str  # `text` without the names of the plan's own area: they say nothing about the topic
    year: int | None
    units: tuple[str, ...]  # canonical responsible units named in it
    grams: frozenset[str]  # content bigrams of `topic`

    def grams_without(self, words: str) -> set[str]:
        """Content bigrams once the words a handler already acts on ("谁", "牵头") are removed."""
        return bigrams(re.sub(words, "", self.topic))


def validate(question: object, max_chars: int) -> str:
    if not isinstance(question, str) or not question.strip():
        raise QuestionError("问题不能为空 / the question is empty")
    cleaned = "".join(ch for ch in question if ch.isprintable() or ch in "\n\t\u3000").strip()  # 　 separates a label
    if len(cleaned) > max_chars:
        raise QuestionError(
            f"问题过长（{len(cleaned)} 字，上限 {max_chars} 字），请缩短后再问 / "
            f"the question is too long ({len(cleaned)} > {max_chars} characters): shorten it"
        )
    if not cleaned:
        raise QuestionError("问题不能为空 / the question is empty")
    return cleaned


def normalise(text: str) -> str:
    return normalise_text(chinese_numerals_to_digits(text))


def parse(
    raw: str, history: list[tuple[str, str]], places: tuple[str, ...] = (), aliases: AgencyAliases = NO_ALIASES,
) -> Question:
    """A question read (labels and courtesies gone) but not yet normalised, and its conversation: `read`."""
    return read(normalise(raw), [(normalise(q), a) for q, a in history[-1:]], places, aliases, raw)


def read(
    text: str, history: list[tuple[str, str]], places: tuple[str, ...] = (), aliases: AgencyAliases = NO_ALIASES,
    raw: str = "",
) -> Question:
    """Complete a follow-up from the previous question, find the year and the units.

    `text` and the history's questions are normalised already (`normalise`, once per ask); `history`
    is passed only for an elliptical question (`Assistant.ask` decides, by `lang.asking.is_elliptical`),
    so a complete question reads the same either way. `aliases` are the corpus's unit names.
    """
    raw = raw or text
    text = apply_synonyms(with_context(text, [q for q, _ in history[-1:]]))
    year = YEAR.search(text)
    topic = re.sub("|".join(map(re.escape, places)), " ", text) if places else text
    # "发改部门", "住建部门": users name a unit by its field.
    units = tuple(dict.fromkeys(aliases.canonical(alias) for alias in aliases.named_in(text.replace("部门", "局"))))
    return Question(raw, text, topic, int(year.group(1)) if year else None, units, frozenset(bigrams(topic)))


def with_context(text: str, previous: list[str]) -> str:
    """"那2030年呢？" after a question about 2025 asks the same thing for 2030 (both normalised)."""
    if not previous:
        return text
    core = follow_up_core(text)
    without_year = YEAR.sub("", core)
    if bigrams(core) - bigrams(without_year) or len(bigrams(without_year)) > 2 or has_own_ask(core):
        return complete_follow_up(text, previous[-1])  # its own topic, the earlier question's ask
    if year := YEAR.search(core):
        replaced, n = YEAR.subn(year.group(1) + "年", previous[-1], count=1)
        return replaced if n else year_follow_up(int(year.group(1)), previous[-1])
    return f"{previous[-1]}{core}"

