"""Stage 7, answer: exact, cited answers from the facts and the retrieved clauses, or an honest abstention.

The default path is extractive: a figure is only ever quoted from the sentence that states it.
Which fact answers is decided by how much of the question's content the fact's own words cover,
so an indicator the plan never quantifies ("单位GDP二氧化碳排放降幅") is not answered with a
neighbouring one ("单位GDP能耗").
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

from .clean import chinese_numerals_to_digits, normalise_text
from .config import Settings, load_settings
from .errors import InputFileError, QuestionError
from .facts import canonical_unit, unit_aliases
from .knowledge import Knowledge, load_knowledge
from .models import Answer, Citation, Clause, Target

log = logging.getLogger(__name__)

NOT_STATED = "方案中未明确"
# Words users type for the plan's own terms.
SYNONYMS = {
    "PUE": "电能利用效率", "pue": "电能利用效率", "新能源车": "新能源汽车", "电动车": "新能源汽车",
    "占比": "比重", "比例": "比重", "光伏覆盖": "光伏覆盖率", "充电桩": "充电基础设施",
}
FILLER = re.compile(
    # Question words and particles; single characters only where they never start a plan term
    # (not 能 of 能源, 达 of 碳达峰, 中 of 碳中和).
    r"请问|请|一下|方案|实施方案|规划|文件|里面|中的|之中|提出|要求|规定|明确|目标值?|指标|是多少|多少|多大|几个|几家|几座|几项|"
    r"什么|哪些|哪个|哪一年|哪年|吗|呢|啊|吧|要|达到|为|是|的|了|到|在|全区|我区|鹤城区|区里|计划|预计|准备|应该|需要|必须|"
    r"怎么|怎样|如何|部分|那一节|这一节|一节|这块|那块|那个|这个|这些|那些|方面|对于|关于|一共|总共|分别|大概|左右吗|"
    r"最低|最高|至少|最少|最多|时候|时|还|都|里|和|与|及|"
    r"[?？!！,，。、:：;；“”\"'()（）《》\s]"
)
YEAR = re.compile(r"(20\d\d)年?")

INTENT_PATTERNS = [
    ("list_actions", re.compile(r"(十大|几大|哪些|哪几|多少|几个)(项)?(重点)?行动|行动有哪些|行动包括|十大行动.{0,10}(多少|几)(条|项)")),
    ("list_parts", re.compile(r"(总体要求|主要目标|重点任务|政策保障|组织实施)(部分)?.{0,6}(哪几|哪些|几条|几个方面|几方面|包括)|(几个|哪几个|哪些|几)部分")),
    ("count_tasks", re.compile(r"行动.{0,8}(几项|几个|几条|多少项|多少个|多少条|哪些|哪几)(具体|重点)?任务|行动.{0,4}任务有哪些")),
    ("unit_names", re.compile(r"名称|全称|叫什么|叫“|写法|怎么写")),
    ("unit_tasks", re.compile(r"(负责|牵头|参与|承担|涉及).{0,4}(哪些|哪几|什么|几项|多少)")),
    ("targets_by_year", re.compile(r"(哪些|哪几|什么)(目标|指标|任务).{0,12}20\d\d|20\d\d.{0,10}(哪些|哪几|有什么)(目标|指标|任务)")),
    ("meta", re.compile(r"文号|印发|发文|主送|期号|第几期|哪一期|总第|总期|编辑|编委|编辑委员会|编委会|编印|公报.{0,8}(日期|时间|哪天|出版|出刊|主任)|方案名称|全称|通知")),
    ("chronicle", re.compile(r"\d{1,2}月\d{1,2}[日号]|大事记|常务会议|会议|调度会|主持|会见|调研|督导|考察|招商|接访|聘任|法律顾问|慰问|培训班|开班|巡河|巡田|区长|书记|区领导")),
    ("responsible", re.compile(r"谁|哪个部门|哪些部门|哪个单位|哪些单位|什么部门|什么单位|责任单位|牵头单位|配合单位|负责单位|由.{0,10}负责|牵头")),
    ("deadline", re.compile(r"什么时候|何时|哪一年|哪年|时间节点|期限|截止|多久|时限|什么时间")),
]
META_FIELDS = [
    ("文号", re.compile(r"文号|发文字号|字号")),
    ("印发日期", re.compile(r"印发|发文.{0,2}(日期|时间)|哪天发|成文")),
    ("总期号", re.compile(r"总第|总期")),
    ("期号", re.compile(r"期号|第几期|哪一期")),
    ("副总编辑", re.compile(r"副总编辑")),
    ("总编辑", re.compile(r"总编辑")),
    ("责任编辑", re.compile(r"责任编辑")),
    ("编委", re.compile(r"编委")),
    ("主任", re.compile(r"主任")),
    ("主送机关", re.compile(r"主送|发给|下发给|印发给")),
    ("发文机关", re.compile(r"发文机关|哪个单位发|谁发")),
    ("出版日期", re.compile(r"公报.{0,4}(日期|时间|哪天)|出版")),
    ("编印单位", re.compile(r"编印|主办|哪个单位编|出版单位")),
    ("方案名称", re.compile(r"方案名称|全称|叫什么")),
]


@dataclass(frozen=True)
class Question:
    raw: str
    text: str  # normalised: widths, Chinese numerals, synonyms
    year: int | None
    units: tuple[str, ...]  # canonical responsible units named in it


def bigrams(text: str) -> set[str]:
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


class Assistant:
    """Answers questions about the corpus; `ask` is the one entry point every interface uses."""

    def __init__(self, knowledge: Knowledge, retriever, settings: Settings, generator=None):
        self.knowledge = knowledge
        self.retriever = retriever
        self.settings = settings
        self.generator = generator  # optional LLM rewording (assistant/generate.py); None = extractive only
        # What each target is matched against: its own words, and with its section path.
        self._target_text = {id(t): _target_haystacks(t, knowledge.clause(t.clause_id).section) for t in knowledge.targets}

    @classmethod
    def from_settings(cls, settings: Settings | None = None, progress: bool = False) -> Assistant:
        from .retrieve import HybridRetriever

        settings = settings or load_settings()
        knowledge = load_knowledge(settings.corpus_dir)
        if not knowledge.documents:
            raise InputFileError(settings.corpus_dir, "没有可读的文档 / no readable documents: add .txt, .md, .pdf or .docx files")
        from .generate import GroundedGenerator

        retriever = HybridRetriever.open(knowledge, settings, progress=progress)
        return cls(knowledge, retriever, settings, GroundedGenerator.from_settings(settings))

    # --- entry point -------------------------------------------------------------------------------
    def ask(self, question: str, history: list[tuple[str, str]] | None = None) -> Answer:
        raw = self.validate(question)
        parsed = self.parse(self.with_context(raw, history or []))
        intent = self.intent(parsed)
        handler = getattr(self, f"answer_{intent}")
        answer = handler(parsed)
        answer = Answer(raw, answer.answer, intent, answer.confidence, answer.abstained, answer.citations)
        return self.generator.rewrite(answer) if self.generator else answer

    def validate(self, question: object) -> str:
        if not isinstance(question, str) or not question.strip():
            raise QuestionError("问题不能为空 / the question is empty")
        cleaned = "".join(ch for ch in question if ch.isprintable() or ch in "\n\t").strip()
        if len(cleaned) > self.settings.max_question_chars:
            raise QuestionError(
                f"问题过长（{len(cleaned)} 字，上限 {self.settings.max_question_chars} 字） / "
                f"the question is too long ({len(cleaned)} > {self.settings.max_question_chars} characters)"
            )
        if not cleaned:
            raise QuestionError("问题不能为空 / the question is empty")
        return cleaned

    def with_context(self, question: str, history: list[tuple[str, str]]) -> str:
        """"那2030年呢？" after a question about 2025 asks the same thing for 2030."""
        if not history:
            return question
        previous = history[-1][0]
        text = normalise_text(chinese_numerals_to_digits(question))
        core = re.sub(r"^(那么?|那|还有|另外|再问)|呢$|[?？。]$|呢[?？]?$", "", text)
        if len(bigrams(core) - bigrams(f"{YEAR.sub('', core)}")) or len(bigrams(YEAR.sub("", core))) > 2:
            return question  # the follow-up names its own topic
        if year := YEAR.search(core):
            replaced, n = YEAR.subn(year.group(1) + "年", normalise_text(chinese_numerals_to_digits(previous)), count=1)
            return replaced if n else f"{year.group(1)}年{previous}"
        return f"{previous}{core}"

    def parse(self, question: str) -> Question:
        text = apply_synonyms(normalise_text(chinese_numerals_to_digits(question)))
        year = YEAR.search(text)
        # "发改部门", "住建部门": users name a unit by its field.
        units = tuple(dict.fromkeys(canonical_unit(alias) for alias in _aliases_in(text.replace("部门", "局"))))
        return Question(question, text, int(year.group(1)) if year else None, units)

    def intent(self, question: Question) -> str:
        text = question.text
        if question.units and dict(INTENT_PATTERNS)["unit_tasks"].search(text):
            return "unit_tasks"
        for name, pattern in INTENT_PATTERNS:
            if not pattern.search(text):
                continue
            if name in ("unit_tasks", "unit_names") and not question.units:
                continue
            if name == "responsible" and question.units and re.search(r"负责|牵头", text) and re.search(r"哪些|哪几|几项", text):
                return "unit_tasks"
            return name
        return "target"

    # --- helpers ---------------------------------------------------------------------------------------
    def cite(self, clause: Clause, start: int | None = None, end: int | None = None) -> Citation:
        start = clause.start if start is None else start
        end = clause.end if end is None else end
        return Citation(clause.doc, clause.id, clause.section, self.knowledge.quote(clause.doc, start, end), start, end)

    def ranked_clauses(self, question: Question, kinds: tuple[str, ...] | None = None, k: int = 8) -> list[Clause]:
        seen: dict[str, Clause] = {}
        for hit in self.retriever.search(question.text, k=k * 2):
            clause = self.knowledge.clause(hit.chunk.clause_id)
            if (kinds is None or clause.kind in kinds) and clause.id not in seen:
                seen[clause.id] = clause
        return list(seen.values())[:k]

    def abstain(self, question: Question, what: str = "", pointer: Clause | None = None) -> Answer:
        pointer = pointer or next(iter(self.ranked_clauses(question, k=1)), None)
        text = f"{NOT_STATED}{what}。"
        citations: tuple[Citation, ...] = ()
        if pointer is not None:
            text += f"最相关的条款是「{pointer.section or pointer.title}」，供参考。"
            citations = (self.cite(pointer),)
        return Answer(question.raw, text, "", 0.0, True, citations)

    # --- numeric targets ------------------------------------------------------------------------------
    def answer_target(self, question: Question) -> Answer:
        if not QUANTITY_ASKED.search(question.text):
            # "城镇新建建筑要执行什么标准": the answer is a sentence, not necessarily a figure.
            answer = self.answer_sentence(question, need_number=False)
            if not answer.abstained:
                return answer
        grams = bigrams(question.text)
        ranked = self.ranked_clauses(question, ("goal", "task", "paragraph"), k=10)
        rank_of = {c.id: r for r, c in enumerate(ranked)}
        scored: list[tuple[float, float, Target]] = []  # (score, coverage, target)
        for target in self.knowledge.targets:
            if question.year and target.year and target.year != question.year:
                continue
            if not units_agree(question.text, target):
                continue
            haystacks = self._target_text[id(target)]
            own = coverage(grams, haystacks[0][0])
            # Wider context only helps a figure whose own words already carry part of the question.
            cover = max(own, *(coverage(grams, text) - penalty for text, penalty in haystacks[1:])) if own >= 0.25 else own
            rank = rank_of.get(target.clause_id)
            # The indicator's own words break ties between figures listed in one sentence.
            score = cover + 0.3 * coverage(grams, target.indicator) + (0.15 / (1 + rank) if rank is not None else 0.0)
            score -= kind_penalty(question.text, target)
            if question.year and target.year == question.year:
                score += 0.05  # "到2025年…达到多少家": the figure due that year, not an undated one
            scored.append((score, cover, target))
        if not scored:
            return self.answer_sentence(question)
        scored.sort(key=lambda item: -item[0])
        best_score, best_cover, best = scored[0]
        if best_cover < 0.5 or not numbers_agree(question.text, best.sentence):
            return self.answer_sentence(question)
        if len(grams) <= 2 and coverage(bigrams(best.indicator), question.text) < 0.25:
            # "全区人口多少" is not asking about "每万人口有效发明专利拥有量": too little said to match on.
            return self.abstain(question, "", self.knowledge.clause(best.clause_id))
        chosen = [t for _, _, t in scored if t.sentence == best.sentence and t.indicator == best.indicator]
        if re.search(r"分别|各(要|是|为)", question.text):  # "A和B分别要创建几个": every figure asked for
            chosen += [
                t for _, _, t in scored
                if t.sentence == best.sentence and t not in chosen and coverage(grams, t.indicator) >= 0.2
            ]
        # The same indicator stated differently elsewhere: show every statement, each cited.
        best_own = coverage(grams, self._target_text[id(best)][0][0])
        others = [
            t for _, cover, t in scored
            if t not in chosen and t.unit == best.unit and t.value != best.value and cover >= best_cover - 0.2
            and coverage(grams, self._target_text[id(t)][0][0]) >= best_own - 0.2
            and coverage(grams, t.indicator) >= coverage(grams, best.indicator) - 0.2
        ][:2]
        parts = [self.describe_target(t) for t in chosen]
        citations = [self.cite_target(chosen[0])]
        for other in others:
            section = self.knowledge.clause(other.clause_id).section
            parts.append(f"另：{section} 中表述为 {self.describe_target(other)}")
            citations.append(self.cite_target(other))
        if others:
            parts.append("方案中对此有不同表述，均列出供核对")
        return Answer(question.raw, "；".join(parts) + "。", "", min(1.0, best_cover), False, tuple(citations))

    def describe_target(self, target: Target) -> str:
        """"到2025年，非化石能源消费比重提高到27%以上（原文：…）": the plan's own figure and words."""
        from .facts import COUNT_VERBS

        when = f"到{target.year}年，" if target.year else ""
        if target.period:
            when = f"“{'十四五' if target.year == 2025 else '十五五'}”期间（{target.period}），"
        figure = target.figure("" if target.comparator in COUNT_VERBS else target.comparator)
        return f"{when}{target.indicator}{target.baseline or ''}{figure}（原文：{_segment_of(target)}）"

    def cite_target(self, target: Target) -> Citation:
        return self.cite(self.knowledge.clause(target.clause_id), target.start, target.end)

    # --- generic: the best sentence of the best clause ---------------------------------------------------
    def answer_sentence(self, question: Question, kinds: tuple[str, ...] | None = None, need_number: bool = True) -> Answer:
        """The best-covering part of a retrieved sentence; a figure only if that part states one."""
        from .facts import split_sentences

        grams = bigrams(question.text)
        best: tuple[float, Clause, object, str] | None = None
        for rank, clause in enumerate(self.ranked_clauses(question, kinds, k=6)):
            for sentence in split_sentences(clause):
                if question.year and str(question.year) not in sentence.text and re.search(r"20\d\d年", sentence.text):
                    continue
                whole = coverage(grams, apply_synonyms(clause.section + sentence.text))
                for part in re.split(r"(?<=[,:])", sentence.text):
                    own = coverage(grams, apply_synonyms(part))
                    score = max(own, 0.5 * own + 0.5 * whole) + 0.1 / (1 + rank)
                    if best is None or score > best[0]:
                        best = (score, clause, sentence, part)
        if best is None or best[0] < 0.6 or not numbers_agree(question.text, best[2].text):
            return self.abstain(question)
        score, clause, sentence, part = best
        if need_number and not re.search(r"\d", part):
            return self.abstain(question, "具体数值", clause) if not self.states_no_figure(part) else self.no_figure(question, clause, sentence, part)
        start, end = sentence.original_span
        return Answer(question.raw, sentence.text, "", min(1.0, score * 0.8), False, (self.cite(clause, start, end),))

    @staticmethod
    def states_no_figure(part: str) -> bool:
        return bool(re.search(r"下达|完成.{0,6}(指标|目标)|得到.{0,4}控制", part))

    def no_figure(self, question: Question, clause: Clause, sentence, part: str) -> Answer:
        """The plan speaks of it but sets no figure of its own ("确保完成市下达指标")."""
        start, end = sentence.original_span
        text = f"{NOT_STATED}具体数值：方案表述为“{part.strip(',。')}”。"
        return Answer(question.raw, text, "", 0.6, True, (self.cite(clause, start, end),))

    # --- responsible units ---------------------------------------------------------------------------------
    def answer_responsible(self, question: Question) -> Answer:
        if PERSON.search(question.text):
            return self.abstain(question, "具体负责人（方案只列责任单位，不列人员）")
        grams = bigrams(re.sub(r"谁|牵头|负责|部门|单位|配合|责任", "", question.text))
        best: tuple[float, Clause] | None = None
        for rank, clause in enumerate(self.ranked_clauses(question, ("task",), k=6)):
            score = coverage(grams, clause.text) + 0.2 / (1 + rank)
            if best is None or score > best[0]:
                best = (score, clause)
        if best is None or best[0] < 0.45:
            return self.abstain(question, "负责单位")
        score, clause = best
        units = self.knowledge.responsibilities.get(clause.id)
        if units is None:
            return self.abstain(question, "负责单位", clause)
        text = f"「{clause.title}」由{units.lead}牵头"
        if len(units.units) > 1:
            text += f"，{'、'.join(units.units[1:])}配合（按职责分工负责）"
        if question.units and question.units[0] not in units.units:
            text = f"{question.units[0]}不在该任务的责任单位中。" + text
        return Answer(question.raw, text + "。", "", min(1.0, score), False, (self.cite(clause, units.start, units.end), self.cite(clause)))

    def answer_unit_names(self, question: Question) -> Answer:
        """How the plan spells a unit: it may use two names for one body (区发展和改革局 / …委员会)."""
        unit = question.units[0]
        spellings: dict[str, list[Clause]] = {}
        for clause_id, units in self.knowledge.responsibilities.items():
            for original in units.original:
                if canonical_unit(original) == unit:
                    spellings.setdefault(original, []).append(self.knowledge.clause(clause_id))
        if not spellings:
            return self.abstain(question, f"{unit}的名称")
        parts = [f"“{name}”（{len(clauses)}处）" for name, clauses in sorted(spellings.items(), key=lambda kv: -len(kv[1]))]
        text = f"方案中该单位写作{'、'.join(parts)}" + ("，两种写法指同一单位。" if len(parts) > 1 else "。")
        citations = tuple(self.cite(clauses[0], *self._units_span(clauses[0])) for clauses in spellings.values())
        return Answer(question.raw, text, "", 0.9, False, citations)

    def _units_span(self, clause: Clause) -> tuple[int, int]:
        units = self.knowledge.responsibilities[clause.id]
        return units.start, units.end

    def answer_unit_tasks(self, question: Question) -> Answer:
        unit = question.units[0]
        lead_only = "牵头" in question.text and not re.search(r"负责|参与|配合|涉及|承担", question.text)
        rows = []
        citations = []
        scope = "三、" if re.search(r"十大行动|重点任务", question.text) else ""
        for clause_id, units in self.knowledge.responsibilities.items():
            clause = self.knowledge.clause(clause_id)
            if unit in units.units and (not lead_only or units.lead == unit) and clause.section.startswith(scope):
                role = "牵头" if units.lead == unit else "配合"
                rows.append(f"{clause.section}（{role}）")
                citations.append(self.cite(clause, units.start, units.end))
        if not rows:
            return self.abstain(question, f"{unit}负责的任务")
        led = sum(1 for r in rows if r.endswith("（牵头）"))
        head = f"{unit}{'牵头' if lead_only else '负责'}的任务共{len(rows)}项" + ("：" if lead_only else f"（其中牵头{led}项）：")
        return Answer(question.raw, head + "；".join(rows) + "。", "", 0.9, False, tuple(citations))

    # --- structure and ledger aggregations ---------------------------------------------------------------------
    def actions(self) -> dict[str, list[Clause]]:
        grouped: dict[str, list[Clause]] = {}
        for clause in self.knowledge.clauses:
            if clause.action and clause.section.startswith("三、"):
                grouped.setdefault(clause.action, []).append(clause)
        return grouped

    def parts_of(self, top: str) -> dict[str, list[Clause]]:
        """The second-level headings under a top-level section ("四、政策保障" → its （一）…（四）)."""
        grouped: dict[str, list[Clause]] = {}
        for clause in self.knowledge.clauses:
            parts = clause.section.split(" > ")
            if parts[0] == top and len(parts) > 1:
                grouped.setdefault(parts[1], []).append(clause)
        return grouped

    def answer_list_parts(self, question: Question) -> Answer:
        tops = dict.fromkeys(c.section.split(" > ")[0] for c in self.knowledge.clauses if re.match(r"[一二三四五六七八九十]+、", c.section))
        if not any(coverage(bigrams(question.text), t) >= 0.5 for t in tops):  # the plan's own outline
            firsts = {t: next(c for c in self.knowledge.clauses if c.section.startswith(t)) for t in tops}
            text = f"方案共{len(tops)}个部分：" + "；".join(tops) + "。"
            return Answer(question.raw, text, "", 0.9, False, tuple(self.cite(c) for c in firsts.values()))
        top = max(tops, key=lambda t: coverage(bigrams(question.text), t))
        parts = self.parts_of(top)
        if not parts or coverage(bigrams(question.text), top) < 0.5:
            return self.answer_sentence(question, need_number=False)
        text = f"“{top}”共{len(parts)}条：" + "；".join(parts) + "。"
        return Answer(question.raw, text, "", 0.9, False, tuple(self.cite(c[0]) for c in parts.values()))

    def answer_list_actions(self, question: Question) -> Answer:
        actions = self.actions()
        if not actions:
            return self.abstain(question)
        if re.search(r"(一共|总共|加起来|合计|共有?).{0,6}(多少|几)(条|项|个).{0,4}任务", question.text):
            total = sum(1 for clauses in actions.values() for c in clauses if c.kind == "task")
            text = f"十大行动共有{total}项具体任务：" + "；".join(
                f"{name}{sum(1 for c in clauses if c.kind == 'task')}项" for name, clauses in actions.items()
            ) + "。"
            return Answer(question.raw, text, "", 0.9, False, tuple(self.cite(c[0]) for c in actions.values()))
        intro = next((c for c in self.knowledge.clauses if c.section == "三、重点任务" and "行动" in c.text), None)
        text = f"方案“三、重点任务”共部署{len(actions)}大行动：" + "；".join(actions) + "。"
        citations = (self.cite(intro),) if intro else tuple(self.cite(c[0]) for c in actions.values())
        return Answer(question.raw, text, "", 0.95, False, citations)

    def answer_count_tasks(self, question: Question) -> Answer:
        grams = bigrams(re.sub(r"行动|任务|几项|多少|有哪些", "", question.text))
        actions = self.actions()
        if not actions:
            return self.abstain(question)
        name = max(actions, key=lambda a: coverage(grams, a))
        if coverage(grams, name) < 0.5:
            return self.abstain(question, "该行动")
        tasks = [c for c in actions[name] if c.kind == "task"]
        text = f"{name}共有{len(tasks)}项任务：" + "；".join(c.title for c in tasks) + "。"
        return Answer(question.raw, text, "", 0.95, False, tuple(self.cite(c, c.start, c.offsets[len(c.title) + 1]) for c in tasks))

    def answer_targets_by_year(self, question: Question) -> Answer:
        year = question.year
        targets = [t for t in self.knowledge.targets if t.year == year]
        if not targets:
            return self.abstain(question, f"{year}年的目标")
        lines = [f"{t.indicator}{t.display}" for t in targets]
        text = f"方案中明确到{year}年的量化目标共{len(targets)}项：" + "；".join(lines) + "。"
        return Answer(question.raw, text, "", 0.9, False, tuple(self.cite_target(t) for t in targets))

    # --- deadlines ----------------------------------------------------------------------------------------------
    def answer_deadline(self, question: Question) -> Answer:
        grams = bigrams(re.sub(r"什么时候|何时|哪一年|哪年|完成|实现|时间", "", question.text))
        ranked = self.ranked_clauses(question, ("goal", "task", "paragraph"), k=8)
        rank_of = {c.id: r for r, c in enumerate(ranked)}
        best = None
        for deadline in self.knowledge.deadlines:
            if deadline.clause_id not in rank_of:
                continue
            # The part right after the year phrase says what is due; score that part most.
            parts = [p for p in re.split(r"[,，、]", deadline.text) if p]
            score = max(coverage(grams, p) for p in parts) * 0.7 + coverage(grams, deadline.text) * 0.3
            score += 0.1 / (1 + rank_of[deadline.clause_id])
            if best is None or score > best[0]:
                best = (score, deadline)
        if best is None or best[0] < 0.5:
            if re.search(r"施行|生效|起实施", question.text):  # when the plan itself takes effect
                return self.answer_sentence(question, need_number=False)
            return self.abstain(question, "完成时间")
        score, deadline = best
        clause = self.knowledge.clause(deadline.clause_id)
        text = f"{deadline.phrase}（原文：{deadline.text}）"
        return Answer(question.raw, text, "", min(1.0, score), False, (self.cite(clause, deadline.start, deadline.end),))

    # --- chronicle and front matter --------------------------------------------------------------------------------
    def answer_chronicle(self, question: Question) -> Answer:
        date = re.search(r"(\d{1,2})月(\d{1,2})[日号]", question.text)
        events = [c for c in self.knowledge.clauses if c.kind == "event"]
        if date:
            wanted = f"-{int(date.group(1)):02d}-{int(date.group(2)):02d}"
            events = [c for c in events if c.date and c.date.endswith(wanted)]
            if not events:
                return self.abstain(question, f"{date.group()}的相关记载")
        month = re.search(r"(?<!\d)(\d{1,2})月(?!\d)", question.text)
        if month and not date:  # "四月底赴京招商": that month's entries
            events = [c for c in events if c.date and c.date[5:7] == f"{int(month.group(1)):02d}"] or events
        grams = bigrams(re.sub(r"\d{1,2}月\d{1,2}[日号]|\d{1,2}月[底初中]?|谁|主持|哪天|什么|区长|开展|活动|哪位|哪些|参加", "", question.text))
        ranked = {c.id: r for r, c in enumerate(self.ranked_clauses(question, ("event",), k=10))}
        best = max(events, key=lambda c: coverage(grams, c.text) + (0.2 / (1 + ranked[c.id]) if c.id in ranked else 0))
        score = coverage(grams, best.text)
        if (score < 0.5 and not (date and len(events) == 1)) or not numbers_agree(question.text, best.text):
            return self.abstain(question, "相关记载", best)
        text = f"{best.date}：{best.text}" if best.date else best.text
        return Answer(question.raw, text, "", min(1.0, 0.5 + score / 2), False, (self.cite(best),))

    def answer_meta(self, question: Question) -> Answer:
        parts, citations = [], []
        for field, pattern in META_FIELDS:
            if not pattern.search(question.text) or (field == "总编辑" and "副总编辑" in question.text):
                continue
            facts = [f for f in self.knowledge.meta if f.field == field]
            if facts:
                parts.append(f"{field}：{' '.join(dict.fromkeys(f.value for f in facts))}")
                citations += [self.cite(self.knowledge.clause(f.clause_id)) for f in facts]
        if parts:
            unique = tuple(dict.fromkeys(citations))
            return Answer(question.raw, "；".join(parts) + "。", "", 0.95, False, unique)
        return self.answer_sentence(question, need_number=False)


def _target_haystacks(target: Target, section: str) -> tuple[tuple[str, float], ...]:
    """What a target is matched against, each with a penalty for being wider than its own words.

    A figure's own segment often omits its subject ("装机规模6.24万千瓦" after "四十湾风电场建设"),
    so the previous segment and the section path count too, a little less.
    """
    own = apply_synonyms(f"{target.indicator}{_segment_of(target)}")
    section = apply_synonyms(section)
    sentence = apply_synonyms(target.sentence)
    pos = sentence.find(apply_synonyms(_segment_of(target)))
    before = sentence[:pos].rstrip(",")
    previous = before[before.rfind(",") + 1 :] if pos > 0 else ""
    # The figure's subject may sit further back ("建设…3座集镇污水处理厂,处理污水总规模…,污水管网总长10km").
    lead_in = sentence[:pos] if pos > 0 else ""
    return ((own, 0.0), (previous + own, 0.1), (section + own, 0.1), (lead_in + own, 0.15))


def numbers_agree(question: str, text: str) -> bool:
    """A figure the question states ("第53次", "第1期", "27%") must be in the text that answers it."""
    stated = re.sub(r"20\d\d年?|\d{1,2}月\d{1,2}[日号]?|\d{1,2}月份?", " ", question)
    numbers = re.findall(r"\d+(?:\.\d+)?", stated)
    text = chinese_numerals_to_digits(text)
    return all(re.search(rf"(?<![\d.]){re.escape(n)}(?![\d.])", text) for n in numbers)


QUANTITY_ASKED = re.compile(r"多少|几|比例|比重|占比|率|百分|%|多大|多长|多高|多少|规模|数量|目标|指标|达到|提高到|不低于|不高于|下降|增长")
PERSON = re.compile(r"负责人|组长|局长|主任是谁|书记是谁|姓名|叫什么名字")
ASKED_UNIT = re.compile(
    r"(?:多少|几)(万立方米|立方米|辆|亿元|万元|元|万吨|吨|公顷|户|人|千瓦时|度|千伏|kV|万千瓦|千瓦|MW|"
    r"万平方米|平方米|公里|千米|米|亩|年|个|家|座|条|台套|台|名|件|所|处|项)"
)
COUNT_UNITS = frozenset("个 家 座 条 台 台套 名 件 所 处 项".split())
LENGTH_UNITS = frozenset("公里 千米 米 km".split())


def units_agree(question: str, target: Target) -> bool:
    """"保有量要达到多少辆" is not answered by a percentage, nor "多少千伏" by kilometres."""
    asked = ASKED_UNIT.search(question)
    if not asked:
        return True
    unit = asked.group(1)
    return unit == target.unit or (unit in COUNT_UNITS and target.unit in COUNT_UNITS)


def kind_penalty(question: str, target: Target) -> float:
    """"多长" wants a length, "规模/多大" rarely a count: penalise figures of the wrong kind."""
    if re.search(r"多长|总长|长度", question) and target.unit not in LENGTH_UNITS:
        return 0.3
    if re.search(r"规模|多大", question) and target.unit in COUNT_UNITS and not re.search(r"几(个|座|家)|多少(个|座|家)", question):
        return 0.2
    return 0.0


def apply_synonyms(text: str) -> str:
    """Users' words → the plan's words (PUE → 电能利用效率, 占比/比例 → 比重), on both sides of a match."""
    for word, replacement in SYNONYMS.items():
        if replacement not in text:
            text = text.replace(word, replacement)
    return text


def _segment_of(target: Target) -> str:
    """The part of the sentence that states the figure (recorded at extraction)."""
    return target.segment or target.sentence


def _aliases_in(text: str) -> list[str]:
    aliases = unit_aliases()
    found = []
    for alias in sorted(aliases, key=len, reverse=True):
        if alias in text and not any(alias in f for f in found):
            found.append(alias)
    return found
