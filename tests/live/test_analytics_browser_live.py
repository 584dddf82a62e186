"""What a person sees: headless Chromium logs in to JupyterHub, Superset and Airflow with the
stack's generated admin passwords, and opens MLflow (which has no login in this platform), each
on its published port. A screenshot of each logged-in page is kept under build/e2e/screenshots/.
Runs before test_storage_live.py, which tears the stack down.
"""

from __future__ import annotations

import time

import pytest
from selenium.webdriver.remote.webdriver import WebDriver

from components.analytics.airflow import AIRFLOW_API_PORT
from components.analytics.jupyterhub import JUPYTERHUB_PORT
from components.analytics.mlflow import MLFLOW_PORT
from components.analytics.superset import SUPERSET_PORT
from tests.integration.pgcluster import wait_for
from tests.live.browser import chromium, fill_in_and_submit, wait_for_text
from tests.live.conftest import OUTPUT_DIR
from tests.live.deploy import LiveDeployment
from tests.live.stack import published_url

SCREENSHOTS = OUTPUT_DIR / "screenshots"


@pytest.fixture
def browser():
    with chromium() as driver:
        yield driver


def keep_screenshot(driver: WebDriver, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    assert driver.save_screenshot(str(path)), f"no screenshot of {name}"
    assert path.stat().st_size > 10_000, f"the screenshot of {name} is blank"


def test_a_browser_logs_in_to_jupyterhub(e2e: LiveDeployment, browser: WebDriver):
    url = published_url(e2e, "jupyterhub", JUPYTERHUB_PORT)
    # To the hub's home page, not the default of spawning a notebook server at once.
    browser.get(f"{url}/hub/login?next=/hub/home")
    fill_in_and_submit(
        browser,
        {"#username_input": "admin", "#password_input": e2e.outputs["jupyterhub_admin_password"]},
        "#login_submit",
    )
    wait_for(lambda: browser.current_url.startswith(f"{url}/hub/home"), timeout=60, what="the hub's home page")
    wait_for_text(browser, "body", "Logout")
    wait_for_text(browser, "body", "admin")
    keep_screenshot(browser, "jupyterhub")


def test_a_browser_opens_mlflow_and_sees_its_experiments(e2e: LiveDeployment, browser: WebDriver):
    browser.get(published_url(e2e, "mlflow", MLFLOW_PORT) + "/#/experiments")
    wait_for_text(browser, "body", "Experiments")
    wait_for_text(browser, "body", "Default")  # the experiment every MLflow has
    keep_screenshot(browser, "mlflow")


def log_in_to_superset(browser: WebDriver, e2e: LiveDeployment) -> None:
    """As the admin, through Superset's login page, to its welcome page."""
    url = published_url(e2e, "superset", SUPERSET_PORT)
    browser.get(f"{url}/login/")
    # The login page queues UI events and sends them every 2 s, and at unload. Sent at unload, the
    # request still has the anonymous session: its answer (a redirect to /login/) can arrive after
    # the login's and put the anonymous cookie back, logging the user out again (1 run in 3 here
    # when the form was submitted at once). A person takes longer than 3 s to type.
    time.sleep(3)
    fill_in_and_submit(
        browser, {"#username": "admin", "#password": e2e.outputs["superset_admin_password"]}, "button[type=submit]"
    )
    wait_for(lambda: "/superset/welcome" in browser.current_url, timeout=60, what="Superset's welcome page")


def test_a_browser_logs_in_to_superset(e2e: LiveDeployment, browser: WebDriver):
    log_in_to_superset(browser, e2e)
    wait_for_text(browser, "body", "Dashboards")
    keep_screenshot(browser, "superset")


def test_a_browser_logs_in_to_airflow(e2e: LiveDeployment, browser: WebDriver):
    url = published_url(e2e, "airflow-apiserver", AIRFLOW_API_PORT)
    browser.get(f"{url}/auth/login/")
    fill_in_and_submit(
        browser, {"#username": "admin", "#password": e2e.outputs["airflow_admin_password"]}, "input[type=submit]"
    )
    wait_for(lambda: "/auth/login" not in browser.current_url, timeout=60, what="off Airflow's login page")
    wait_for_text(browser, "body", "Welcome")  # the React home page, shown to a logged-in user only
    keep_screenshot(browser, "airflow")
