"""The chat (page and /embed): one question and answer, 👍/👎 with a comment, the status line while the index builds."""

from __future__ import annotations

import html
import logging

from assistant.errors import INTERNAL_ERROR, PlanqaError
from assistant.web.render import PRIVATE, plain_text, render_answer, render_error
from assistant.web.service import ServedAssistant

log = logging.getLogger(__name__)

# Shown only while an index is being built (never on a load when it is ready). No emoji anywhere on
# the page: ⏳/✅ render as empty boxes on machines without an emoji font; CSS draws the signs instead.
LOADING_TEXT = "正在建立索引（首次启动约需 20 秒），请稍候。此时提出的问题会保留在对话中，就绪后自动回答。"
WAITING_NOTE = "索引正在建立，就绪后将自动回答这个问题，请稍候……"
# After an answer the page (not an inner box) scrolls so the new question and the start of its answer show.
SHOW_LAST_TURN = """() => { requestAnimationFrame(() => {
  const users = document.querySelectorAll('#planqa-chat [data-testid="user"]');
  const last = users[users.length - 1];
  if (last) last.scrollIntoView({block: 'start', behavior: 'smooth'});
}); }"""


KEPT_MESSAGES = 200  # the chat a session keeps on the server: older turns drop off (the asking uses the last 10)
SHOWN_OF_LONG_QUESTION = 80


def question_limit(service) -> int:
    """The API's question length (settings.max_question_chars), so the page refuses what the API refuses."""
    from assistant.config import Settings

    return (getattr(getattr(service, "assistant", None), "settings", None) or Settings()).max_question_chars


def chat_turn(service, question: str, messages: list[dict], history: list[tuple[str, str]]):
    """One question: ask with the earlier turns (for follow-ups like "那2030年呢？"), append to the chat.

    Also returns the answer's audit id (None for an error), which 👍/👎 on that answer refers to.
    """
    question = (question or "").strip()
    messages = list(messages or [])[-KEPT_MESSAGES:]
    answer_id = None
    if not question:
        return "", messages, history, answer_id
    limit = question_limit(service)
    if len(question) > limit:  # the API's limit (settings.max_question_chars); never kept whole in the session
        shown = plain_text(question[:SHOWN_OF_LONG_QUESTION]) + "…"
        reply = render_error(f"问题过长 / the question is too long ({len(question):,} characters, at most {limit}): shorten it")
        return "", [*messages, {"role": "user", "content": shown}, {"role": "assistant", "content": reply}], history, None
    try:
        answer, answer_id = service.ask_recorded(question, history[-10:] or None, key_id="web", channel="web")
        reply = render_answer(answer, service.assistant.knowledge)
        history = [*history, (question, answer.answer)][-10:]  # what a follow-up is read with, and no more
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


def add_chat(gr, service, min_height: int, examples: list[str]) -> None:
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
                         elem_id="planqa-question", max_lines=4, min_width=160, container=False,
                         max_length=question_limit(service))
        send = gr.Button("提问", variant="primary", scale=1, elem_id="planqa-send", min_width=64)
    with gr.Row(equal_height=True):
        if examples:
            gr.Examples(examples=examples, inputs=[box], label="示例问题", api_visibility=PRIVATE)
    clear = gr.Button("清空对话", size="sm", elem_id="planqa-clear")

    def turn(question: str, messages: list[dict], pairs: list[tuple[str, str]]):
        """The question shows at once (with a waiting note while the index is built), then its answer."""
        if pending := pending_chat(service.assistant, question, messages):
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


def pending_chat(assistant: ServedAssistant, question: str, messages: list[dict] | None) -> list[dict]:
    """The chat while a question is being answered: the question itself, and while the index is still
    being built a note that the answer will come (else the question would vanish for ~30 s)."""
    asked = (question or "").strip()
    if not asked:
        return []
    pending = [*(messages or []), {"role": "user", "content": plain_text(asked)}]
    if not assistant.ready:
        pending.append({"role": "assistant", "content": f'<div class="planqa-waiting">{WAITING_NOTE}</div>'})
    return pending


def status_text(assistant: ServedAssistant) -> str:
    """What the status line says: nothing once the assistant is ready, else why answers wait."""
    if assistant.ready:
        return ""
    error = assistant.error
    if error:
        return f"启动失败，请管理员查看服务器日志 / the assistant failed to start: {html.escape(error)}"
    return LOADING_TEXT


def add_status_line(gr, page, service) -> None:
    """Says 正在建立索引 only while an index is being built: hidden at first, shown by the page's load
    event only if the assistant is not ready, then polled until it is (a ready page never flashes it)."""
    status = gr.HTML("", visible=False, elem_id="planqa-status")
    timer = gr.Timer(1.0, active=False)

    def poll():
        text = status_text(service.assistant)
        waiting = service.assistant.waiting
        return gr.HTML(text, visible=bool(text)), gr.Timer(active=waiting)

    quiet = {"api_visibility": PRIVATE, "show_progress": "hidden"}
    page.load(poll, None, [status, timer], **quiet)
    timer.tick(poll, None, [status, timer], **quiet)
