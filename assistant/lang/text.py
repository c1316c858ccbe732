"""Characters as plans and questions are compared: traditional folded to simplified, one for one.

The one converter for documents and questions alike: OpenCC's character table applied per
character, so a folded text is as long as its source and every offset stays valid.
"""

from __future__ import annotations

from functools import cache


@cache
def _converter():  # type: ignore[no-untyped-def]
    import opencc

    return opencc.OpenCC("t2s")


@cache
def simplified_char(ch: str) -> str:
    """One traditional character → its simplified form (itself when OpenCC would change the length)."""
    out = _converter().convert(ch)
    return out if len(out) == 1 else ch


def to_simplified(text: str) -> str:
    """Traditional → simplified one character for one (OpenCC's character table), so offsets stay valid."""
    if text.isascii():
        return text
    return "".join(simplified_char(ch) for ch in text)
