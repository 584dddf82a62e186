"""Headless Chromium from Debian (.ci/install.d/60-browser.sh), driven with Selenium through
Debian's ChromeDriver: nothing is downloaded at test time, and the flags keep Chromium from
calling out of this machine (its closed network refuses every such call)."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import WebDriverWait

from tests.required_tools import missing_tool

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
FLAGS = (
    "--headless=new",
    "--no-sandbox",  # the tests run as root
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--window-size=1366,900",
)
WAIT_SECONDS = 60


@contextmanager
def chromium() -> Iterator[WebDriver]:
    """A fresh browser with an empty profile, quit afterwards."""
    if not (Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()):
        missing_tool(f"{CHROMIUM} and {CHROMEDRIVER} (Debian's chromium and chromium-driver) are not installed")
    profile = tempfile.mkdtemp(prefix="datalyptica-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (*FLAGS, f"--user-data-dir={profile}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(WAIT_SECONDS)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def fill_in_and_submit(driver: WebDriver, fields: dict[str, str], submit: str) -> None:
    """Type into the inputs named by CSS selector, then click the `submit` element, as a person would."""
    wait = WebDriverWait(driver, WAIT_SECONDS)
    for selector, text in fields.items():
        element = wait.until(expected_conditions.visibility_of_element_located((By.CSS_SELECTOR, selector)))
        element.clear()
        element.send_keys(text)
    wait.until(expected_conditions.element_to_be_clickable((By.CSS_SELECTOR, submit))).click()


def wait_for_text(driver: WebDriver, selector: str, text: str) -> None:
    WebDriverWait(driver, WAIT_SECONDS).until(
        expected_conditions.text_to_be_present_in_element((By.CSS_SELECTOR, selector), text)
    )
