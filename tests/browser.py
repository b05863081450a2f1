"""A real headless browser for the tests: Debian's chromium driven by selenium.

``.ci/run`` installs chromium and chromium-driver; a test that needs the browser skips with
the reason only where neither can be found. The flags are the ones this machine's Chromium
needs offline (no background networking, no first-run work, no GPU) and, as root, no sandbox.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
DRIVER = shutil.which("chromedriver")


def require_browser() -> None:
    """Skip the calling test, with the reason, where no browser can run."""
    if not (CHROMIUM and DRIVER):
        pytest.skip("no chromium and chromedriver on this machine (Debian: apt-get install "
                    "chromium chromium-driver; .ci/run installs them)")
    try:
        import selenium  # noqa: F401
    except ImportError:
        pytest.skip("selenium is not installed (pip install selenium)")


@contextmanager
def chromium(width: int = 1200, height: int = 900) -> Iterator:
    """A headless Chromium session (selenium WebDriver) with its console log kept."""
    require_browser()
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    profile = tempfile.mkdtemp(prefix="initkit-chromium-")
    for flag in ("--headless=new", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--disable-dev-shm-usage", f"--user-data-dir={profile}",
                 f"--window-size={width},{height}"):
        options.add_argument(flag)
    if os.geteuid() == 0:
        options.add_argument("--no-sandbox")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(DRIVER), options=options)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def console_errors(driver) -> list[str]:
    """The page's console messages of level SEVERE."""
    return [e["message"] for e in driver.get_log("browser") if e.get("level") == "SEVERE"]


def screenshot(driver, name: str, folder: Path) -> Path:
    """Save a full-page PNG as ``folder/name``; with ``INITKIT_SCREENSHOTS=DIR`` also there
    (how docs/images/ is refreshed)."""
    height = driver.execute_script("return document.body.scrollHeight")
    driver.set_window_size(driver.get_window_size()["width"], max(600, min(height, 4000)))
    path = folder / name
    driver.save_screenshot(str(path))
    if os.environ.get("INITKIT_SCREENSHOTS"):
        shutil.copy2(path, Path(os.environ["INITKIT_SCREENSHOTS"]) / name)
    return path


def element_screenshot(driver, elements: list, name: str, folder: Path, margin: int = 8) -> Path:
    """Save the part of the window that holds ``elements`` (their union, plus ``margin``
    pixels) as ``folder/name``, scrolled into view first; with ``INITKIT_SCREENSHOTS=DIR``
    also there."""
    from io import BytesIO

    from PIL import Image

    driver.execute_script("arguments[0].scrollIntoView({block: 'start'})", elements[0])
    boxes = [driver.execute_script(
        "const r = arguments[0].getBoundingClientRect(); return [r.left, r.top, r.right, r.bottom]",
        e) for e in elements]
    scale = driver.execute_script("return window.devicePixelRatio") or 1
    shot = Image.open(BytesIO(driver.get_screenshot_as_png()))
    left, top = min(b[0] for b in boxes) - margin, min(b[1] for b in boxes) - margin
    right, bottom = max(b[2] for b in boxes) + margin, max(b[3] for b in boxes) + margin
    box = tuple(int(round(v * scale)) for v in (max(left, 0), max(top, 0), right, bottom))
    box = (box[0], box[1], min(box[2], shot.width), min(box[3], shot.height))
    path = folder / name
    shot.crop(box).save(path)
    if os.environ.get("INITKIT_SCREENSHOTS"):
        target = Path(os.environ["INITKIT_SCREENSHOTS"])
        target.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, target / name)
    return path
