"""The live dashboard in a real headless browser (Debian's chromium, driven by Selenium through
chromium-driver): it renders every key of the pool masked with its state, updates after a key is
rested (with the upstream's words as the evidence), and an admin action from the page changes
the pool. It saves a screenshot under
target/ (with UPDATE_SCREENSHOT=1: docs/dashboard.png, the README's).

The client and admin keys are typed into the page, as an operator would; they travel as
headers, never in a URL.
"""

import json
import os
import shutil
import time
import urllib.request
from pathlib import Path

import pytest

from agents import in_ci
from conftest import KEYS, start_gateway

CLIENT_KEY = "dashboard-client-key"
ADMIN_KEY = "dashboard-admin-key"
ROOT = Path(__file__).resolve().parents[2]
SHOT = (ROOT / "docs" / "dashboard.png" if os.environ.get("UPDATE_SCREENSHOT")
        else Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target")) / "dashboard.png")


def chromium_paths():
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver") or (
        "/usr/bin/chromedriver" if os.path.exists("/usr/bin/chromedriver") else None)
    return browser, driver


@pytest.fixture(scope="module")
def browser():
    path, driver_path = chromium_paths()
    if not (path and driver_path):
        reason = "chromium and chromium-driver are needed (apt install chromium chromium-driver)"
        if in_ci():
            pytest.fail(reason + " (CI is set: a missing browser is a failure)")
        pytest.skip(reason)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = path
    for arg in ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--window-size=1500,1000"]:
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(driver_path), options=options)
    yield driver
    driver.quit()


def wait_for(what, probe, timeout=15):
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"gave up waiting: {what}")
        time.sleep(0.1)


def status(gateway):
    req = urllib.request.Request(gateway.url + "/v1/keys/status", headers={"x-api-key": CLIENT_KEY})
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.loads(r.read())


def generate(gateway, model="gemini-3.8-flash"):
    body = json.dumps({"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}).encode()
    req = urllib.request.Request(gateway.url + f"/v1beta/models/{model}:generateContent", data=body,
                                 headers={"content-type": "application/json", "x-goog-api-key": CLIENT_KEY})
    with urllib.request.urlopen(req, timeout=10) as r:
        return r.status


def rows(browser):
    """The key table as the page shows it now, read in one step (the page redraws it every second,
    so elements found one by one could go stale between two reads)."""
    return browser.execute_script("""
        const out = {};
        for (const tr of document.querySelectorAll('#keys tbody tr')) {
            const td = tr.querySelectorAll('td');
            out[tr.dataset.key] = {masked: td[0].innerText, state: td[3].innerText,
                                   cooldowns: td[4].innerText, why: td[10].innerText};
        }
        return out;""")


def click_button(browser, key_id, label):
    """Click a row's button as an operator would, again if the table was redrawn under the click."""
    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.common.by import By

    def attempt():
        try:
            row = browser.find_element(By.CSS_SELECTOR, f'#keys tbody tr[data-key="{key_id}"]')
            button = next(b for b in row.find_elements(By.TAG_NAME, "button") if b.text == label)
            button.click()
            return True
        except StaleElementReferenceException:
            return False
    wait_for(f"a click on {label}", attempt)


def test_the_dashboard_shows_the_pool_live_and_acts_on_it(browser, mock_server):
    from selenium.webdriver.common.by import By

    with start_gateway(mock_server, GATEWAY_API_KEYS=CLIENT_KEY, ADMIN_API_KEY=ADMIN_KEY) as gw:
        mock_server.reset()
        generate(gw)
        browser.get(gw.url + "/dashboard")
        browser.find_element(By.ID, "client-key").send_keys(CLIENT_KEY)
        browser.find_element(By.ID, "admin-key").send_keys(ADMIN_KEY)
        browser.find_element(By.ID, "connect").click()
        views = {k["id"]: k for k in status(gw)["keys"]}
        shown = wait_for("every key in the table", lambda: (r := rows(browser)) and len(r) == len(KEYS) and r)
        for key_id, row in shown.items():
            assert row["masked"] == views[key_id]["key"], row["masked"]
            assert row["state"] == "available"
        page = browser.page_source
        for k in KEYS:
            assert k not in page, "a whole key in the page"
        assert CLIENT_KEY not in browser.current_url and ADMIN_KEY not in browser.current_url

        # Rest the first key: the page shows its cooldown without being reloaded.
        first = KEYS[0]
        mock_server.script(first, {"type": "rate_limit_per_minute", "retry_delay": "300s"}, times=1)
        rested = None
        for _ in range(len(KEYS)):
            generate(gw)
            rested = next((k for k in status(gw)["keys"] if k["cooldowns"]), None)
            if rested:
                break
        assert rested, "no key rested"
        wait_for("the cooldown on the page",
                 lambda: "gemini-3.8-flash" in rows(browser)[rested["id"]]["cooldowns"])
        # With the evidence that made it: Google's own words.
        wait_for("the cooldown's evidence on the page",
                 lambda: "You exceeded your current quota" in rows(browser)[rested["id"]]["why"])
        wait_for("the quota groups", lambda: browser.find_elements(By.CSS_SELECTOR, "#groups tbody tr"))
        wait_for("the recent requests", lambda: browser.find_elements(By.CSS_SELECTOR, "#recent tbody tr"))
        # The live catalog and what the defaults resolved to.
        models = wait_for("the model catalog", lambda: browser.find_elements(By.CSS_SELECTOR, "#models tbody tr"))
        assert any("gemini-3.8-flash" in m.text for m in models)
        summary = browser.find_element(By.ID, "model-summary").text
        assert "gemini-pro-latest" in summary and "BIG_MODEL" in summary, summary
        SHOT.parent.mkdir(exist_ok=True)
        browser.save_screenshot(str(SHOT))

        # An admin action from the page: clear the cooldown.
        click_button(browser, rested["id"], "clear cooldown")
        wait_for("the pool without the cooldown",
                 lambda: not next(k for k in status(gw)["keys"] if k["id"] == rested["id"])["cooldowns"])
        wait_for("the page without it", lambda: rows(browser)[rested["id"]]["cooldowns"] == "")
        assert "You exceeded" not in rows(browser)[rested["id"]]["why"]
