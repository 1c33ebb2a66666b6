"""The studio in a real headless browser (Debian's chromium + chromium-driver, driven by selenium).

A daemon with the preview world runs on its own event-loop thread; the browser opens the page,
starts a world from an uploaded image, walks, sends an event, and closes the tab. The page's
screenshot is kept as an artifact: ``out/artifacts/studio.png`` (or under ``YUME_ARTIFACTS``).
"""

from __future__ import annotations

import asyncio
import io
import os
import shutil
import sys
import threading
import time
from concurrent.futures import Future
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.conftest import REPO, jpeg_bytes
from yume_bridge.config import BridgeConfig, NetworkConfig, WebConfig

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
SELENIUM_MISSING = False
try:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait
except ImportError:
    SELENIUM_MISSING = True

if SELENIUM_MISSING:
    MISSING = "selenium is not installed (pip install -e '.[test]')"
elif not (CHROMIUM and CHROMEDRIVER):
    MISSING = ("chromium and chromedriver are not installed (on Debian/Ubuntu scripts/install-system-deps.sh "
               "installs chromium and chromium-driver)")
else:
    MISSING = ""
MUST_RUN = bool(os.environ.get("CI")) and sys.platform.startswith("linux")  # CI on Linux never skips it
pytestmark = [pytest.mark.slow, pytest.mark.skipif(bool(MISSING) and not MUST_RUN, reason=MISSING)]

PATIENCE_S = 30  # generous: a loaded 2-core machine runs the daemon and a browser side by side


WITH_TOKEN = BridgeConfig(network=NetworkConfig(port=0, token="s3cret"), web=WebConfig(enabled=True, port=0))


@pytest.fixture
def studio_daemon(request):
    """A daemon (preview world, studio on a free port) on an event loop of its own thread."""
    from yume_bridge.daemon.app import run_bridge

    config = getattr(request, "param", None) or BridgeConfig(network=NetworkConfig(port=0),
                                                              web=WebConfig(enabled=True, port=0))
    loop = asyncio.new_event_loop()
    ready: Future = Future()
    stop: dict = {}

    async def serve() -> None:
        stop["event"] = asyncio.Event()
        started = loop.create_future()
        task = asyncio.create_task(run_bridge(config, stop=stop["event"], started=started))
        bridge, _ = await started
        ready.set_result(bridge)
        await task

    thread = threading.Thread(target=lambda: loop.run_until_complete(serve()), daemon=True)
    thread.start()
    bridge = ready.result(15)
    yield bridge
    loop.call_soon_threadsafe(stop["event"].set)
    thread.join(10)
    loop.close()


@pytest.fixture
def downloads(tmp_path) -> Path:
    folder = tmp_path / "downloads"
    folder.mkdir()
    return folder


@pytest.fixture
def browser(downloads):
    if MISSING:
        pytest.fail(f"the browser test must run in CI on Linux: {MISSING}")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    options.add_experimental_option("prefs", {"download.default_directory": str(downloads),
                                              "download.prompt_for_download": False})
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                     "--window-size=1360,820", "--mute-audio", "--disable-extensions"):
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    driver.set_script_timeout(PATIENCE_S)
    yield driver
    driver.quit()


@pytest.fixture
def artifacts() -> Path:
    folder = Path(os.environ.get("YUME_ARTIFACTS", REPO / "out" / "artifacts"))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _studio(driver, expression: str):
    return driver.execute_script(f"return window.yumeStudio && window.yumeStudio.{expression};")


def _wait(driver, condition, message: str):
    return WebDriverWait(driver, PATIENCE_S, poll_frequency=0.1).until(lambda d: condition(d), message)


def _canvas_pixels(driver) -> np.ndarray:
    png = driver.find_element(By.ID, "view").screenshot_as_png
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB"), dtype=np.int16)


def test_the_studio_walks_a_world_from_an_uploaded_image_and_a_closed_tab_frees_the_session(
        studio_daemon, browser, artifacts, downloads, tmp_path):
    host, port = studio_daemon.studio.local_address
    image = tmp_path / "concept.jpg"
    image.write_bytes(jpeg_bytes(640, 400, seed=5))
    browser.get("about:blank")
    blank_tab = browser.current_window_handle
    browser.switch_to.new_window("tab")
    browser.get(f"http://{host}:{port}/")
    _wait(browser, lambda d: _studio(d, "state") in ("ready", "generating"), "the page never connected")
    assert len(studio_daemon.sessions) == 1

    browser.find_element(By.ID, "image-input").send_keys(str(image))
    _wait(browser, lambda d: d.find_element(By.ID, "thumb").is_displayed(), "the chosen image is not shown")
    browser.find_element(By.ID, "start").click()
    keys = ActionChains(browser)
    keys.key_down("w").perform()
    _wait(browser, lambda d: _studio(d, "action.name") == "W", "walking forward never reached the picture")
    first = _canvas_pixels(browser)
    time.sleep(0.6)
    second = _canvas_pixels(browser)
    assert np.abs(first - second).mean() > 1.0, "the canvas does not change while walking"
    assert first.std() > 10, "the canvas shows no picture"

    keys.key_up("w").key_down("d").perform()
    _wait(browser, lambda d: _studio(d, "action.name") == "D", "pressing D never changed the applied action")
    assert _studio(browser, "action.id") == 4 * 9  # movement D (4), look none (0): SPEC §7

    event_id = browser.execute_script("return window.yumeStudio.sendEvent('a dragon circles the tower');")
    _wait(browser, lambda d: event_id in _studio(d, "eventsAcked"), "the event was never acknowledged")
    ActionChains(browser).key_up("d").perform()
    assert _studio(browser, "lastError") is None
    assert _studio(browser, "framesReceived") > 10
    browser.save_screenshot(str(artifacts / "studio.png"))

    browser.find_element(By.ID, "record").click()
    time.sleep(1.5)
    browser.find_element(By.ID, "record").click()  # stop: the page saves a WebM file
    _wait(browser, lambda d: [f for f in downloads.glob("*.webm") if f.stat().st_size > 1000],
          "the recording was never saved")
    assert next(downloads.glob("*.webm")).read_bytes()[:4] == b"\x1a\x45\xdf\xa3"  # EBML: a WebM file

    browser.close()  # the tab goes: its session must go at once, not after the idle timeout
    browser.switch_to.window(blank_tab)
    deadline = time.monotonic() + 5
    while studio_daemon.sessions and time.monotonic() < deadline:
        time.sleep(0.05)
    assert studio_daemon.sessions == {}, "closing the tab left the session open"


@pytest.mark.parametrize("studio_daemon", [WITH_TOKEN], indirect=True)
def test_the_page_proves_the_token_from_its_address_explains_a_wrong_one_and_steers_by_gamepad(studio_daemon, browser):
    host, port = studio_daemon.studio.local_address
    browser.get(f"http://{host}:{port}/#token=wrong")
    _wait(browser, lambda d: (_studio(d, "lastError") or {}).get("code") == "auth_failed", "no auth_failed error")
    assert browser.find_element(By.ID, "token-row").is_displayed()
    assert "token is wrong" in browser.find_element(By.ID, "error").text
    assert studio_daemon.sessions == {}

    browser.get("about:blank")
    browser.get(f"http://{host}:{port}/#token=s3cret")
    _wait(browser, lambda d: _studio(d, "state") in ("ready", "generating"), "the page never connected")
    assert "authenticated" in browser.find_element(By.ID, "model").text
    browser.execute_async_script("window.yumeStudio.start().then(arguments[0]);")  # the daemon's default start
    _wait(browser, lambda d: _studio(d, "framesReceived") >= 3, "no frames in a token session")
    _wait(browser, lambda d: _studio(d, "state") == "generating", "status never said generating")  # next status
    assert _studio(browser, "lastError") is None

    # A gamepad whose left stick is pushed left (the Gamepad API, stood in for: headless has no pads).
    browser.execute_script("navigator.getGamepads = () => [{connected: true, axes: [-0.9, 0, 0, 0]}];")
    _wait(browser, lambda d: _studio(d, "action.name") == "A", "the gamepad's stick never steered")
