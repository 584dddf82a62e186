"""The live tests: the `e2e` stack deployed for real on a Docker Engine the tests start.

A session starts the tests' own dockerd (tests/live/dockerd.py), builds the stand-in images
(tests/live/standins.py, cached by a hash of their inputs), deploys Pulumi.e2e.yaml through
the live test engine (tests/live/engine.py) and, at the end, removes everything it created and
stops the daemon. Where this machine cannot start a daemon (not root, no dockerd) the tests
skip with that reason, and fail when CI is set. DATALYPTICA_E2E_KEEP=1 leaves the stack and
the daemon running after the session, to look at them by hand.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest

from scripts.offline import ROOT, settings_of, stack_config
from tests.live.dockerd import DaemonUnavailable, TestDaemon
from tests.live.engine import LiveDeployment, deploy

STACK = "e2e"
OUTPUT_DIR = Path(os.environ.get("DATALYPTICA_E2E_OUTPUT", ROOT / "build" / "e2e"))
KEEP = os.environ.get("DATALYPTICA_E2E_KEEP") == "1"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/live/" in str(item.fspath):
            item.add_marker(pytest.mark.live)


@pytest.fixture(scope="session")
def daemon() -> Iterator[TestDaemon]:
    daemon = TestDaemon()
    try:
        started = daemon.start()
    except DaemonUnavailable as reason:
        if os.environ.get("CI"):
            pytest.fail(f"the live tests must run in CI: {reason}")
        pytest.skip(f"live tests: {reason}")
    yield daemon
    if started and not KEEP:
        daemon.stop()


@pytest.fixture(scope="session")
def api(daemon: TestDaemon) -> docker.APIClient:
    return docker.APIClient(base_url=daemon.host, version="auto", timeout=300)


@pytest.fixture(scope="session")
def standins(daemon: TestDaemon) -> list:
    from tests.live.standins import build_for

    builds = build_for(daemon)
    record("standins", [{"tag": b.tag, "seconds": round(b.seconds, 1), "cached": b.cached} for b in builds])
    return builds


@pytest.fixture(scope="session")
def e2e(daemon: TestDaemon, standins: list) -> Iterator[LiveDeployment]:
    """Pulumi.e2e.yaml, deployed: every registration returned (containers healthy, jobs done)."""
    remove_leftovers(docker.APIClient(base_url=daemon.host, version="auto"))
    try:
        live = deploy(stack_config(STACK), daemon, stack=STACK)
    except Exception:
        leftovers = _engine_of_failed_deploy()
        if leftovers is not None and not KEEP:
            leftovers.teardown()
        raise
    record(
        "deploy",
        {
            "seconds": round(live.seconds, 1),
            "containers": {t.name: round(t.seconds, 1) for t in live.mocks.timings.values()},
            "images": {name: round(s, 1) for name, s in live.mocks.image_builds.items()},
        },
    )
    yield live
    if not KEEP and live.mocks.created:
        problems = live.mocks.teardown()
        assert not problems, f"teardown left: {problems}"


@pytest.fixture(scope="session")
def e2e_settings():
    return settings_of(STACK)


def remove_leftovers(api: docker.APIClient) -> None:
    """What an earlier session kept (DATALYPTICA_E2E_KEEP=1) of this stack on the tests' own daemon."""
    prefix = settings_of(STACK).prefix + "-"
    for container in api.containers(all=True, filters={"label": f"datalyptica.stack={STACK}"}):
        api.remove_container(container["Id"], force=True)
    for network in api.networks(filters={"label": "datalyptica.network"}):
        if network["Name"].startswith(prefix):
            # Notebooks DockerSpawner started on the stack's network carry no label of the stack.
            for container in api.containers(all=True, filters={"network": network["Id"]}):
                api.remove_container(container["Id"], force=True)
            api.remove_network(network["Id"])
    # The stack's volumes, and the notebook volumes DockerSpawner made (named by the stack's prefix).
    for volume in api.volumes().get("Volumes") or []:
        if volume["Name"].startswith(prefix):
            api.remove_volume(volume["Name"], force=True)


def _engine_of_failed_deploy():
    from tests.live import engine

    return engine.LAST_ENGINE


def record(name: str, value: object) -> None:
    """Keep a figure of this run under build/e2e/ (the benchmark and the closing notes read it)."""
    OUTPUT_DIR.mkdir(parents=True, exist_ok=True)
    path = OUTPUT_DIR / "figures.json"
    figures = json.loads(path.read_text()) if path.exists() else {}
    figures[name] = value
    figures["recorded_at"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    path.write_text(json.dumps(figures, indent=2, sort_keys=True))
