"""Stage 8, serve: the web page (gradio, Chinese UI) mounted on the portal API (FastAPI), one process.

    /           问答 (chat with citation cards), 目标台账 (ledger, timeline, workload, xlsx), 批量问答 (questionnaires)
    /embed      a compact chat for an <iframe> on the government portal
    /api/...    the portal API (assistant/web/api.py), OpenAPI at /docs

The index is built in a background thread, so the page is up at once and says 正在建立索引 while it is
built (only then); a question asked meanwhile stays in the chat with a waiting note and is answered once
the assistant is ready.
"""

from __future__ import annotations

import html
import logging
import os
import re
import shutil
import string
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from assistant.config import Settings, load_settings, settings_environ
from assistant.errors import INTERNAL_ERROR, IndexError_, PlanqaError, SettingsError
from assistant.facts.knowledge import KnowledgeAnswerer
from assistant.models import Answer, Citation, History, Starting
from assistant.web.ledger_views import LEDGER_CSS

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # no calls home from a government intranet

log = logging.getLogger(__name__)

TITLE = "政策规划问答助手"
# Questions that make sense for any carbon-peak plan (the page shows them as buttons).
EXAMPLES = [
    "到2025年非化石能源消费比重要达到多少？",
    "2030年非化石能源消费比重的目标是多少？",
    "老旧小区改造谁牵头？",
    "重点任务包括哪些行动？",
    "哪些任务要在2030年前完成？",
    "方案印发通知的文号是多少？",
    "省里和市里的森林覆盖率目标分别是多少？",
]
# System fonts only: the page must not fetch Google Fonts (intranets have no internet, and it is slow).
FONTS = ["PingFang SC", "Microsoft YaHei", "Noto Sans CJK SC", "Source Han Sans SC", "sans-serif"]
MAX_UPLOAD = "5mb"
# Files the page hands out (ledger xlsx, answered questionnaires) and gradio's copies of them and of
# uploads are removed after this long; a download link is for the caller who asked, not for ever.
WEB_FILE_MAX_AGE = 3600
PRIVATE = "private"  # the page's events: not named in gradio's API page, not meant for gradio_client
# Shown only while an index is being built (never on a load when it is ready). No emoji anywhere on
# the page: ⏳/✅ render as empty boxes on machines without an emoji font; CSS draws the signs instead.
LOADING_TEXT = "正在建立索引（首次启动约需 20 秒），请稍候。此时提出的问题会保留在对话中，就绪后自动回答。"
WAITING_NOTE = "索引正在建立，就绪后将自动回答这个问题，请稍候……"
ERROR_TITLE = "出错了"
# gradio chooses its own interface strings (toasts, upload hints) by the browser's language; the page is
# Chinese whatever language the browser reports, so the page tells gradio zh-CN before its code starts
# (`ChineseInterface`; gradio's own `head` option is applied only after the language is chosen).
LANGUAGE_SCRIPT = (
    "<script>(function(){var zh=function(){return 'zh-CN'},all=function(){return ['zh-CN','zh']};"
    "Object.defineProperty(Navigator.prototype,'language',{get:zh,configurable:true});"
    "Object.defineProperty(Navigator.prototype,'languages',{get:all,configurable:true});})();</script>"
)
# A filter box showing "全部" has its text selected on focus, so typing "发改局" replaces it (not "全部发改局").
ON_LOAD = """() => { document.addEventListener('focusin', (event) => {
  const box = event.target;
  if (box.matches && box.matches('.planqa-filter input')) setTimeout(() => box.select(), 0);
}); }"""
# After an answer the page (not an inner box) scrolls so the new question and the start of its answer show.
SHOW_LAST_TURN = """() => { requestAnimationFrame(() => {
  const users = document.querySelectorAll('#planqa-chat [data-testid="user"]');
  const last = users[users.length - 1];
  if (last) last.scrollIntoView({block: 'start', behavior: 'smooth'});
}); }"""

LAYOUT_CSS = """
.planqa-head h1 { font-size: 1.45em; margin: 0; display: inline; }
.planqa-head span { color: #4b5563; margin-left: 12px; font-size: 0.9em; }
#planqa-status { border-left: 4px solid #2563eb; background: #eff6ff; color: #1e3a8a; padding: 6px 12px; border-radius: 6px; }
#planqa-chat .bubble-wrap, #planqa-chat .panel-wrap { overflow: visible; height: auto; }
/* gradio's 32 px side margins, down to 6 px on a phone (a top-level rule: gradio scopes those in @media) */
.app { padding-left: clamp(6px, 4vw - 10px, 32px) !important; padding-right: clamp(6px, 4vw - 10px, 32px) !important; }
/* overflow:hidden on gradio's container would make it the sticky box's scroller; clip does not */
.gradio-container { overflow: clip !important; }
#planqa-input { position: sticky; bottom: 0; z-index: 20; background: var(--body-background-fill); padding: 6px 0; margin: 0; }
.planqa-waiting { color: #1e3a8a; }
.planqa-waiting::before, .planqa-abstain b::before, .planqa-error::before {
  content: ""; display: inline-block; width: 0.6em; height: 0.6em; border-radius: 50%; margin-right: 6px; vertical-align: 0.1em;
}
.planqa-waiting::before { background: #2563eb; animation: planqa-pulse 1s ease-in-out infinite alternate; }
.planqa-abstain b::before { background: #d97706; }
.planqa-error::before { background: #b91c1c; }
/* gradio 6 titles its toasts with the English type name ("Error") and ignores gr.Error(title=…): draw ours */
.toast-title.error, .toast-title.warning, .toast-title.info { font-size: 0 !important; }
.toast-title.error::before { content: "出错了"; font-size: var(--text-md); }
.toast-title.warning::before { content: "注意"; font-size: var(--text-md); }
.toast-title.info::before { content: "提示"; font-size: var(--text-md); }
@keyframes planqa-pulse { from { opacity: 0.25; } to { opacity: 1; } }
@media (max-width: 640px) {
  .planqa-head span { display: block; margin: 2px 0 0; }
}
"""

CSS = """
.planqa-answer { line-height: 1.7; }
.planqa-abstain { border-left: 4px solid #d97706; background: #fffbeb; color: #78350f; padding: 8px 12px; border-radius: 6px; }
.planqa-abstain b { display: block; margin-bottom: 4px; }
.planqa-card { border: 1px solid #d1d5db; border-radius: 8px; padding: 8px 12px; margin-top: 8px; background: #f9fafb; color: #111827; }
.planqa-section { font-size: 0.85em; color: #1d4ed8; font-weight: 600; }
.planqa-quote { margin: 4px 0; padding-left: 8px; border-left: 3px solid #93c5fd; }
.planqa-card mark { background: #fde68a; color: inherit; padding: 0 2px; border-radius: 2px; }
.planqa-card details summary { cursor: pointer; font-size: 0.85em; color: #4b5563; }
.planqa-context { font-size: 0.9em; margin-top: 4px; }
.planqa-context mark.planqa-cited { background: #dbeafe; }
.planqa-error { color: #b91c1c; }
""" + LAYOUT_CSS + LEDGER_CSS
EMBED_CSS = CSS + """
footer { display: none !important; }
.gradio-container { padding: 4px 6px !important; }
"""


# ---------------------------------------------------------------- background start


class BackgroundAssistant:
    """The Assistant, built in a thread: the page starts at once and can say why answers wait.

    Has the Assistant's surface (`ask`, `knowledge`) so the API and the page take either.
    """

    def __init__(
        self, settings: Settings, factory: Callable[[Settings], KnowledgeAnswerer] | None = None, wait_seconds: float = 600
    ) -> None:
        self.settings = settings
        self.wait_seconds = wait_seconds  # how long a question waits for the index before it is told to retry
        self._factory = factory or _build_assistant
        self._done = threading.Event()
        self._assistant: KnowledgeAnswerer | None = None
        self.error: str | None = None
        self.status = "正在建立索引 / building the index"

    def start(self) -> BackgroundAssistant:
        threading.Thread(target=self._build, name="planqa-index", daemon=True).start()
        return self

    def _build(self) -> None:
        started = time.monotonic()
        print("正在加载或建立索引 / loading or building the index …", file=sys.stderr, flush=True)
        try:
            self._assistant = self._factory(self.settings)
            self.status = f"就绪 / ready ({time.monotonic() - started:.1f}s)"
        except Exception as exc:  # shown on the page and in /api/health instead of a dead server
            log.exception("building the assistant failed")
            self.error = f"{type(exc).__name__}: {exc}"
            self.status = f"启动失败 / failed: {self.error}"
        print(self.status, file=sys.stderr, flush=True)
        self._done.set()

    @property
    def ready(self) -> bool:
        return self._done.is_set() and self._assistant is not None

    def get(self) -> KnowledgeAnswerer:
        if not self._done.wait(self.wait_seconds):
            raise IndexError_("索引仍在建立 / the index is still being built; try again shortly")
        if self._assistant is None:
            raise IndexError_(f"{self.status} — 请管理员查看日志 / the administrator should check the server log")
        return self._assistant

    def ask(self, question: str, history: History | None = None) -> Answer:
        return self.get().ask(question, history=history)

    @property
    def knowledge(self):
        return self.get().knowledge


def _build_assistant(settings: Settings) -> KnowledgeAnswerer:
    from assistant.answer import Assistant

    return Assistant.from_settings(settings, progress=True)


# ---------------------------------------------------------------- rendering (pure, HTML-escaped)

FIGURE = re.compile(r"\d+(?:\.\d+)?%?")


def highlight_figures(quote: str, answer_text: str) -> str:
    """Escape `quote` and <mark> the figures it shares with the answer, so the eye finds 27% at once.

    Escaping happens per piece, after matching: escaping first would turn ' into &#x27; and its
    digits could then be "highlighted" inside the entity.
    """
    quote = _join_page_breaks(quote)
    wanted = set(FIGURE.findall(answer_text))
    out, last = [], 0
    for match in FIGURE.finditer(quote):
        heading_number = match.start() == 0 and quote[match.end() : match.end() + 1] in (".", "．", "、")
        if match.group() in wanted and not heading_number:
            out += [html.escape(quote[last : match.start()]), f"<mark>{html.escape(match.group())}</mark>"]
            last = match.end()
    out.append(html.escape(quote[last:]))
    return "".join(out)


def _join_page_breaks(text: str) -> str:
    """Display only: a page break inside a verbatim quote ("围护结\n\n构") would show as a new paragraph."""
    return re.sub(r"[ \t]*\n\s*", "", text)


def clause_context(knowledge, citation: Citation) -> str:
    """The whole clause around a citation, the cited part marked: "open the clause in context"."""
    try:
        clause = knowledge.clause(citation.clause_id)
    except KeyError:
        return ""
    text = knowledge.quote(clause.doc, clause.start, clause.end)
    start, end = citation.start - clause.start, citation.end - clause.start
    if not (0 <= start <= end <= len(text)):
        return html.escape(_join_page_breaks(text))
    before, cited, after = (_join_page_breaks(part) for part in (text[:start], text[start:end], text[end:]))
    return f'{html.escape(before)}<mark class="planqa-cited">{html.escape(cited)}</mark>{html.escape(after)}'



def citation_card(knowledge, citation: Citation, answer_text: str, number: int) -> str:
    section = html.escape(citation.section.replace(" > ", " › "))
    context = clause_context(knowledge, citation)
    details = (
        f'<details><summary>查看条款全文（{html.escape(citation.clause_id)}）</summary>'
        f'<div class="planqa-context">{context}</div></details>'
        if context
        else ""
    )
    return (
        f'<div class="planqa-card"><div class="planqa-section">[{number}] {section}</div>'
        f'<div class="planqa-quote">“{highlight_figures(citation.quote, answer_text)}”</div>{details}</div>'
    )


def render_answer(answer: Answer, knowledge) -> str:
    """An answer as one HTML block: the text (or a clear 方案中未明确 notice), then a card per citation."""
    body = html.escape(answer.answer).replace("\n", "<br>")
    if answer.abstained:
        head = f'<div class="planqa-abstain"><b>方案中未明确</b>{body}</div>'
        label = '<div class="planqa-section" style="margin-top:8px">相关条款（仅供参考）</div>' if answer.citations else ""
    else:
        head, label = f'<div class="planqa-answer">{body}</div>', ""
    cards = "".join(citation_card(knowledge, c, answer.answer, i) for i, c in enumerate(answer.citations, 1))
    # one line: the chatbot's markdown pass must not read indentation as a code block
    return f"{head}{label}{cards}"


def render_error(message: str) -> str:
    return f'<div class="planqa-error">{html.escape(message)}</div>'


# ---------------------------------------------------------------- the page


def chat_turn(service, question: str, messages: list[dict], history: list[tuple[str, str]]):
    """One question: ask with the earlier turns (for follow-ups like "那2030年呢？"), append to the chat.

    Also returns the answer's audit id (None for an error), which 👍/👎 on that answer refers to.
    """
    question = (question or "").strip()
    messages = list(messages or [])
    answer_id = None
    if not question:
        return "", messages, history, answer_id
    try:
        answer, answer_id = service.ask_recorded(question, history[-10:] or None, key_id="web", channel="web")
        reply = render_answer(answer, service.knowledge)
        history = [*history, (question, answer.answer)]
    except PlanqaError as exc:  # rejected question, or index not ready: the message says which
        reply = render_error(str(exc))
    except Exception:  # a bug: logged, and not blamed on the question
        log.exception("internal error answering %r", question[:80])
        reply = render_error(INTERNAL_ERROR)
    messages += [{"role": "user", "content": plain_text(question)}, {"role": "assistant", "content": reply}]
    return "", messages, history, answer_id


FEEDBACK_THANKS = "已记录：有用。谢谢！"
FEEDBACK_ASK_WHY = "已记录：有误。可在下方写明哪里不对或正确答案（选填），帮助我们改进。"
FEEDBACK_COMMENT_THANKS = "已收到您的意见，谢谢！"


ANSWER_ID = "planqa_answer_id"  # the key under which the server's copy of the chat keeps each answer's id


def rate_answer(service, messages: list[dict], index: object, liked: object) -> str | None:
    """👍/👎 on a shown message (the chatbot's like event): recorded at once; returns the answer id
    the comment box is then about (after 👎), else None. A click that un-rates is ignored."""
    rating = (1 if liked else -1) if isinstance(liked, bool) else None
    position = index[0] if isinstance(index, list | tuple) else index
    if rating is None or not isinstance(position, int) or not 0 <= position < len(messages):
        return None
    answer_id = messages[position].get(ANSWER_ID)
    if answer_id is None:  # an error message or the user's own question: nothing to rate
        return None
    service.audit.feedback(answer_id, rating, None, caller="web", channel="web")
    return answer_id if rating < 0 else None


def comment_answer(service, answer_id: str | None, comment: str) -> bool:
    """The optional comment after 👎; True when there was one to record."""
    if not answer_id or not (comment or "").strip():
        return False
    service.audit.feedback(answer_id, -1, comment, caller="web", channel="web")
    return True


def plain_text(text: str) -> str:
    """The user's own words shown as typed: every ASCII punctuation mark becomes a character reference.

    html.escape alone leaves markdown live: `![x](http://host/x.png)` would make the browser fetch
    an outside URL. A character reference is literal text to a markdown parser, and still displays.
    """
    return "".join(f"&#{ord(ch)};" if ch in string.punctuation else ch for ch in text)


def web_files(root: Path, max_age: float = WEB_FILE_MAX_AGE) -> Path:
    """A fresh folder for one caller's file, under `root`; folders older than `max_age` are removed."""
    root.mkdir(parents=True, exist_ok=True)
    cutoff = time.time() - max_age
    for old in root.iterdir():
        try:
            if old.stat().st_mtime < cutoff:
                shutil.rmtree(old, ignore_errors=True)
        except OSError:  # removed by a concurrent call
            continue
    return Path(tempfile.mkdtemp(dir=root))


def own_upload(path: str | None) -> Path:
    """The questionnaire only if it is a file gradio received as an upload (its upload folder), else refuse.

    gradio checks this itself once the app counts as launched (see `enforce_gradio_path_checks`);
    this check holds even if that ever changes: batch must never read a file of the server's own.
    """
    from gradio.utils import get_upload_folder

    if not path:
        raise ValueError("请先上传文件 / upload a file first")
    source = Path(path).resolve()
    if not source.is_relative_to(Path(get_upload_folder()).resolve()) or not source.is_file():
        raise ValueError("只能处理本次上传的文件 / only a file uploaded here can be answered: upload it again")
    return source


def _chat_widgets(gr, service, min_height: int, examples: list[str]) -> None:
    """The chatbot, the input box and its wiring: shared by the main page and /embed.

    The chat grows with its messages and the page scrolls (no box scrolling inside the page); the
    question box stays pinned to the bottom of the window (CSS `#planqa-input`), so it is always in view.
    """
    chatbot = gr.Chatbot(
        label="问答", height=None, latex_delimiters=[], feedback_options=("Like", "Dislike"), elem_id="planqa-chat", line_breaks=False,
        placeholder="请输入关于已载入方案的问题，可点名地区或方案，如“省里2025年非化石能源比重要求是多少？”",
        show_label=False, min_height=min_height, max_height=None, autoscroll=False,
    )
    history = gr.State([])
    shown = gr.State([])  # the chat as displayed, kept on the server: the browser never sends it back
    with gr.Row(elem_id="planqa-input", equal_height=True):
        box = gr.Textbox(placeholder="例如：2030年非化石能源消费比重的目标是多少？", show_label=False, scale=5,
                         elem_id="planqa-question", max_lines=4, min_width=160, container=False)
        send = gr.Button("提问", variant="primary", scale=1, elem_id="planqa-send", min_width=64)
    with gr.Row(equal_height=True):
        if examples:
            gr.Examples(examples=examples, inputs=[box], label="示例问题", api_visibility=PRIVATE)
    clear = gr.Button("清空对话", size="sm", elem_id="planqa-clear")

    def turn(question: str, messages: list[dict], pairs: list[tuple[str, str]]):
        """The question shows at once (with a waiting note while the index is built), then its answer."""
        if pending := pending_chat(service, question, messages):
            yield "", pending, messages, pairs
        box_text, messages, pairs, answer_id = chat_turn(service, question, messages, pairs)
        if answer_id:  # kept with the server's copy only, for 👍/👎 on this answer
            messages[-1] = {**messages[-1], ANSWER_ID: answer_id}
        yield box_text, [{k: v for k, v in m.items() if k != ANSWER_ID} for m in messages], messages, pairs

    outputs = [box, chatbot, shown, history]
    quiet = {"api_visibility": PRIVATE, "show_progress": "hidden"}  # gradio's tracker says "processing | 3.1s"
    box.submit(turn, [box, shown, history], outputs, **quiet).then(None, js=SHOW_LAST_TURN, **quiet)
    send.click(turn, [box, shown, history], outputs, **quiet).then(None, js=SHOW_LAST_TURN, **quiet)
    clear.click(lambda: ([], [], []), None, [chatbot, shown, history], **quiet)
    _feedback_widgets(gr, service, chatbot, shown)


def _feedback_widgets(gr, service, chatbot, shown) -> None:
    """👍/👎 on each answer (the chatbot's own buttons); after 👎 an optional comment box."""
    rated = gr.State(None)  # the answer the comment box is about
    note = gr.Markdown("", elem_id="planqa-feedback-note")
    with gr.Row(visible=False) as comment_row:
        comment = gr.Textbox(placeholder="这条回答哪里不对？可写下正确答案或出处（选填）", show_label=False, scale=5,
                             max_lines=4, max_length=2000, elem_id="planqa-feedback-comment")
        submit = gr.Button("提交意见", scale=1, elem_id="planqa-feedback-send")

    def on_like(messages: list[dict], data):
        index, liked = (data.index, data.liked) if data is not None else (None, None)  # None: sent by a script
        answer_id = rate_answer(service, messages or [], index, liked)
        if answer_id:
            return answer_id, FEEDBACK_ASK_WHY, gr.Row(visible=True), ""
        return None, FEEDBACK_THANKS if liked is True else "", gr.Row(visible=False), ""

    # gradio passes the clicked message by this annotation, and must see the class itself: a string
    # annotation ("gr.LikeData", under `from __future__ import annotations`) names a local it cannot resolve.
    on_like.__annotations__["data"] = gr.LikeData

    def on_comment(answer_id: str | None, text: str):
        said = comment_answer(service, answer_id, text)
        return None, FEEDBACK_COMMENT_THANKS if said else "", gr.Row(visible=False), ""

    chatbot.like(on_like, [shown], [rated, note, comment_row, comment], api_visibility=PRIVATE, show_progress="hidden")
    submit.click(on_comment, [rated, comment], [rated, note, comment_row, comment], api_visibility=PRIVATE, show_progress="hidden")
    comment.submit(on_comment, [rated, comment], [rated, note, comment_row, comment], api_visibility=PRIVATE, show_progress="hidden")


def pending_chat(service, question: str, messages: list[dict] | None) -> list[dict]:
    """The chat while a question is being answered: the question itself, and while the index is still
    being built a note that the answer will come (else the question would vanish for ~30 s)."""
    asked = (question or "").strip()
    if not asked:
        return []
    pending = [*(messages or []), {"role": "user", "content": plain_text(asked)}]
    if not service.ready:
        pending.append({"role": "assistant", "content": f'<div class="planqa-waiting">{WAITING_NOTE}</div>'})
    return pending


def status_text(service) -> str:
    """What the status line says: nothing once the assistant is ready, else why answers wait."""
    if service.ready:
        return ""
    error = service.assistant.error if isinstance(service.assistant, Starting) else None
    if error:
        return f"启动失败，请管理员查看服务器日志 / the assistant failed to start: {html.escape(error)}"
    return LOADING_TEXT


def _status_line(gr, page, service) -> None:
    """Says 正在建立索引 only while an index is being built: hidden at first, shown by the page's load
    event only if the assistant is not ready, then polled until it is (a ready page never flashes it)."""
    status = gr.HTML("", visible=False, elem_id="planqa-status")
    timer = gr.Timer(1.0, active=False)

    def poll():
        text = status_text(service)
        waiting = bool(text) and not (isinstance(service.assistant, Starting) and service.assistant.error)
        return gr.HTML(text, visible=bool(text)), gr.Timer(active=waiting)

    quiet = {"api_visibility": PRIVATE, "show_progress": "hidden"}
    page.load(poll, None, [status, timer], **quiet)
    timer.tick(poll, None, [status, timer], **quiet)


def _ledger_tab(gr, knowledge, files_root: Path) -> None:
    """目标台账: every numeric target, filterable by plan, action, unit and year, with a timeline by year
    and each unit's workload; the table turns into cards on a phone; downloadable as xlsx."""
    from assistant.facts.knowledge import ledger_rows
    from assistant.lang.agencies import canonical_unit
    from assistant.office.ledger import write_ledger
    from assistant.office.report import ledger_report
    from assistant.web import ledger_views as views

    rows = ledger_rows(knowledge)
    everything = [("全部", "")]
    plans = everything + views.plan_choices(knowledge)
    actions = everything + [(a, a) for a in dict.fromkeys(r.action for r in rows)]
    units = everything + views.unit_choices((u for r in rows for u in r.units), knowledge.unit_aliases)
    years = everything + [(y, y) for y in sorted({str(r.year) for r in rows if r.year})]

    def filtered(plan: str, action: str, unit: str, year: str):
        chosen = views.rows_of_plan(knowledge, ledger_rows(knowledge, action=action, unit=unit, year=_year(year)), plan or "")
        folder = web_files(files_root)  # one folder per call: callers never share a link
        path, report = folder / "目标台账.xlsx", folder / "目标台账报告.docx"
        write_ledger(chosen, path, "xlsx")
        report.write_bytes(ledger_report(knowledge, chosen))
        loads = views.workload_chart(views.workloads(knowledge, doc=plan or "", action=action or ""),
                                     chosen=canonical_unit(unit) if unit else "")
        return (views.ledger_table(chosen), views.timeline(chosen), loads, str(path), str(report),
                f"共 {len(chosen)} 项目标")

    with gr.Row():
        plan = gr.Dropdown(plans, value="", label="方案", elem_id="planqa-ledger-plan", elem_classes="planqa-filter", min_width=240)
        action = gr.Dropdown(actions, value="", label="行动", elem_id="planqa-ledger-action", elem_classes="planqa-filter", min_width=240)
        unit = gr.Dropdown(units, value="", label="责任单位（可输入简称，如 发改局）", allow_custom_value=True,
                           elem_id="planqa-ledger-unit", elem_classes="planqa-filter", min_width=240)
        year = gr.Dropdown(years, value="", label="年份", elem_id="planqa-ledger-year", elem_classes="planqa-filter", min_width=240)
    first_table, first_timeline, first_loads, first_path, first_report, first_count = filtered("", "", "", "")
    with gr.Row():
        count = gr.Markdown(first_count, elem_id="planqa-ledger-count")
        download = gr.DownloadButton("下载 xlsx", value=first_path, size="sm", scale=0, min_width=120)
        report = gr.DownloadButton("下载报告（Word）", value=first_report, size="sm", scale=0, min_width=150,
                                   elem_id="planqa-ledger-report")
    with gr.Row():  # side by side on a wide screen, one above the other on a phone
        with gr.Column(min_width=340):
            years_view = gr.HTML(first_timeline, elem_id="planqa-ledger-timeline", min_height=0)
        with gr.Column(min_width=340):
            loads_view = gr.HTML(first_loads, elem_id="planqa-ledger-workload", min_height=0)
    table = gr.HTML(first_table, elem_id="planqa-ledger-table", min_height=0)
    controls = [plan, action, unit, year]
    for control in controls:
        control.change(filtered, controls, [table, years_view, loads_view, download, report, count],
                       api_visibility=PRIVATE, show_progress="hidden")


def _year(text: str | None) -> int | None:
    return int(text) if text and text.isdigit() else None


def _batch_tab(gr, service, files_root: Path) -> None:
    """批量问答: upload a questionnaire, watch the progress, download the answered copy."""
    gr.Markdown("上传 xlsx 或 csv 问卷（需有“问题”列，≤5 MB）。结果保留原有各行各列，并新增：答案、出处章节、原文摘录、置信度、方案是否明确。")
    with gr.Row():
        upload = gr.File(label="问卷文件", file_types=[".xlsx", ".csv"], type="filepath")
        with gr.Column():
            column = gr.Textbox(value="问题", label="问题所在列的列名")
            sheet = gr.Textbox(value="", label="工作表名（可留空）")
            run = gr.Button("开始批量问答", variant="primary")
    summary = gr.Markdown(elem_id="planqa-batch-summary")
    result = gr.File(label="下载结果")

    def answer_file(path: str | None, column_name: str, sheet_name: str):
        """Progress is written into the summary line (gradio's own tracker shows English words)."""
        try:
            source = own_upload(path)
            target = web_files(files_root) / f"{source.stem}_答案{source.suffix.lower()}"
            for progress_text, report in _batch_progress(service, source, target, column_name, sheet_name):
                yield (progress_text, None) if report is None else (batch_summary(report), str(target))
        except (PlanqaError, ValueError) as exc:  # a file without the column, not xlsx/csv…: the message says what to do
            yield f"未完成：{exc}", None
            raise gr.Error(str(exc), title=ERROR_TITLE) from exc
        except Exception as exc:
            log.exception("internal error in a batch upload")
            yield f"未完成：{INTERNAL_ERROR}", None
            raise gr.Error(INTERNAL_ERROR, title=ERROR_TITLE) from exc

    run.click(answer_file, [upload, column, sheet], [summary, result], api_visibility=PRIVATE, show_progress="hidden")


def _batch_progress(service, source: Path, target: Path, column: str, sheet: str):
    """Runs the questionnaire in a thread; yields ("已完成 3/10", None) while it runs, then ("", report)."""
    import queue

    from assistant.office.questionnaire import answer_questionnaire

    updates: queue.Queue = queue.Queue()
    outcome: dict[str, Any] = {}

    def work() -> None:
        try:
            outcome["report"] = answer_questionnaire(
                service.asker("web", "batch"), source, target, column=column.strip() or "问题",
                sheet=sheet.strip() or None, progress=False, on_progress=lambda done, total: updates.put((done, total)),
            )
        except BaseException as exc:  # re-raised in the page's thread below
            outcome["error"] = exc
        updates.put(None)

    threading.Thread(target=work, name="planqa-batch", daemon=True).start()
    yield "正在读取问卷……", None
    while (update := updates.get()) is not None:
        yield f"正在回答：已完成 {update[0]}/{update[1]} 题", None
    if "error" in outcome:
        raise outcome["error"]
    yield "", outcome["report"]


def batch_summary(report) -> str:
    """The page's line for a finished questionnaire, skipped rows included (they are not failures)."""
    text = (f"完成：共 {report.rows} 题，回答 {report.answered} 题（其中方案中未明确 {report.abstained} 题），"
            f"跳过 {report.skipped} 行（无问题的空行、合计或说明），出错 {report.errors} 题。")
    if report.skipped_rows:
        text += f"跳过的行：{'、'.join(map(str, report.skipped_rows[:20]))}{' 等' if len(report.skipped_rows) > 20 else ''}。"
    return text


def build_page(service, knowledge, files_root: Path | None = None):
    """The main page: 问答, 目标台账, 批量问答 tabs."""
    import gradio as gr

    files_root = files_root or Path(tempfile.mkdtemp(prefix="planqa-web-"))
    with gr.Blocks(title=TITLE, analytics_enabled=False, delete_cache=(WEB_FILE_MAX_AGE, WEB_FILE_MAX_AGE)) as page:
        gr.HTML(f'<div class="planqa-head"><h1>{TITLE}</h1><span>国家、省、市、县各级规划方案 · 每个答案均附原文出处（方案、章节与原句）</span></div>',
                min_height=0)
        _status_line(gr, page, service)
        with gr.Tabs():
            with gr.Tab("问答"):
                _chat_widgets(gr, service, min_height=300, examples=EXAMPLES)
            with gr.Tab("目标台账"):
                _ledger_tab(gr, knowledge, files_root)
            with gr.Tab("批量问答"):
                _batch_tab(gr, service, files_root)
        gr.Markdown("接口文档见 [/docs](/docs)；嵌入门户网站请用 `<iframe src=\"…/embed\">`。")
    return page


def build_embed(service):
    """/embed: only the chat, compact, for an <iframe> on the portal (fits 420×640 as loaded)."""
    import gradio as gr

    with gr.Blocks(title=TITLE, analytics_enabled=False, delete_cache=(WEB_FILE_MAX_AGE, WEB_FILE_MAX_AGE)) as embed:
        _status_line(gr, embed, service)
        _chat_widgets(gr, service, min_height=220, examples=EXAMPLES[:3])
    return embed


def build_app(settings: Settings, assistant: KnowledgeAnswerer | None = None):
    """The one ASGI app: API routes first, then /embed, then the page at / (routes match in order)."""
    import gradio as gr

    from assistant.facts.knowledge import load_knowledge
    from assistant.web.api import create_app

    assistant = assistant if assistant is not None else BackgroundAssistant(settings).start()
    app = create_app(assistant, settings)
    service = app.state.service
    # The ledger needs only the parsed plan (0.1 s), not the index: the tab works while it builds.
    knowledge = assistant.knowledge if service.ready else load_knowledge(settings.corpus_dir)
    theme = gr.themes.Soft(font=FONTS, font_mono=["Consolas", "monospace"])
    common = {"max_file_size": MAX_UPLOAD, "theme": theme, "footer_links": [], "js": ON_LOAD, **page_access(settings, app.state.api_keys)}
    embed, page = build_embed(service), build_page(service, knowledge)
    gr.mount_gradio_app(app, embed, path="/embed", css=EMBED_CSS, **common)
    gr.mount_gradio_app(app, page, path="/", css=CSS, **common)
    enforce_gradio_path_checks(embed, page)
    app.add_middleware(ChineseInterface, paths=("/", "/embed", "/embed/"))
    return app


class ChineseInterface:
    """Puts `LANGUAGE_SCRIPT` at the top of the page's HTML (/ and /embed), before gradio's own scripts."""

    def __init__(self, app, paths: tuple[str, ...]) -> None:
        self.app = app
        self.paths = set(paths)

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http" or scope.get("method") != "GET" or scope.get("path") not in self.paths:
            await self.app(scope, receive, send)
            return
        start: dict = {}
        body: list[bytes] = []

        async def rewrite(message) -> None:
            if message["type"] == "http.response.start":
                start.update(message)
            elif message["type"] == "http.response.body":
                body.append(message.get("body", b""))
                if not message.get("more_body"):
                    await _send_with_language(send, start, b"".join(body))
            else:
                await send(message)

        await self.app(scope, receive, rewrite)


async def _send_with_language(send, start: dict, body: bytes) -> None:
    headers = [(k, v) for k, v in start.get("headers", []) if k.lower() != b"content-length"]
    types = {k.lower(): v for k, v in headers}
    if b"text/html" in types.get(b"content-type", b"") and b"content-encoding" not in types and b"<head>" in body:
        body = body.replace(b"<head>", b"<head>" + LANGUAGE_SCRIPT.encode(), 1)
    await send({**start, "headers": [*headers, (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


def enforce_gradio_path_checks(*blocks) -> None:
    """Turn on gradio's own file checks for mounted apps.

    gradio refuses a file path it did not receive as an upload (inputs) or that lies outside its
    allowed folders (outputs) only once `has_launched` is set, which `launch()` does and
    `mount_gradio_app` does not: without this, any path sent by a client is copied and served.
    """
    for block in blocks:
        block.has_launched = True


def page_access(settings: Settings, api_keys: list[bytes]) -> dict[str, Any]:
    """How the page (/ and /embed, with their gradio API) is protected: one policy with /api.

    - `PLANQA_TRUSTED_USER_HEADER` (e.g. X-Forwarded-User): a reverse proxy has logged the user in and
      names them in this header; a request without it gets 401. Only for a server reachable solely
      through that proxy, which must overwrite the header.
    - else, with `PLANQA_API_KEYS`: gradio's login page; the password is one of the keys.
    - else: open, like the API.
    """
    header = settings.trusted_user_header
    if header:
        return {"auth_dependency": lambda request: request.headers.get(header) or None}
    if api_keys:
        from assistant.web.api import matches_key

        return {"auth": lambda _user, password: matches_key(password, api_keys),
                "auth_message": "请输入用户名（任意）和API密钥 / any user name, and an API key as the password"}
    return {}


def app_from_env():
    """For `uvicorn --factory` workers: settings from PLANQA_* variables (set by `planqa serve`)."""
    return build_app(load_settings())


# ---------------------------------------------------------------- starting it


def serve(settings: Settings, host: str = "127.0.0.1", port: int = 7860, workers: int = 1) -> None:
    import uvicorn

    from assistant.audit import AuditStore

    AuditStore.from_settings(settings).close()  # a bad audit place: one clear error, before any build or worker
    if workers > 1 and settings.store == "milvus" and not settings.milvus_uri:
        raise SettingsError("milvus-lite 只能由一个进程打开 / milvus-lite opens its file from one process only: use "
                            "--workers 1, or set PLANQA_MILVUS_URI to a Milvus server that all workers share")
    print(f"{TITLE}: http://{host}:{port}/  (API 文档 /docs, 嵌入页 /embed)", file=sys.stderr, flush=True)
    if workers <= 1:
        uvicorn.run(build_app(settings), host=host, port=port)
        return
    # Workers are separate processes: build the index once first, so they only load it. In a child
    # process: the model it loads (~1 GB) must not stay resident in this parent, which only supervises.
    import multiprocessing

    builder = multiprocessing.get_context("spawn").Process(target=_build_assistant, args=(settings,), name="planqa-index")
    builder.start()
    builder.join()
    if builder.exitcode != 0:
        raise IndexError_(f"建立索引失败 / building the index failed (exit code {builder.exitcode}); see the messages above")
    os.environ.update(settings_environ(settings))  # the workers read their settings from the environment
    uvicorn.run("assistant.web.page:app_from_env", factory=True, host=host, port=port, workers=workers)
