"""The page's layout on a 1366×768 laptop and a 390×844 phone, /embed in a 420×640 iframe, the page
while an index is being built, and the ledger tab's filters and pictures.

Browser tests drive headless Chromium (see tests/test_browser.py) and keep their screenshots in
test-artifacts/page/ (gitignored). The HTML helpers below them need no browser.
"""

from __future__ import annotations

import re
import threading
import time
import unicodedata
from pathlib import Path

import pytest

from assistant.models import LedgerRow
from assistant.web.ledger_views import (
    ledger_table,
    plan_choices,
    timeline,
    unit_choices,
    workload_chart,
    workloads,
    year_counts,
)
from tests.conftest import ROOT, served, served_page
from tests.test_browser import _ask, _open, headless_chrome

ARTIFACTS = ROOT / "test-artifacts" / "page"
LAPTOP, PHONE, IFRAME = (1366, 768), (390, 844), (420, 640)

# Everything in the chat that could scroll on its own: it must not (the page scrolls instead).
NESTED_SCROLLERS = """
const chat = document.querySelector('#planqa-chat');
const found = [];
for (const el of [chat, ...chat.querySelectorAll('*')]) {
  const style = getComputedStyle(el);
  if (/(auto|scroll)/.test(style.overflowY) && el.scrollHeight > el.clientHeight + 1) found.push(el.className || el.tagName);
}
let up = chat.parentElement;
while (up && up !== document.body) {
  const style = getComputedStyle(up);
  if (/(auto|scroll)/.test(style.overflowY) && up.scrollHeight > up.clientHeight + 1) found.push('ancestor ' + (up.className || up.tagName));
  up = up.parentElement;
}
return found;
"""
IN_VIEW = """
const r = arguments[0].getBoundingClientRect();
return r.top >= 0 && r.bottom <= window.innerHeight && r.height > 0;
"""
# A label drawn over the first message (gradio's floating block label) would overlap it.
LABEL_OVERLAP = """
const chat = document.querySelector('#planqa-chat');
const first = chat.querySelector('[data-testid="user"], [data-testid="bot"]');
if (!first) return [];
const m = first.getBoundingClientRect();
return [...chat.querySelectorAll('label, [data-testid="block-label"]')]
  .filter(l => { const r = l.getBoundingClientRect(); return r.width > 0 && r.left < m.right && r.right > m.left && r.top < m.bottom && r.bottom > m.top; })
  .map(l => l.textContent.trim());
"""


def _is_emoji(ch: str) -> bool:
    """Pictographs an ordinary CJK font lacks (⏳ ✅ ❌ ⚠ 👍 …): they show as boxes without an emoji font."""
    code = ord(ch)
    return code >= 0x1F000 or 0x2300 <= code <= 0x23FF or 0x2600 <= code <= 0x27BF or (0x2B00 <= code < 0x2C00 and unicodedata.category(ch) == "So")


def _chrome(size: tuple[int, int], mobile: bool):
    chrome = headless_chrome()
    if mobile:  # a phone's viewport, exactly, with the mobile layout rules
        chrome.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                               {"width": size[0], "height": size[1], "deviceScaleFactor": 1, "mobile": True})
    else:  # a laptop's screen: the browser's own bars take part of it, as they do for the user
        chrome.set_window_size(*size)
    return chrome


def _shot(chrome, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    chrome.save_screenshot(str(path))
    assert path.stat().st_size > 5_000
    return path


def status_shown(driver) -> list[str]:
    """The texts of the visible status lines, read in one script (gradio re-renders the element while it
    polls, so a reference found first can be stale by the time it is asked whether it is shown)."""
    return driver.execute_script(
        "return [...document.querySelectorAll('#planqa-status')]"
        ".filter(e => e.offsetParent !== null && getComputedStyle(e).visibility !== 'hidden').map(e => e.innerText)"
    )


@pytest.fixture(scope="module")
def base_url(assistant, settings, tmp_path_factory):
    with served_page(assistant, settings, tmp_path_factory) as url:
        yield url


@pytest.fixture(scope="module")
def driver(base_url):
    """Laptop-sized; tests that need another size open their own browser."""
    chrome = _chrome(LAPTOP, mobile=False)
    yield chrome
    chrome.quit()


def _check_chat_layout(chrome, url: str, name: str) -> None:
    from selenium.webdriver.common.by import By

    box = _open(chrome, url)
    assert chrome.execute_script(IN_VIEW, box), "the question box is below the fold on load"
    _shot(chrome, f"{name}-loaded")
    _ask(chrome, "老旧小区改造谁牵头？")
    _ask(chrome, "2030年非化石能源消费比重的目标是多少？")
    box = chrome.find_element(By.CSS_SELECTOR, "#planqa-question textarea")
    assert chrome.execute_script(IN_VIEW, box), "the question box left the window after an answer"
    _shot(chrome, f"{name}-answered")
    assert chrome.execute_script(NESTED_SCROLLERS) == []
    assert chrome.execute_script("return document.documentElement.scrollHeight > window.innerHeight"), \
        "two answers should make the page (not a box inside it) longer than the window"
    assert chrome.execute_script(LABEL_OVERLAP) == []
    chrome.execute_script("window.scrollTo(0, 0)")
    assert chrome.execute_script(IN_VIEW, box), "the question box must stay in view at the top of a long chat"
    text = chrome.find_element(By.TAG_NAME, "body").text
    assert not [ch for ch in text if _is_emoji(ch)]
    assert not re.search(r"processing|Error\b", text)


def test_laptop_chat_layout(driver, base_url):
    _check_chat_layout(driver, base_url + "/", "laptop")


def test_phone_chat_layout(base_url):
    chrome = _chrome(PHONE, mobile=True)
    try:
        _check_chat_layout(chrome, base_url + "/", "phone")
    finally:
        chrome.quit()


def test_gradio_speaks_chinese_and_ready_page_shows_no_status(driver, base_url):
    """The index is ready: the status line never appears (polled through the first seconds of a load)."""

    driver.get(base_url + "/")
    seen, until = [], time.monotonic() + 4
    while time.monotonic() < until:
        seen += [text for text in status_shown(driver) if text]
        time.sleep(0.1)
    _open(driver, base_url + "/")
    seen += [text for text in status_shown(driver) if text]
    assert seen == []
    assert driver.execute_script("return document.documentElement.lang") == "zh-CN"  # gradio's own strings


def test_embed_fits_an_iframe(base_url):
    from selenium.webdriver.common.by import By

    chrome = _chrome(IFRAME, mobile=False)
    chrome.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                           {"width": IFRAME[0], "height": IFRAME[1], "deviceScaleFactor": 1, "mobile": False})
    try:
        _open(chrome, base_url + "/embed/")
        assert chrome.execute_script("return document.documentElement.scrollHeight") <= IFRAME[1]
        examples = [e for e in chrome.find_elements(By.CSS_SELECTOR, "button") if "？" in e.text]
        assert len(examples) == 3 and all(chrome.execute_script(IN_VIEW, e) for e in examples)
        _shot(chrome, "embed-loaded")
        _ask(chrome, "老旧小区改造谁牵头？")
        box = chrome.find_element(By.CSS_SELECTOR, "#planqa-question textarea")
        assert chrome.execute_script(IN_VIEW, box) and chrome.execute_script(NESTED_SCROLLERS) == []
        _shot(chrome, "embed-answered")
    finally:
        chrome.quit()


def _open_ledger(chrome, url: str):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    _open(chrome, url)
    chrome.find_element(By.XPATH, "//button[@role='tab' and contains(., '目标台账')]").click()
    count = chrome.find_element(By.CSS_SELECTOR, "#planqa-ledger-count")
    WebDriverWait(chrome, 30).until(lambda d: count.is_displayed() and "共" in count.text)
    return count


def test_ledger_unit_filter_finds_abbreviation_and_draws_views(driver, base_url):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import WebDriverWait

    count = _open_ledger(driver, base_url + "/")
    total = int(re.search(r"共 (\d+) 项目标", count.text).group(1))
    assert driver.find_element(By.CSS_SELECTOR, "#planqa-timeline").is_displayed()
    assert "牵头" in driver.find_element(By.CSS_SELECTOR, "#planqa-workload").text
    unit = driver.find_element(By.CSS_SELECTOR, "#planqa-ledger-unit input")
    unit.click()  # its "全部" is selected on focus: typing replaces it
    unit.send_keys("发改局")
    WebDriverWait(driver, 10).until(lambda d: "区发展和改革局" in d.find_element(By.TAG_NAME, "body").text)
    _shot(driver, "ledger-unit-options")
    unit.send_keys(Keys.ARROW_DOWN, Keys.ENTER)
    WebDriverWait(driver, 30).until(lambda d: f"共 {total} 项目标" not in count.text)
    assert 0 < int(re.search(r"共 (\d+) 项目标", count.text).group(1)) < total
    assert driver.find_element(By.CSS_SELECTOR, "#planqa-workload .planqa-chosen").text.startswith("区发展和改革局")
    rows = driver.find_elements(By.CSS_SELECTOR, "#planqa-ledger-table tbody tr")
    assert rows and all("区发展和改革局" in r.text for r in rows)
    _shot(driver, "ledger-laptop")


def test_ledger_is_cards_on_a_phone(base_url):
    from selenium.webdriver.common.by import By

    chrome = _chrome(PHONE, mobile=True)
    try:
        _open_ledger(chrome, base_url + "/")
        cell = chrome.find_element(By.CSS_SELECTOR, "#planqa-ledger-table td.planqa-col-lead_unit")
        assert chrome.execute_script("return getComputedStyle(arguments[0]).display", cell) == "block"
        label = chrome.execute_script("return getComputedStyle(arguments[0], '::before').content", cell)
        assert "牵头单位" in label  # every value is labelled, not only 行动/任务
        assert chrome.execute_script("return document.documentElement.scrollWidth <= window.innerWidth + 1")
        chrome.execute_script("arguments[0].scrollIntoView()", cell)
        _shot(chrome, "ledger-phone")
    finally:
        chrome.quit()


def chrome_pseudo(driver, element) -> str:
    return driver.execute_script("return getComputedStyle(arguments[0], '::before').content", element)


def _upload(driver, base_url: str, path: Path, column: str):
    from selenium.webdriver.common.by import By

    _open(driver, base_url + "/")
    driver.find_element(By.XPATH, "//button[@role='tab' and contains(., '批量问答')]").click()
    driver.find_element(By.CSS_SELECTOR, "input[type='file']").send_keys(str(path))
    field = driver.find_element(By.XPATH, "//label[contains(., '问题所在列的列名')]//textarea | //label[contains(., '问题所在列的列名')]//input")
    field.clear()
    field.send_keys(column)
    driver.find_element(By.XPATH, "//button[contains(., '开始批量问答')]").click()


def test_batch_summary_counts_skipped_rows_and_errors_read_chinese(driver, base_url, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    from tests.conftest import xlsx_bytes

    path = tmp_path / "问卷.xlsx"
    path.write_bytes(xlsx_bytes([["序号", "问题"], [1, "老旧小区改造谁牵头？"], [2, None], [3, "2030年非化石能源消费比重的目标是多少？"]]))
    _upload(driver, base_url, path, "问题")
    summary = driver.find_element(By.CSS_SELECTOR, "#planqa-batch-summary")
    # the end state, not the progress line "正在回答：已完成 1/3 题", which also contains 完成
    WebDriverWait(driver, 120).until(lambda d: summary.text.startswith("完成："))
    assert "回答 2 题" in summary.text and "跳过 1 行" in summary.text
    _shot(driver, "batch-done")
    _upload(driver, base_url, path, "题目")  # no such column: a toast says so, in Chinese
    toast = WebDriverWait(driver, 30).until(lambda d: [t for t in d.find_elements(By.CSS_SELECTOR, ".toast-body") if t.text])
    title = toast[0].find_element(By.CSS_SELECTOR, ".toast-title")
    assert chrome_pseudo(driver, title) == '"出错了"'  # shown in place of gradio's English type name
    assert driver.execute_script("return getComputedStyle(arguments[0]).fontSize", title) == "0px"
    message = toast[0].text.replace(title.text, "")
    assert "找不到" in message and not re.search(r"\bError\b|--column", message)
    summary = driver.find_element(By.CSS_SELECTOR, "#planqa-batch-summary")
    WebDriverWait(driver, 10).until(lambda d: summary.text.startswith("未完成"))  # not left at "正在读取问卷"
    body = driver.find_element(By.TAG_NAME, "body").text
    assert not re.search(r"Drop File|Click to Upload|processing", body)
    _shot(driver, "batch-error")


# ---------------------------------------------------------------- while the index is being built


@pytest.fixture()
def building(assistant, settings, tmp_path):
    """The app over an assistant whose build finishes only when the test opens the gate."""
    from assistant.web.app import build_app
    from assistant.web.service import ServedAssistant

    gate = threading.Event()

    def slow_build(_settings):
        gate.wait(120)
        return assistant

    starting = ServedAssistant(settings, factory=slow_build).start()
    app = build_app(settings.with_overrides(audit_log=tmp_path / "audit.jsonl", api_keys=()), starting)
    with served(app) as url:
        yield url, gate
    gate.set()


def test_question_during_build_stays_and_is_answered(driver, building):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    url, gate = building
    box = _open(driver, url + "/")
    WebDriverWait(driver, 20).until(lambda d: any("正在建立索引" in text for text in status_shown(d)))
    box.send_keys("老旧小区改造谁牵头？")
    driver.find_element(By.CSS_SELECTOR, "#planqa-send").click()
    chat = driver.find_element(By.CSS_SELECTOR, "#planqa-chat")
    WebDriverWait(driver, 20).until(lambda d: "就绪后将自动回答" in chat.text)
    assert "老旧小区改造谁牵头？" in chat.find_element(By.CSS_SELECTOR, "[data-testid='user']").text
    _shot(driver, "building-waiting")
    gate.set()
    WebDriverWait(driver, 90).until(lambda d: "住房和城乡建设局" in chat.text)
    assert "就绪后将自动回答" not in chat.text
    WebDriverWait(driver, 20).until(lambda d: not status_shown(d))
    _shot(driver, "building-answered")
    driver.get("about:blank")  # the page's open connection would hold up this server's exit


# ---------------------------------------------------------------- the ledger's HTML, no browser


def _row(**fields) -> LedgerRow:
    base = dict(action="（一）行动", task="", indicator="指标", value="1", unit="%", qualifier="", statement="1%",
                year=2025, baseline="", lead_unit="区甲局", partner_units=(), clause_id="c", quote="原文", plan="方案")
    return LedgerRow(**{**base, **fields})


def test_unit_choices_carry_the_short_forms_people_type(knowledge):
    choices = dict((value, label) for label, value in unit_choices(["区发展和改革局", "区财政局"], knowledge.unit_aliases))
    assert "发改局" in choices["区发展和改革局"] and choices["区发展和改革局"].startswith("区发展和改革局（")
    assert "（财政局" not in choices["区财政局"]  # no form the name itself already contains


def test_plan_choices_are_the_loaded_plans(knowledge):
    assert [doc for _, doc in plan_choices(knowledge)] == ["hecheng-bulletin-2024-02.txt"]


def test_workloads_count_led_and_supported_tasks(knowledge):
    loads = {w.unit: w for w in workloads(knowledge)}
    duties = knowledge.responsibilities.values()
    for unit in ("区发展和改革局", "区住房和城乡建设局"):
        assert loads[unit].leads == sum(unit in d.leads for d in duties)
        assert loads[unit].supports == sum(unit in d.supporting and unit not in d.leads for d in duties)
    assert list(loads)[0] == max(loads.values(), key=lambda w: w.total).unit
    chart = workload_chart(list(loads.values()))
    assert chart.count("planqa-bar-row") == len(loads)
    busiest = chart.split("planqa-bar-row")[1]  # its led and supported parts fill the whole track
    assert sum(float(w) for w in re.findall(r"width:([\d.]+)%", busiest)) == pytest.approx(100, abs=0.2)


def test_timeline_orders_years_and_scales_bars():
    rows = [_row(year=2030, indicator="乙"), _row(year=2025, indicator="甲"), _row(year=2025, indicator="丙"), _row(year=None)]
    assert [(year, len(items)) for year, items in year_counts(rows)] == [("2025", 2), ("2030", 1), ("未注明年份", 1)]
    html = timeline(rows)
    assert html.index("2025") < html.index("2030") and "width:100.0%" in html and "width:50.0%" in html


def test_ledger_table_escapes_and_labels_every_cell():
    html = ledger_table([_row(indicator="<script>x</script>", partner_units=("区乙局", "区丙局"))])
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert 'data-label="牵头单位"' in html and "区乙局、区丙局" in html
    assert "没有符合条件" in ledger_table([])


def test_pending_chat_keeps_the_question_and_notes_the_wait_only_while_building():
    from assistant.web.chat import WAITING_NOTE, pending_chat

    class Service:
        ready = False

    building = pending_chat(Service(), " 老旧小区改造谁牵头？ ", [])
    assert building[0] == {"role": "user", "content": "老旧小区改造谁牵头？"} and WAITING_NOTE in building[1]["content"]
    Service.ready = True
    assert len(pending_chat(Service(), "老旧小区改造谁牵头？", building)) == 3  # the question, no note
    assert pending_chat(Service(), "  ", building) == []


def test_status_and_batch_summary_are_chinese():
    from assistant.office.questionnaire import BatchReport
    from assistant.web.batch_tab import batch_summary
    from assistant.web.chat import status_text

    class Ready:
        ready = True
        assistant = None

    assert status_text(Ready()) == ""
    text = batch_summary(BatchReport(Path("q.xlsx"), Path("a.xlsx"), rows=5, answered=3, abstained=1, skipped=2, skipped_rows=[4, 7]))
    assert "跳过 2 行" in text and "4、7" in text and not re.search(r"[A-Za-z]", text)


def test_page_html_tells_gradio_the_language():
    """gradio reads the browser's language before it applies its `head` option: the script goes in first."""
    from starlette.applications import Starlette
    from starlette.responses import HTMLResponse, JSONResponse
    from starlette.routing import Route
    from starlette.testclient import TestClient

    from assistant.web.app import LANGUAGE_SCRIPT, ChineseInterface

    inner = Starlette(routes=[Route("/", lambda _r: HTMLResponse("<html><head><script>gradio</script></head></html>")),
                              Route("/api/x", lambda _r: JSONResponse({"head": "<head>"}))])
    client = TestClient(ChineseInterface(inner, paths=("/",)))
    page = client.get("/")
    assert page.text.index(LANGUAGE_SCRIPT) < page.text.index("gradio") and int(page.headers["content-length"]) == len(page.content)
    assert client.get("/api/x").json() == {"head": "<head>"}


def test_the_ledger_tab_offers_the_report_in_one_click(knowledge, tmp_path):
    """目标台账's "下载报告" is the ledger as a Word report, per plan and action, each figure cited."""
    from docx import Document as Docx

    from assistant.web.page import build_page

    page = build_page(service=None, knowledge=knowledge, files_root=tmp_path)
    (button,) = [b for b in page.blocks.values() if getattr(b, "elem_id", None) == "planqa-ledger-report"]
    path = Path(button.value["path"] if isinstance(button.value, dict) else button.value)
    assert path.suffix == ".docx"
    text = "\n".join(p.text for p in Docx(str(path)).paragraphs)
    cells = "\n".join(c.text for t in Docx(str(path)).tables for row in t.rows for c in row.cells)
    assert "目标" in text and "27%" in cells and "以上" in cells
