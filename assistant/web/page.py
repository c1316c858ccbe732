"""The web page's layout (gradio, Chinese UI): its tabs, /embed's compact chat, the CSS.

    /           问答 (chat with citation cards), 目标台账 (ledger, timeline, workload, xlsx), 批量问答 (questionnaires)
    /embed      a compact chat for an <iframe> on the government portal
    /api/...    the portal API (assistant/web/api.py), OpenAPI at /docs; both mounted by assistant/web/app.py

The index is built in a background thread, so the page is up at once and says 正在建立索引 while it is
built (only then); a question asked meanwhile stays in the chat with a waiting note and is answered once
the assistant is ready.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from assistant.web.batch_tab import add_batch_tab
from assistant.web.chat import add_chat, add_status_line
from assistant.web.files import WEB_FILE_MAX_AGE
from assistant.web.ledger_tab import add_ledger_tab
from assistant.web.ledger_views import LEDGER_CSS

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # no calls home from a government intranet

TITLE = "政策规划问答助手"
# Questions that make sense for any carbon-peak plan (the page shows them as buttons): each is about the
# loaded plan itself — a button asking about 省里 or 市里 would lead a district's users to a plan not loaded.
EXAMPLES = [
    "到2025年非化石能源消费比重要达到多少？",
    "2030年非化石能源消费比重的目标是多少？",
    "老旧小区改造谁牵头？",
    "重点任务包括哪些行动？",
    "哪些任务要在2030年前完成？",
    "方案印发通知的文号是多少？",
]
# System fonts only: the page must not fetch Google Fonts (intranets have no internet, and it is slow).
FONTS = ["PingFang SC", "Microsoft YaHei", "Noto Sans CJK SC", "Source Han Sans SC", "sans-serif"]
MAX_UPLOAD = "5mb"
# A filter box showing "全部" has its text selected on focus, so typing "发改局" replaces it (not "全部发改局").
ON_LOAD = """() => { document.addEventListener('focusin', (event) => {
  const box = event.target;
  if (box.matches && box.matches('.planqa-filter input')) setTimeout(() => box.select(), 0);
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

def build_page(service, knowledge, files_root: Path | None = None):
    """The main page: 问答, 目标台账, 批量问答 tabs."""
    import gradio as gr

    files_root = files_root or Path(tempfile.mkdtemp(prefix="planqa-web-"))
    with gr.Blocks(title=TITLE, analytics_enabled=False, delete_cache=(WEB_FILE_MAX_AGE, WEB_FILE_MAX_AGE)) as page:
        gr.HTML(f'<div class="planqa-head"><h1>{TITLE}</h1><span>国家、省、市、县各级规划方案 · 每个答案均附原文出处（方案、章节与原句）</span></div>',
                min_height=0)
        add_status_line(gr, page, service)
        with gr.Tabs():
            with gr.Tab("问答"):
                add_chat(gr, service, min_height=300, examples=EXAMPLES)
            with gr.Tab("目标台账"):
                add_ledger_tab(gr, knowledge, files_root)
            with gr.Tab("批量问答"):
                add_batch_tab(gr, service, files_root)
        gr.Markdown("接口文档见 [/docs](/docs)；嵌入门户网站请用 `<iframe src=\"…/embed\">`。")
    return page


def build_embed(service):
    """/embed: only the chat, compact, for an <iframe> on the portal (fits 420×640 as loaded)."""
    import gradio as gr

    with gr.Blocks(title=TITLE, analytics_enabled=False, delete_cache=(WEB_FILE_MAX_AGE, WEB_FILE_MAX_AGE)) as embed:
        add_status_line(gr, embed, service)
        add_chat(gr, service, min_height=220, examples=EXAMPLES[:3])
    return embed
