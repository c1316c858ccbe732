"""Optional generation with an LLM (off by default): rephrase the extractive answer, never its facts.

Any llama-index LLM works; the settings make an OpenAI-compatible one (a local vLLM, Ollama or
llama.cpp server serving e.g. Qwen). After generation every number, year and unit name in the
text must appear in a cited clause; otherwise the extractive answer stands and the mismatch is logged.
"""

from __future__ import annotations

import logging
import re
from dataclasses import replace

from assistant.config import Settings
from assistant.ingest.clean import chinese_numerals_to_digits, normalise_text
from assistant.lang.agencies import NO_ALIASES, AgencyAliases
from assistant.models import Answer

log = logging.getLogger(__name__)

PROMPT = """你是政策文件问答助手。只能依据下面的原文条款回答问题，不得添加原文没有的数字、年份或单位名称。
用简洁的中文回答，保留原文的数值和限定词（以上、不低于、左右、力争等）。

问题：{question}

原文条款：
{context}

参考答案（据原文抽取）：{draft}

回答："""


class GroundedGenerator:
    def __init__(self, llm, aliases: AgencyAliases = NO_ALIASES):
        self.llm = llm
        self.aliases = aliases  # the corpus's unit names: a unit the text names must be a cited one

    @classmethod
    def from_settings(cls, settings: Settings, aliases: AgencyAliases = NO_ALIASES) -> GroundedGenerator | None:
        if not settings.llm_base_url:
            return None
        from llama_index.llms.openai_like import OpenAILike

        llm = OpenAILike(
            model=settings.llm_model or "qwen",
            api_base=settings.llm_base_url,
            api_key=settings.llm_api_key or "not-needed",
            is_chat_model=True,
            timeout=60,
            max_retries=1,
        )
        return cls(llm, aliases)

    def rewrite(self, answer: Answer) -> Answer:
        """The LLM's wording when every figure and unit in it is grounded; else the extractive answer."""
        if answer.abstained or not answer.citations:
            return answer
        context = "\n".join(f"[{i}] {c.section}：{c.quote}" for i, c in enumerate(answer.citations, 1))
        prompt = PROMPT.format(question=answer.question, context=context, draft=answer.answer)
        try:
            text = str(self.llm.complete(prompt).text).strip()
        except Exception as exc:  # an unreachable or failing server must not break answering
            log.warning("LLM call failed (%s); keeping the extractive answer", exc)
            return answer
        problems = ungrounded(text, [c.quote for c in answer.citations], self.aliases)
        if not text or problems:
            log.warning("LLM answer dropped, not in the cited clauses: %s", ", ".join(problems) or "empty answer")
            return answer
        return replace(answer, answer=text)


def ungrounded(text: str, quotes: list[str], aliases: AgencyAliases = NO_ALIASES) -> list[str]:
    """Numbers, years and unit names (any spelling `aliases` knows) of `text` that no quote contains."""
    source = normalise_text(chinese_numerals_to_digits("\n".join(quotes))).replace(" ", "")
    claim = normalise_text(chinese_numerals_to_digits(text)).replace(" ", "")
    missing = [
        number for number in dict.fromkeys(re.findall(r"\d+(?:\.\d+)?", claim))
        if not re.search(rf"(?<![\d.]){re.escape(number)}(?![\d.])", source)
    ]
    source_units = {aliases.canonical(alias) for alias in aliases if alias in source}
    for alias in sorted(aliases, key=len, reverse=True):
        if alias in claim and aliases.canonical(alias) not in source_units:
            missing.append(alias)
            claim = claim.replace(alias, "")
    return missing
