"""The live dashboard in a real headless browser (Debian's chromium, driven by Selenium through
chromium-driver): it renders every key of the pool masked with its state, updates after a key is
rested (with the upstream's words as the evidence), and an admin action from the page changes
the pool. It saves a screenshot under
target/ (with UPDATE_SCREENSHOT=1: docs/dashboard.png, the README's).

The page speaks English and Simplified Chinese from one string table (src/server/dashboard_strings.js):
a browser that asks for Chinese gets a page with no English words left but the data and the names
listed in KEPT_IN_CHINESE, the header's switch turns it English without a reload, and the table
has every id the page uses, in both languages (checked without a browser).

The client and admin keys are typed into the page, as an operator would; they travel as
headers, never in a URL.
"""

import json
import os
import re
import shutil
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from agents import in_ci
from conftest import KEYS, start_gateway

CLIENT_KEY = "dashboard-client-key"
ADMIN_KEY = "dashboard-admin-key"
ROOT = Path(__file__).resolve().parents[2]
PAGE = ROOT / "src" / "server" / "dashboard.html"
STRINGS = ROOT / "src" / "server" / "dashboard_strings.js"
SHOT = (ROOT / "docs" / "dashboard.png" if os.environ.get("UPDATE_SCREENSHOT")
        else Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target")) / "dashboard.png")


def chromium_paths():
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver") or (
        "/usr/bin/chromedriver" if os.path.exists("/usr/bin/chromedriver") else None)
    return browser, driver


def start_browser(args=(), prefs=None):
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
                "--window-size=1500,1000", *args]:
        options.add_argument(arg)
    if prefs:
        options.add_experimental_option("prefs", prefs)
    return webdriver.Chrome(service=Service(driver_path), options=options)


@pytest.fixture(scope="module")
def browser():
    driver = start_browser()
    yield driver
    driver.quit()


@pytest.fixture(scope="module")
def browser_zh():
    """A browser whose user reads Simplified Chinese: it sends `Accept-Language: zh-CN,zh`."""
    driver = start_browser(["--lang=zh-CN"], {"intl.accept_languages": "zh-CN,zh"})
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


def usage(gateway):
    req = urllib.request.Request(gateway.url + "/v1/usage", headers={"x-api-key": CLIENT_KEY})
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


def connect(browser, gw):
    """Open the page and type the keys in, as an operator would."""
    from selenium.webdriver.common.by import By

    browser.get(gw.url + "/dashboard")
    browser.find_element(By.ID, "client-key").send_keys(CLIENT_KEY)
    browser.find_element(By.ID, "admin-key").send_keys(ADMIN_KEY)
    browser.find_element(By.ID, "connect").click()


def rest_a_key(gw, mock_server):
    """Has Gemini rate-limit the first key for 5 minutes; the key that rested, as the pool shows it."""
    mock_server.script(KEYS[0], {"type": "rate_limit_per_minute", "retry_delay": "300s"}, times=1)
    for _ in range(len(KEYS)):
        generate(gw)
        rested = next((k for k in status(gw)["keys"] if k["cooldowns"]), None)
        if rested:
            return rested
    pytest.fail("no key rested")


def test_the_dashboard_shows_the_pool_live_and_acts_on_it(browser, mock_server):
    from selenium.webdriver.common.by import By

    with start_gateway(mock_server, GATEWAY_API_KEYS=CLIENT_KEY, ADMIN_API_KEY=ADMIN_KEY) as gw:
        mock_server.reset()
        generate(gw)
        connect(browser, gw)
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
        rested = rest_a_key(gw, mock_server)
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
        # What the requests cost, as /v1/usage has it by the price table, on the page too.
        clients = usage(gw)["clients"]
        spent = sum(r["cost_usd"] for r in clients)
        assert spent > 0

        def dollars(text):
            return [float(d.replace(",", "")) for d in re.findall(r"\$([0-9.,]+)", text)]

        wait_for("today's spend on the page", lambda: any(
            abs(d - spent) < 1e-6 for d in dollars(browser.find_element(By.ID, "spend-summary").text)))
        client_row = next(r.text for r in browser.find_elements(By.CSS_SELECTOR, "#spend tbody tr")
                          if clients[0]["client"] in r.text)
        assert all(abs(d - spent) < 1e-6 for d in dollars(client_row)), client_row
        SHOT.parent.mkdir(exist_ok=True)
        browser.save_screenshot(str(SHOT))

        # An admin action from the page: clear the cooldown.
        click_button(browser, rested["id"], "clear cooldown")
        wait_for("the pool without the cooldown",
                 lambda: not next(k for k in status(gw)["keys"] if k["id"] == rested["id"])["cooldowns"])
        wait_for("the page without it", lambda: rows(browser)[rested["id"]]["cooldowns"] == "")
        assert "You exceeded" not in rows(browser)[rested["id"]]["why"]


# --- Languages -------------------------------------------------------------------------------

# What a Chinese page may still show in Latin letters, besides the data (key ids, masked keys,
# groups, models, clients, request ids, dates and numbers, Gemini's own words quoted as evidence),
# which the test takes from the gateway's own answers.
KEPT_IN_CHINESE = {
    "gemini-gateway": "the product's name (the page's title and heading)",
    "English": "the language switch names each language in itself",
    "Gemini": "Google's product name (the add-key placeholder, a tooltip)",
    "API": "an acronym Chinese technical text keeps (Gemini API key, the api column)",
    "ID": "an acronym Chinese technical text keeps (the key id and request id columns)",
    "UTC": "the time zone's name (usage days are UTC days)",
    "RPM": "Gemini's own quota names, as Google's console shows them",
    "TPM": "Gemini's own quota names, as Google's console shows them",
    "RPD": "Gemini's own quota names, as Google's console shows them",
    "HTTP": "the protocol's name, in an error message with its status code",
    "GATEWAY_API_KEYS": "a setting's name, typed as it is",
    "BIG_MODEL": "a setting's name, typed as it is",
    "SMALL_MODEL": "a setting's name, typed as it is",
}

# The states the pool reports for a key (src/server/status.rs); the page shows each translated.
KEY_STATES = ["available", "cooling", "billing", "disabled"]


def string_table():
    """The STRINGS table of dashboard_strings.js: JSON but for its `//` comments and trailing
    commas. A repeated id (which JavaScript would silently let win) fails here."""
    text = STRINGS.read_text(encoding="utf-8")
    body = text[text.index("const STRINGS = ") + len("const STRINGS = "):text.rindex("};") + 1]
    body = "\n".join(line for line in body.splitlines() if not line.lstrip().startswith("//"))
    body = re.sub(r",(\s*})", r"\1", body)

    def no_repeats(pairs):
        ids = [k for k, _ in pairs]
        repeated = sorted({k for k in ids if ids.count(k) > 1})
        assert not repeated, f"dashboard_strings.js: ids given twice: {repeated}"
        return dict(pairs)
    return json.loads(body, object_pairs_hook=no_repeats)


def test_the_string_table_has_every_id_the_page_uses_in_both_languages():
    table = string_table()
    assert sorted(table) == ["en", "zh-CN"], sorted(table)
    en, zh = table["en"], table["zh-CN"]
    for lang, missing in [("zh-CN", set(en) - set(zh)), ("en", set(zh) - set(en))]:
        assert not missing, f"ids missing from {lang} in {STRINGS.name}: {sorted(missing)}"
    for sid in en:
        assert set(re.findall(r"\{(\w+)\}", en[sid])) == set(re.findall(r"\{(\w+)\}", zh[sid])), \
            f"id {sid!r}: the languages fill in different {{names}}: {en[sid]!r} / {zh[sid]!r}"
        assert zh[sid].strip(), f"id {sid!r}: empty in zh-CN"
    html = PAGE.read_text(encoding="utf-8")
    static = re.findall(r'data-i18n(?:-title|-placeholder)?="([^"]*)"', html)
    called = re.findall(r'\bt\(\s*"([^"]*)"\s*[,)]', html)
    assert static and called, "found no data-i18n attribute or t(\"…\") call: did the page change shape?"
    for sid in static + called + ["label_" + s for s in KEY_STATES]:
        for lang, strings in table.items():
            assert sid in strings, f"the page uses the string id {sid!r}, missing from {lang} in {STRINGS.name}"


def page_text(browser):
    """All the words the page shows now, read in one step: the visible text, the document's title
    and every title and placeholder attribute."""
    return browser.execute_script("""
        const parts = [document.title, document.body.innerText];
        for (const e of document.querySelectorAll("[title], [placeholder]"))
            parts.push(e.getAttribute("title") || "", e.getAttribute("placeholder") || "");
        return parts.join("\\n");""")


def data_values(gw):
    """Every data value the page may show, from the gateway's own answers."""
    def get(path):
        req = urllib.request.Request(gw.url + path, headers={"x-api-key": CLIENT_KEY})
        with urllib.request.urlopen(req, timeout=10) as r:
            return json.loads(r.read())
    st, recent, usage = get("/v1/keys/status"), get("/v1/requests"), get("/v1/usage")
    values = set()
    for k in st["keys"]:
        values |= {k["id"], k["key"], k["group"], *k["cooldowns"], *k["ejections"], *k["lacking_models"]}
        for kind in ("cooldowns", "ejections", "lacking"):
            for e in (k["evidence"].get(kind) or {}).values():
                values |= {e["words"], e.get("request_id") or ""}
    for g in st["groups"]:
        values |= {g["name"], *g["models"]}
        for field, e in (g.get("learned_limits") or {}).items():
            values |= {field, e["words"], e.get("request_id") or ""}
    models = st["models"]
    values |= {models["big_model"]["model"], models["small_model"]["model"]}
    for m in models["catalog"]["models"]:
        values |= {m["id"], m["family"], *m["api_versions"]}
    for r in recent["requests"]:
        values |= {r["surface"], r["model"] or "", r["client"], r["request_id"], r["key"] or ""}
    values |= {r["model"] for r in usage.get("keys", [])}
    values |= {r["project"] for r in usage.get("projects", [])}
    values |= {r["client"] for r in usage.get("clients", [])}
    return sorted((v for v in values if v), key=len, reverse=True)


def english_left(text, data):
    """The Latin words of `text` once the data values and the names kept are taken out (longest
    first, so "gemini-gateway" goes whole before the surface "gemini"). Runs of white space count
    as one, as the page shows them."""
    def squeeze(s):
        return re.sub(r"\s+", " ", s)
    text = squeeze(text)
    for value in sorted({squeeze(v) for v in data} | set(KEPT_IN_CHINESE), key=len, reverse=True):
        text = re.sub(r"(?<![A-Za-z0-9_])" + re.escape(value) + r"(?![A-Za-z0-9_])", " ", text)
    return sorted(set(re.findall(r"[A-Za-z]{2,}", text)))


def wait_for_a_full_page(browser, gw, mock_server):
    """A pool with usage, recent requests, a rested key with its evidence and a learned group
    limit, all drawn on the page; the key that rested."""
    from selenium.webdriver.common.by import By

    mock_server.reset()
    generate(gw)
    connect(browser, gw)
    rested = rest_a_key(gw, mock_server)
    wait_for("the cooldown's evidence on the page",
             lambda: "You exceeded your current quota" in rows(browser).get(rested["id"], {}).get("why", ""))
    for table in ("groups", "models", "usage", "spend", "recent"):
        wait_for(f"the {table} table", lambda: browser.find_elements(By.CSS_SELECTOR, f"#{table} tbody tr"))
    return rested


def rest_the_other_keys(gw, mock_server):
    """After rest_a_key: the second key's project hits its monthly spending cap (a billing rest),
    Google rejects the third key (disabled); both drawn on the page."""
    mock_server.script(KEYS[1], {"type": "spend_cap_monthly"}, times=1)
    mock_server.script(KEYS[2], {"type": "key_invalid"}, times=1)

    def states():
        try:
            generate(gw)
        except urllib.error.HTTPError:
            pass  # every key out: the client is told so
        return {k["state"] for k in status(gw)["keys"]} >= {"billing", "disabled"}
    wait_for("a billing rest and a disabled key", states)


def headings(browser):
    return browser.execute_script("return [...document.querySelectorAll('h2')].map(h => h.textContent)")


ENGLISH_HEADINGS = ["Pool", "Keys", "Quota groups", "Models", "Usage today (UTC)",
                    "Spend (by the price table)", "Recent requests"]


def test_a_chinese_browser_gets_the_dashboard_with_no_english_left(browser_zh, mock_server):
    from selenium.webdriver.common.by import By

    with start_gateway(mock_server, GATEWAY_API_KEYS=CLIENT_KEY, ADMIN_API_KEY=ADMIN_KEY) as gw:
        rested = wait_for_a_full_page(browser_zh, gw, mock_server)
        rest_the_other_keys(gw, mock_server)
        wait_for("every state on the page",
                 lambda: sorted(r["state"] for r in rows(browser_zh).values()) == ["冷却中", "已禁用", "计费暂停"])
        # The server chose the language (from Accept-Language), not a stored choice.
        assert browser_zh.execute_script("return document.documentElement.lang") == "zh-CN"
        assert browser_zh.execute_script("return localStorage.getItem('dashboard-lang')") is None
        assert headings(browser_zh)[0] == "密钥池"
        assert rows(browser_zh)[rested["id"]]["state"] == "冷却中"
        text = page_text(browser_zh)
        left = english_left(text, data_values(gw))
        assert not left, f"English words on the Chinese page: {left}\n---\n{text}"

        # A confirm() prompt speaks Chinese too (answered "no": nothing is removed).
        browser_zh.execute_script("window.confirm = m => { window.asked = m; return false; }")
        click_button(browser_zh, rested["id"], "移除")
        asked = wait_for("the confirm prompt", lambda: browser_zh.execute_script("return window.asked"))
        assert asked == f"移除密钥 {rested['key']}？", asked
        # And so does an error: a wrong client key.
        field = browser_zh.find_element(By.ID, "client-key")
        field.clear()
        field.send_keys("not-the-client-key")
        browser_zh.find_element(By.ID, "connect").click()
        shown = wait_for("the error", lambda: browser_zh.execute_script(
            "const s = document.getElementById('status'); return s.className === 'error' && s.textContent"))
        assert "请检查客户端密钥" in shown and "HTTP 401" in shown, shown
        # The endpoint that answered 401 is named as it is (whichever of the page's reads failed first).
        assert not english_left(re.sub(r"/v1/\S+", " ", shown), []), shown


def test_the_switch_turns_the_page_english_without_a_reload_and_is_remembered(browser_zh, mock_server):
    with start_gateway(mock_server, GATEWAY_API_KEYS=CLIENT_KEY, ADMIN_API_KEY=ADMIN_KEY) as gw:
        rested = wait_for_a_full_page(browser_zh, gw, mock_server)
        assert headings(browser_zh)[0] == "密钥池"
        browser_zh.execute_script("document.body.dataset.marker = 'same page'")
        browser_zh.find_element("css selector", '#lang button[data-lang="en"]').click()
        assert headings(browser_zh) == ENGLISH_HEADINGS
        assert browser_zh.execute_script("return document.body.dataset.marker") == "same page", "reloaded"
        assert browser_zh.execute_script("return document.documentElement.lang") == "en"
        # The data drawn before the switch is drawn again in English at once.
        assert rows(browser_zh)[rested["id"]]["state"] == "cooling"
        assert "cooldown gemini-3.8-flash" in rows(browser_zh)[rested["id"]]["why"]
        # The choice outlives a reload, over the browser's Chinese Accept-Language.
        browser_zh.refresh()
        assert browser_zh.execute_script("return document.documentElement.lang") == "en"
        wait_for("English headings after a reload", lambda: headings(browser_zh) == ENGLISH_HEADINGS)
        # And back.
        browser_zh.find_element("css selector", '#lang button[data-lang="zh-CN"]').click()
        assert headings(browser_zh)[0] == "密钥池"


def served_lang(gw, accept_language):
    req = urllib.request.Request(gw.url + "/dashboard", headers={"accept-language": accept_language})
    with urllib.request.urlopen(req, timeout=10) as r:
        assert "accept-language" in r.headers.get("vary", "").lower()
        return re.search(r'<html lang="([^"]+)">', r.read().decode()).group(1)


def test_an_english_accept_language_gets_the_english_page(browser, mock_server):
    with start_gateway(mock_server, GATEWAY_API_KEYS=CLIENT_KEY, ADMIN_API_KEY=ADMIN_KEY) as gw:
        assert served_lang(gw, "en") == "en"
        assert served_lang(gw, "en-US,en;q=0.9,zh;q=0.1") == "en"
        assert served_lang(gw, "zh-CN,zh;q=0.9,en;q=0.8") == "zh-CN"
        assert served_lang(gw, "fr") == "en"
        # The default browser here asks for English (en-US).
        assert browser.execute_script("return navigator.language").startswith("en")
        browser.get(gw.url + "/dashboard")
        assert browser.execute_script("return document.documentElement.lang") == "en"
        assert headings(browser) == ENGLISH_HEADINGS
        assert browser.find_element("id", "connect").text == "Connect"
