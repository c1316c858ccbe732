"""Optional LLM wording: kept only when every figure and unit in it is in a cited clause."""

from llama_index.core.llms import CompletionResponse, CustomLLM, LLMMetadata

from assistant.answer.wording import GroundedGenerator, ungrounded


class ScriptedLLM(CustomLLM):
    """A stand-in LLM that returns a fixed text (no network in tests)."""

    reply: str = ""

    @property
    def metadata(self) -> LLMMetadata:
        return LLMMetadata(model_name="scripted")

    def complete(self, prompt: str, formatted: bool = False, **kwargs) -> CompletionResponse:
        return CompletionResponse(text=self.reply)

    def stream_complete(self, prompt: str, formatted: bool = False, **kwargs):
        yield self.complete(prompt)


def test_grounded_wording_is_used(assistant):
    extractive = assistant.ask("到2025年非化石能源消费比重要达到多少？")
    generator = GroundedGenerator(ScriptedLLM(reply="根据方案，到2025年非化石能源消费比重要提高到27%以上。"), assistant.knowledge.unit_aliases)
    assert generator.rewrite(extractive).answer == "根据方案，到2025年非化石能源消费比重要提高到27%以上。"


def test_invented_figures_or_units_fall_back_to_the_extractive_answer(assistant):
    extractive = assistant.ask("到2025年非化石能源消费比重要达到多少？")
    for reply in ("到2025年要达到30%以上。", "到2035年达到27%以上。", "由区林业局负责，到2025年达到27%以上。"):
        assert GroundedGenerator(ScriptedLLM(reply=reply), assistant.knowledge.unit_aliases).rewrite(extractive) == extractive


def test_abstentions_are_never_sent_to_the_llm(assistant):
    abstained = assistant.ask("到2035年非化石能源消费比重要达到多少？")
    assert GroundedGenerator(ScriptedLLM(reply="到2035年达到40%。")).rewrite(abstained) == abstained


def test_ungrounded_checks_numbers_in_any_form(knowledge):
    quotes = ["到 2025 年，力争全区新能源装机不低于 16.24 万千瓦。(区发展和改革委员会、区林业局按职责分工负责)"]
    aliases = knowledge.unit_aliases  # the bulletin's unit names, any spelling
    assert ungrounded("十六点二四万千瓦，发改局牵头", quotes, aliases) == []
    assert ungrounded("16.2万千瓦", quotes, aliases) == ["16.2"]
    assert ungrounded("住建局负责", quotes, aliases) == ["住建局"]
