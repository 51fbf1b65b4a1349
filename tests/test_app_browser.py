"""End to end in headless Chromium: `streamlit run app.py`, ask the seed question with the fake model,
see the results, download the JSON report, and save the screenshot used in the README."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from hypofinder.models import HypothesisReport
from hypofinder.ui import SEED_QUESTION
from hypofinder.ui.common import FAKE_CHOICE
from tests.servers import free_port, stop, wait_until_up

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
N_CONTEXTS = 2  # not the AppTest tests' 3: a fresh report, not one served from the shared test cache

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not (os.path.exists(CHROMIUM) and os.path.exists(CHROMEDRIVER)),
        reason="needs Debian chromium + chromium-driver (`make browser`)",
    ),
]


@pytest.fixture
def app_url(tmp_path):
    port = free_port()
    env = {**os.environ, "STREAMLIT_BROWSER_GATHER_USAGE_STATS": "false", "PYTHONUNBUFFERED": "1"}
    log = open(tmp_path / "streamlit.log", "w")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "streamlit",
            "run",
            "app.py",
            "--server.headless",
            "true",
            "--server.port",
            str(port),
            "--server.address",
            "127.0.0.1",
            "--server.fileWatcherType",
            "none",
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        wait_until_up(f"http://127.0.0.1:{port}/_stcore/health", proc, timeout=90)
        yield f"http://127.0.0.1:{port}"
    finally:
        stop(proc)
        log.close()


@pytest.fixture
def browser(tmp_path):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    downloads = tmp_path / "downloads"
    downloads.mkdir()
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--window-size=1440,1000",
        "--force-device-scale-factor=1",
        f"--user-data-dir={tempfile.mkdtemp(prefix='chromium-', dir=tmp_path)}",
    ):
        opts.add_argument(flag)
    opts.add_experimental_option(
        "prefs",
        {
            "download.default_directory": str(downloads),
            "download.prompt_for_download": False,
            "download.directory_upgrade": True,
            "safebrowsing.enabled": False,
        },
    )
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)
    driver.execute_cdp_cmd("Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(downloads)})
    driver.downloads = downloads
    try:
        yield driver
    finally:
        driver.quit()


def _shown(el) -> str:
    """What a widget shows: its text plus the values of its inputs (searchable selects are inputs)."""
    from selenium.webdriver.common.by import By

    return " ".join([el.text] + [i.get_attribute("value") or "" for i in el.find_elements(By.TAG_NAME, "input")])


def test_seed_question_with_fake_model_end_to_end(app_url, browser):
    try:
        _drive(browser, app_url)
    except BaseException:
        (ROOT / "tests" / "artifacts").mkdir(exist_ok=True)
        browser.save_screenshot(str(ROOT / "tests" / "artifacts" / "browser-failure.png"))
        raise


def test_magnetization_question_draws_its_evidence_chart_in_muB(app_url, browser):
    """Issue 30: a report on magnetization (h-BN) renders, its evidence chart draws, and its unit is μB."""
    from selenium.webdriver.common.by import By

    question = "How does the magnetization of monolayer h-BN change as the number of boron vacancies grows?"
    try:
        _ask(browser, app_url, question, "1. How does the magnetization")
        assert not browser.find_elements(By.CSS_SELECTOR, "[data-testid='stException']")
        charts = browser.find_elements(By.CSS_SELECTOR, "[data-testid*='VegaLiteChart']")
        assert charts, "no evidence chart drawn"
        main = browser.find_element(By.CSS_SELECTOR, "[data-testid='stMain']").text
        assert "μB" in main and "magnetization" in main.lower()
    except BaseException:
        (ROOT / "tests" / "artifacts").mkdir(exist_ok=True)
        browser.save_screenshot(str(ROOT / "tests" / "artifacts" / "browser-failure-magnetization.png"))
        raise


def _ask(browser, app_url: str, text: str, history: str) -> None:
    """Type ``text``, choose the fake model and N_CONTEXTS contexts, run, and wait for the results."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support import expected_conditions as EC
    from selenium.webdriver.support.ui import WebDriverWait

    wait = WebDriverWait(browser, 60)
    browser.get(app_url)
    question = wait.until(EC.element_to_be_clickable((By.CSS_SELECTOR, "textarea[aria-label='Enter your question']")))
    assert browser.find_elements(By.XPATH, "//h1[contains(., 'Hypothesis finder')]")
    question.send_keys(text)

    # Model: the fake one (BaseWeb select: open it, pick the option).
    model_box = "//div[@data-testid='stSelectbox'][.//*[normalize-space(text())='Model']]"
    browser.find_element(By.XPATH, model_box).click()
    option = f"//*[@role='option'][normalize-space(.)={FAKE_CHOICE!r}]"
    wait.until(EC.element_to_be_clickable((By.XPATH, option))).click()
    wait.until(lambda d: FAKE_CHOICE in _shown(d.find_element(By.XPATH, model_box)))

    contexts = browser.find_element(By.CSS_SELECTOR, "input[aria-label='Number of contexts']")
    contexts.send_keys(Keys.CONTROL, "a")
    contexts.send_keys(str(N_CONTEXTS), Keys.ENTER)
    wait.until(
        lambda d: (
            d.find_element(By.CSS_SELECTOR, "input[aria-label='Number of contexts']").get_attribute("value")
            == str(N_CONTEXTS)
        )
    )

    browser.find_element(By.XPATH, "//button[.//*[normalize-space(text())='Run']]").click()
    # The history entry is drawn last: once it shows, the run and its results are on the page.
    WebDriverWait(browser, 240).until(
        lambda d: history in d.find_element(By.CSS_SELECTOR, "[data-testid='stSidebar']").text
    )
    wait.until(EC.presence_of_element_located((By.XPATH, "//h3[contains(., 'Representation and Hypothesis')]")))


def _drive(browser, app_url: str) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as EC
    from selenium.webdriver.support.ui import WebDriverWait

    wait = WebDriverWait(browser, 60)
    _ask(browser, app_url, SEED_QUESTION, "1. How can I model")
    wait.until(
        EC.presence_of_element_located(
            (By.XPATH, "//*[@data-testid='stMetricLabel'][contains(., 'Score') or contains(., 'Rank score')]")
        )
    )
    assert not browser.find_elements(By.CSS_SELECTOR, "[data-testid='stException']")
    titles = [h.text for h in browser.find_elements(By.XPATH, "//h3[starts-with(normalize-space(.), 'Context ')]")]
    assert len(titles) == N_CONTEXTS and titles[0].startswith("Context 1. ") and "/ score " in titles[0]
    assert browser.find_elements(By.XPATH, "//summary[contains(., 'Full result (JSON)')]")
    assert browser.find_elements(By.XPATH, f"//summary[contains(., 'Found {N_CONTEXTS} hypotheses')]")  # progress box

    # Download the JSON report and check it is the report.
    browser.find_element(By.XPATH, "//button[.//*[normalize-space(text())='Download JSON']]").click()
    deadline, files = time.time() + 30, []
    while time.time() < deadline:
        files = [p for p in browser.downloads.glob("*.json")]
        if files and not list(browser.downloads.glob("*.crdownload")):
            break
        time.sleep(0.2)
    assert files, f"no JSON downloaded: {list(browser.downloads.iterdir())}"
    report = HypothesisReport.model_validate_json(files[0].read_text())
    assert report.query == " ".join(SEED_QUESTION.split())
    assert len(report.contexts) == N_CONTEXTS and report.run.provider == "fake"
    assert [f"Context {i}. {c.role}" for i, c in enumerate(report.contexts, 1)] == [t.split(" / ")[0] for t in titles]

    # Screenshot for the README: the inputs, the overview and the first context.
    browser.execute_script("window.scrollTo(0, 0); document.querySelector('[data-testid=\"stMain\"]').scrollTo(0, 0);")
    browser.set_window_size(1440, 1900)
    time.sleep(1.5)
    artifacts = ROOT / "tests" / "artifacts"
    artifacts.mkdir(exist_ok=True)
    assert browser.save_screenshot(str(artifacts / "screenshot.png"))
    if os.environ.get("HYPOFINDER_UPDATE_SCREENSHOT"):  # refresh the README's picture on request only
        (ROOT / "docs").mkdir(exist_ok=True)
        shutil.copyfile(artifacts / "screenshot.png", ROOT / "docs" / "screenshot.png")
