"""The web page in a real headless Chromium: ask, see the answer and its citation, open the clause.

Needs the Debian packages `chromium` and `chromium-driver` (and `fonts-noto-cjk` for readable
screenshots) plus the `selenium` pip package; skips with the reason when the browser is missing.
The rendering helpers are tested without a browser at the bottom.
"""

from __future__ import annotations

import html
import os
import re
import shutil

import pytest

from assistant.models import Answer, Citation
from assistant.web.render import highlight_figures, render_answer
from tests.conftest import served_page

CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-dev-shm-usage",
    "--window-size=1280,1400",
]


def _browser_paths() -> tuple[str, str]:
    browser = shutil.which("chromium") or shutil.which("chromium-browser") or ""
    driver = shutil.which("chromedriver") or ("/usr/bin/chromedriver" if os.path.exists("/usr/bin/chromedriver") else "")
    if not browser or not driver:
        pytest.skip("chromium / chromedriver not installed: apt-get install -y chromium chromium-driver")
    return browser, driver


@pytest.fixture(scope="module")
def base_url(assistant, settings, tmp_path_factory):
    """The real app (API + page + /embed) over the session's assistant, served by uvicorn in a thread."""
    with served_page(assistant, settings, tmp_path_factory) as url:
        yield url


def headless_chrome():
    """The Debian chromium under selenium, headless (skips when either is missing)."""
    browser, chromedriver = _browser_paths()
    webdriver = pytest.importorskip("selenium.webdriver", reason="selenium not installed: pip install -e '.[test]'")
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = browser
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    chrome = webdriver.Chrome(service=Service(chromedriver), options=options)
    chrome.set_page_load_timeout(60)
    return chrome


@pytest.fixture(scope="module")
def driver(base_url):
    """Depends on base_url so the browser closes first: open page connections would hold up the server's exit."""
    chrome = headless_chrome()
    yield chrome
    chrome.quit()


def _open(driver, url: str):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    driver.get(url)
    return WebDriverWait(driver, 60).until(ec.element_to_be_clickable((By.CSS_SELECTOR, "#planqa-question textarea")))


def _ask(driver, question: str):
    """Type, press 提问, wait for the new bot message; returns its element."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    bots = "#planqa-chat [data-testid='bot']"
    before = len(driver.find_elements(By.CSS_SELECTOR, bots))
    box = driver.find_element(By.CSS_SELECTOR, "#planqa-question textarea")
    box.clear()
    box.send_keys(question)
    driver.find_element(By.CSS_SELECTOR, "#planqa-send").click()
    WebDriverWait(driver, 90).until(lambda d: len(d.find_elements(By.CSS_SELECTOR, bots)) > before)
    return driver.find_elements(By.CSS_SELECTOR, bots)[-1]


def test_chat_answer_with_citation_and_clause(driver, base_url, tmp_path):
    from selenium.webdriver.common.by import By

    _open(driver, base_url + "/")
    message = _ask(driver, "2030年非化石能源消费比重的目标是多少？")
    assert "31%" in message.find_element(By.CSS_SELECTOR, ".planqa-answer").text
    card = message.find_element(By.CSS_SELECTOR, ".planqa-card")
    assert "二、主要目标" in card.find_element(By.CSS_SELECTOR, ".planqa-section").text
    assert "非化石能源消费比重提高到31%以上" in card.find_element(By.CSS_SELECTOR, ".planqa-quote").text
    assert "31%" in [m.text for m in card.find_elements(By.CSS_SELECTOR, ".planqa-quote mark")]
    card.find_element(By.CSS_SELECTOR, "details summary").click()
    context = card.find_element(By.CSS_SELECTOR, ".planqa-context")
    assert context.is_displayed() and "31%以上" in context.find_element(By.CSS_SELECTOR, "mark.planqa-cited").text
    shot = tmp_path / "chat.png"
    driver.save_screenshot(str(shot))
    assert shot.stat().st_size > 10_000


def test_abstention_and_follow_up(driver, base_url, tmp_path):
    from selenium.webdriver.common.by import By

    _open(driver, base_url + "/")
    first = _ask(driver, "鹤城区计划哪一年实现碳中和？")
    assert "方案中未明确" in first.find_element(By.CSS_SELECTOR, ".planqa-abstain").text
    _ask(driver, "2030年非化石能源消费比重的目标是多少？")
    follow_up = _ask(driver, "那2025年呢？")  # history goes with it; whatever it answers, it is rendered
    assert follow_up.find_elements(By.CSS_SELECTOR, ".planqa-answer, .planqa-abstain")
    driver.save_screenshot(str(tmp_path / "follow-up.png"))


def test_question_html_is_escaped(driver, base_url):
    from selenium.webdriver.common.by import By

    _open(driver, base_url + "/")
    _ask(driver, "<img src=x onerror=alert(1)>老旧小区改造谁牵头？")
    chat = driver.find_element(By.CSS_SELECTOR, "#planqa-chat")
    assert not chat.find_elements(By.CSS_SELECTOR, "img[src='x']")
    assert "<img src=x" in chat.text


def test_embed_page(driver, base_url, tmp_path):
    from selenium.webdriver.common.by import By

    _open(driver, base_url + "/embed/")
    message = _ask(driver, "老旧小区改造谁牵头？")
    assert "住房和城乡建设局" in message.text and message.find_elements(By.CSS_SELECTOR, ".planqa-card")
    assert not driver.find_elements(By.XPATH, "//button[normalize-space()='目标台账']")  # chat only
    driver.save_screenshot(str(tmp_path / "embed.png"))


def test_ledger_tab_filters_by_year(driver, base_url, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import WebDriverWait

    _open(driver, base_url + "/")
    driver.find_element(By.XPATH, "//button[@role='tab' and contains(., '目标台账')]").click()
    count = driver.find_element(By.CSS_SELECTOR, "#planqa-ledger-count")
    WebDriverWait(driver, 30).until(lambda d: count.is_displayed() and "27%以上" in d.find_element(By.TAG_NAME, "body").text)
    total = int(re.search(r"共 (\d+) 项目标", count.text).group(1))
    year = driver.find_element(By.CSS_SELECTOR, "#planqa-ledger-year input")
    year.click()
    year.send_keys("2030", Keys.ENTER)
    WebDriverWait(driver, 30).until(lambda d: f"共 {total} 项目标" not in count.text)
    assert 0 < int(re.search(r"共 (\d+) 项目标", count.text).group(1)) < total
    assert "31%以上" in driver.find_element(By.TAG_NAME, "body").text
    assert driver.find_elements(By.XPATH, "//*[contains(., '下载 xlsx')]")
    driver.save_screenshot(str(tmp_path / "ledger.png"))


# ---------------------------------------------------------------- rendering, no browser needed


def test_highlight_escapes_and_marks_figures():
    out = highlight_figures("<b>提高到27%以上</b> & '15' 2025年", "到2025年提高到27%以上")
    assert "<b>" not in out and "&lt;b&gt;" in out and "&amp;" in out
    assert "<mark>27%</mark>" in out and "<mark>2025</mark>" in out and "<mark>15</mark>" not in out
    assert html.unescape(out.replace("<mark>", "").replace("</mark>", "")) == "<b>提高到27%以上</b> & '15' 2025年"


def test_highlight_skips_heading_numbers_and_joins_page_breaks():
    out = highlight_figures("3. 加强既有建筑节能绿色改造。完成52个老旧小\n\n区改造", "「3. 加强既有建筑节能绿色改造」完成52个")
    assert out.startswith("3. ") and "<mark>52</mark>" in out and "老旧小区" in out


def test_render_answer_abstention_and_escaping(knowledge):
    clause = knowledge.tasks()[0]
    quote = knowledge.quote(clause.doc, clause.start, clause.end)[:20]
    citation = Citation(clause.doc, clause.id, clause.section, quote, clause.start, clause.start + 20)
    out = render_answer(Answer("q", "方案中未明确<script>x</script>", "target", 0.0, True, (citation,)), knowledge)
    assert "planqa-abstain" in out and "方案中未明确" in out and "<script>" not in out
    assert "相关条款" in out and "<details>" in out and 'class="planqa-cited"' in out
    plain = render_answer(Answer("q", "答", "target", 1.0, False, (citation,)), knowledge)
    assert "planqa-abstain" not in plain and "\n" not in plain

