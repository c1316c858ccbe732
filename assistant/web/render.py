"""What the page shows, as HTML (pure functions, everything escaped), and the page's shared conventions."""

from __future__ import annotations

import html
import re
import string

from assistant.models import Answer, Citation

PRIVATE = "private"  # the page's events: not named in gradio's API page, not meant for gradio_client
ERROR_TITLE = "出错了"

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



def plain_text(text: str) -> str:
    """The user's own words shown as typed: every ASCII punctuation mark becomes a character reference.

    html.escape alone leaves markdown live: `![x](http://host/x.png)` would make the browser fetch
    an outside URL. A character reference is literal text to a markdown parser, and still displays.
    """
    return "".join(f"&#{ord(ch)};" if ch in string.punctuation else ch for ch in text)
