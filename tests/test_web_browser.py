"""The Now page in a real browser: Debian's headless Chromium against the page served by waitress.

After a measurement through the real pipeline (scripted head, see web_fixtures), the page must
show the verdict and the server-drawn spectrum, at a desktop size and at a phone's viewport
(390 × 844 CSS px, mobile emulation), without horizontal scrolling; a new result must arrive
by itself through the live stream; and the essentials must work as plain forms (log in, tag,
measure). Screenshots go to ``artifacts/web/`` (gitignored); their paths are printed.
"""
import os
import shutil
from pathlib import Path

import pytest

from firmware.config import load_config
from firmware.web.serve import PageServer
from web_fixtures import *  # noqa: F401,F403
from web_fixtures import PASSWORD, PET, PLA, WL, make_app, white

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts" / "web"


@pytest.fixture
def browser(tmp_path_factory):
    missing = [p for p in (CHROMIUM, CHROMEDRIVER) if not (os.path.exists(p) or shutil.which(p))]
    if missing:
        pytest.skip(f"real browser test needs Debian's chromium and chromium-driver: {', '.join(missing)} missing")
    webdriver = pytest.importorskip("selenium.webdriver")
    from selenium.webdriver.chrome.service import Service
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--disable-gpu", "--no-first-run", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--window-size=1280,1000",
                f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}"):
        options.add_argument(arg)
    if os.geteuid() == 0:
        options.add_argument("--no-sandbox")  # Chromium refuses to run as root with its sandbox
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(20)
    yield driver
    driver.quit()


@pytest.fixture
def served(rig, pw_hash):
    app = make_app(rig, pw_hash, sse_heartbeat_s=1.0)
    server = PageServer(app, load_config(None, {"http": {"bind": "127.0.0.1", "port": 0}}).http)
    server.start()
    yield server
    server.stop()


def shot(driver, name, *, full_page=False):
    """Save a screenshot (the viewport, or the whole page through the DevTools protocol)."""
    import base64
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / name
    if full_page:
        data = driver.execute_cdp_cmd("Page.captureScreenshot", {"captureBeyondViewport": True, "format": "png"})
        path.write_bytes(base64.b64decode(data["data"]))
    else:
        driver.save_screenshot(str(path))
    print(f"screenshot: {path}")
    return path


def wait(driver, condition, timeout=10):
    """Wait for ``condition``; on timeout keep the page (source and screenshot) for the post-mortem."""
    from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException, TimeoutException
    from selenium.webdriver.support.ui import WebDriverWait
    # The live panel is replaced while we look at it: a stale or missing element just means "look again".
    retry = (NoSuchElementException, StaleElementReferenceException)
    try:
        return WebDriverWait(driver, timeout, poll_frequency=0.1, ignored_exceptions=retry).until(condition)
    except TimeoutException:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        (ARTIFACTS / "timeout.html").write_text(driver.page_source)
        shot(driver, "timeout.png", full_page=True)
        raise


def check_now_page(driver, headline: str):
    from selenium.webdriver.common.by import By
    assert driver.find_element(By.ID, "verdict-headline").text.endswith(headline)
    trace = driver.find_element(By.CSS_SELECTOR, "svg#spectrum-plot polyline.trace")
    assert len(trace.get_attribute("points").split()) == WL.size
    assert driver.find_element(By.CSS_SELECTOR, "svg#spectrum-plot path.band").is_displayed()
    svg = driver.find_element(By.ID, "spectrum-plot")
    assert svg.size["width"] > 300 and svg.size["height"] > 150  # drawn, and not collapsed


def test_now_page_desktop_phone_live_and_forms(rig, served, browser):
    from selenium.webdriver.common.by import By
    white(rig)
    rig.head.put(PET)
    rig.measurement.measure({"sample_id": "S-1", "merchant": "Shop A", "claimed_material": "PLA"}, trigger="button")
    driver = browser

    driver.get(served.url + "/")
    check_now_page(driver, "PET")
    page = driver.find_element(By.TAG_NAME, "body").text
    assert "NOT BIODEGRADABLE" in page and "Claim does not match: claimed PLA" in page
    assert shot(driver, "now-desktop.png").stat().st_size > 10_000

    # Phone: 390 × 844 CSS pixels with mobile emulation; nothing may need sideways scrolling.
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                           {"width": 390, "height": 844, "deviceScaleFactor": 2, "mobile": True})
    driver.get(served.url + "/")
    check_now_page(driver, "PET")
    assert driver.execute_script("return document.documentElement.scrollWidth") <= 390
    assert driver.find_element(By.ID, "spectrum-plot").size["width"] <= 390
    size = driver.execute_script("return parseFloat(getComputedStyle(document.getElementById("
                                 "'verdict-headline')).fontSize)")
    assert size >= 38  # the big verdict stays big on a phone
    assert shot(driver, "now-phone.png").stat().st_size > 10_000
    shot(driver, "now-phone-full.png", full_page=True)

    # Live: a result from the device's button appears without reloading (SSE through waitress).
    driver.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
    driver.get(served.url + "/")
    wait(driver, lambda d: d.execute_script("return document.readyState") == "complete")
    rig.head.put(PLA)
    rig.measurement.measure({"sample_id": "S-2"}, trigger="button")
    wait(driver, lambda d: d.find_element(By.ID, "verdict-headline").text.endswith("PLA"))
    wait(driver, lambda d: "#2" in d.find_element(By.CLASS_NAME, "verdict-meta").text)
    wait(driver, lambda d: d.find_element(By.ID, "badge").text.endswith("BIODEGRADABLE"))
    assert "NOT" not in driver.find_element(By.ID, "badge").text

    # Plain forms: log in (CSRF, cookie), tag the item and press the page's trigger.
    driver.get(served.url + "/login?next=/")
    driver.find_element(By.ID, "password").send_keys(PASSWORD)
    driver.find_element(By.CSS_SELECTOR, "form button[type=submit].trigger").click()
    wait(driver, lambda d: d.find_elements(By.ID, "trigger"))
    rig.head.put(PET)
    driver.find_element(By.ID, "f-merchant").send_keys("Shop C")
    driver.find_element(By.ID, "trigger").click()
    wait(driver, lambda d: "Result #3 stored: PET" in d.find_element(By.TAG_NAME, "body").text)
    assert rig.journal.get(3)["sample"]["merchant"] == "Shop C"
    shot(driver, "now-after-page-measure.png", full_page=True)

    # The form's second action (formaction, no script): tag the next press of the device's button.
    driver.find_element(By.ID, "f-sample_id").send_keys("S-4")
    driver.find_element(By.ID, "tag-next").click()
    wait(driver, lambda d: d.find_elements(By.ID, "pending-tags"))
    assert "Next button press will be tagged:" in driver.find_element(By.ID, "pending-tags").text
    assert rig.measurement.measure({}, trigger="button")["sample"]["sample_id"] == "S-4"
    wait(driver, lambda d: not d.find_elements(By.ID, "pending-tags"))   # the live panel: used up
