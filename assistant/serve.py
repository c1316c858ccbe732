"""Stage 8, serve: the gradio page (and, later, the portal API) over the bundled corpus."""

from __future__ import annotations

import argparse

from .config import Settings, load_settings


def build_demo(settings: Settings):
    import gradio as gr

    from .knowledge import ledger_rows, load_knowledge

    knowledge = load_knowledge(settings.corpus_dir)
    rows = ledger_rows(knowledge)
    columns = list(rows[0]) if rows else []

    def filtered(unit: str, year: str):
        chosen = ledger_rows(knowledge, unit=unit or None, year=int(year) if year else None)
        return [[r[c] for c in columns] for r in chosen]

    with gr.Blocks(title="政策规划问答助手") as demo:
        gr.Markdown("# 政策规划问答助手\n目标任务台账 (the chat tab arrives with the answering chain).")
        with gr.Row():
            unit = gr.Textbox(label="责任单位 (可用简称, 如 发改局)")
            year = gr.Dropdown(["", "2025", "2030"], label="年份", value="")
        table = gr.Dataframe(headers=columns, value=filtered("", ""), wrap=True)
        unit.submit(filtered, [unit, year], table)
        year.change(filtered, [unit, year], table)
    return demo


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Start the web page (gradio).")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=7860)
    args = parser.parse_args(argv)
    build_demo(load_settings()).launch(server_name=args.host, server_port=args.port)
