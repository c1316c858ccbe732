"""The 批量问答 tab: upload a questionnaire, watch the progress, download the answered copy."""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Any

from assistant.errors import INTERNAL_ERROR, PlanqaError
from assistant.office.questionnaire import SUPPORTED_SUFFIXES
from assistant.web.files import own_upload, web_files
from assistant.web.render import ERROR_TITLE, PRIVATE

log = logging.getLogger(__name__)


def add_batch_tab(gr, service, files_root: Path) -> None:
    """批量问答: upload a questionnaire, watch the progress, download the answered copy."""
    gr.Markdown(
        "上传 xlsx、xls 或 csv 问卷（需有“问题”列，≤5 MB）。结果保留原有各行各列：答案写入问卷自带的答复列"
        "（如“被检查单位答复”），没有时新增“答案”列；并新增出处章节、原文摘录、置信度、方案是否明确。xls 问卷的答卷为 xlsx。"
    )
    with gr.Row():
        upload = gr.File(label="问卷文件", file_types=list(SUPPORTED_SUFFIXES), type="filepath")
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
                # an .xls is answered as .xlsx: the report names the file actually written
                yield (progress_text, None) if report is None else (batch_summary(report), str(report.output_path))
        except PlanqaError as exc:  # no upload, a file without the column, not xlsx/xls/csv…: the message says what to do
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
