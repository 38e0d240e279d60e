"""Debian's headless Chromium driven by selenium (its chromedriver: nothing is downloaded),
for the dashboard's browser tests, its benchmark and its screenshots."""
from __future__ import annotations

import os
import shutil

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# where tests leave their screenshots (CI keeps the folder as the run's artifacts)
ARTIFACTS = os.environ.get("TEST_ARTIFACTS", os.path.join(ROOT, "tmp", "artifacts"))


def missing() -> str | None:
    """Why no browser can run here, or None."""
    for path in (CHROMIUM, CHROMEDRIVER):
        if not os.path.exists(path):
            return f"{path} is not installed (apt-get install chromium chromium-driver)"
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed (pip install -e '.[test]')"
    return None


def chromium(width: int = 1400, height: int = 900):
    """A headless Chromium; quit() it when done."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                f"--window-size={width},{height}"):
        opts.add_argument(arg)
    return webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)


def screenshot(driver, name: str, folder: str = ARTIFACTS) -> str:
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, name)
    driver.save_screenshot(path)
    return path


# The page redraws a part by replacing its HTML, so an element found a moment ago may be
# gone (selenium's StaleElementReferenceException). These read and click in one script,
# which runs between two redraws.
def texts(driver, css: str) -> list[str]:
    """The text of every element matching ``css``, now."""
    return driver.execute_script(
        "return [...document.querySelectorAll(arguments[0])].map(e => e.textContent)", css)


def click(driver, css: str) -> bool:
    """Click the first element matching ``css``; False if there is none."""
    return driver.execute_script(
        "const e = document.querySelector(arguments[0]); if (e) e.click(); return !!e;", css)
