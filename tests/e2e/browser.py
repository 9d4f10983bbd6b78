"""Headless Chromium (Debian's chromium + chromium-driver) through Selenium; nothing downloaded."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from selenium import webdriver
from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.chrome.webdriver import WebDriver

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-dev-shm-usage",
)  # fmt: skip
SCREENSHOTS = Path(__file__).resolve().parent / "screenshots"


@contextmanager
def chromium(width: int = 1280, height: int = 900, *, phone: bool = False) -> Iterator[WebDriver]:
    """A headless Chromium window of the given size (a phone's viewport), quit afterwards."""
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--window-size={width},{height}")
    if phone:
        metrics = {"width": width, "height": height, "pixelRatio": 2.0}
        options.add_experimental_option("mobileEmulation", {"deviceMetrics": metrics})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    try:
        yield driver
    finally:
        driver.quit()


def shot(driver: WebDriver, name: str) -> Path:
    """Save a full-window screenshot under tests/e2e/screenshots/."""
    SCREENSHOTS.mkdir(exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    driver.save_screenshot(str(path))
    return path


def eventually(
    check: Callable[[], bool], *, timeout: float, what: str, refresh: WebDriver | None = None
) -> None:
    """Poll `check` (reloading the page between tries when `refresh` is given); a page that is
    still loading (stale or missing element) counts as not yet."""
    deadline = time.monotonic() + timeout
    while not _holds(check):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.3)
        if refresh is not None:
            refresh.refresh()


def _holds(check: Callable[[], bool]) -> bool:
    try:
        return check()
    except (StaleElementReferenceException, NoSuchElementException):
        return False
