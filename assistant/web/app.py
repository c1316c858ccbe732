"""The one process: the portal API with the page at / and the chat at /embed mounted on it, served by uvicorn."""

from __future__ import annotations

import os
import sys
from typing import Any

from assistant.config import Settings, load_settings, settings_environ
from assistant.errors import IndexError_, SettingsError
from assistant.web.page import CSS, EMBED_CSS, FONTS, MAX_UPLOAD, ON_LOAD, TITLE, build_embed, build_page
from assistant.web.service import ServedAssistant, build_assistant

# gradio chooses its own interface strings (toasts, upload hints) by the browser's language; the page is
# Chinese whatever language the browser reports, so the page tells gradio zh-CN before its code starts
# (`ChineseInterface`; gradio's own `head` option is applied only after the language is chosen).
LANGUAGE_SCRIPT = (
    "<script>(function(){var zh=function(){return 'zh-CN'},all=function(){return ['zh-CN','zh']};"
    "Object.defineProperty(Navigator.prototype,'language',{get:zh,configurable:true});"
    "Object.defineProperty(Navigator.prototype,'languages',{get:all,configurable:true});})();</script>"
)


def build_app(settings: Settings, assistant: ServedAssistant | None = None):
    """The one ASGI app: API routes first, then /embed, then the page at / (routes match in order).

    Without `assistant`, the Assistant is built in the background (the page is up at once).
    """
    import gradio as gr

    from assistant.facts.knowledge import load_knowledge
    from assistant.web.api import create_app

    assistant = assistant if assistant is not None else ServedAssistant(settings).start()
    app = create_app(assistant, settings)
    service = app.state.service
    # The ledger needs only the parsed plan (0.1 s), not the index: the tab works while it builds.
    knowledge = assistant.knowledge if assistant.ready else load_knowledge(settings.corpus_dir)
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
        from assistant.web.security import matches_key

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

    builder = multiprocessing.get_context("spawn").Process(target=build_assistant, args=(settings,), name="planqa-index")
    builder.start()
    builder.join()
    if builder.exitcode != 0:
        raise IndexError_(f"建立索引失败 / building the index failed (exit code {builder.exitcode}); see the messages above")
    os.environ.update(settings_environ(settings))  # the workers read their settings from the environment
    uvicorn.run("assistant.web.app:app_from_env", factory=True, host=host, port=port, workers=workers)
