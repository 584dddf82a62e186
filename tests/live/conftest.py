"""The live tests: the `e2e` stack deployed for real on a Docker Engine the tests start.

A session starts the tests' own dockerd (tests/live/dockerd.py), builds the stand-in images
(tests/live/standins.py, cached by a hash of their inputs) and the Pulumi CLI and providers
(tests/engine/tooling.py, cached the same way), deploys Pulumi.e2e.yaml with `pulumi up`
(tests/live/deploy.py) and, at the end, takes it down with `pulumi destroy`
(test_engine_destroy_live.py) and stops the daemon. Where this machine cannot start a daemon
(not root, no dockerd) the tests skip with that reason, and fail when CI is set.
DATALYPTICA_E2E_KEEP=1 leaves the stack and the daemon running after the session, to look at them
by hand (the stack's state and passphrase are under build/engine-stacks/e2e/).
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest

from harness.offline import ROOT, settings_of
from tests.live.deploy import LiveDeployment, deploy
from tests.live.dockerd import DaemonUnavailable, TestDaemon

STACK = "e2e"
OUTPUT_DIR = Path(os.environ.get("DATALYPTICA_E2E_OUTPUT", ROOT / "build" / "e2e"))
KEEP = os.environ.get("DATALYPTICA_E2E_KEEP") == "1"


# The order the live modules run in, on one deployment of the e2e stack: the stand-ins' own checks,
# then the engine's (a second `up` that changes nothing must come before any fault), the checklist,
# the faults, and last the destroy cases, which take the stack down.
MODULE_ORDER = (
    "test_standin_contracts",
    "test_analytics_standins",
    "test_nessie_standin",
    "test_keycloak_standin",
    "test_engine_live",
    "test_analytics_browser_live",
    "test_analytics_live",
    "test_query_live",
    "test_processing_live",
    "test_streaming_live",
    "test_workflows_live",
    "test_objectstore_live",
    "test_storage_live",
    "test_engine_destroy_live",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    def rank(item: pytest.Item) -> int:
        module = Path(str(item.fspath)).stem
        return MODULE_ORDER.index(module) if module in MODULE_ORDER else -1

    live = [item for item in items if "tests/live/" in str(item.fspath)]
    for item in live:
        item.add_marker(pytest.mark.live)
    ordered = sorted(live, key=rank)  # stable: each module's tests keep their order
    others = [item for item in items if "tests/live/" not in str(item.fspath)]
    items[:] = others + ordered


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
    from tests.live.stack import daemon_api

    return daemon_api(daemon)


@pytest.fixture(scope="session")
def standins(daemon: TestDaemon) -> list:
    from tests.live.standins import build_for

    builds = build_for(daemon)
    record("standins", [{"tag": b.tag, "seconds": round(b.seconds, 1), "cached": b.cached} for b in builds])
    return builds


@pytest.fixture(scope="session")
def e2e(daemon: TestDaemon, standins: list) -> Iterator[LiveDeployment]:
    """Pulumi.e2e.yaml, deployed by `pulumi up`: every container healthy, every job done.

    test_engine_destroy_live.py takes it down with `pulumi destroy` and checks that nothing is
    left; if a session ends before that (a failure, -k), it is destroyed here."""
    remove_leftovers(docker.APIClient(base_url=daemon.host, version="auto"))
    try:
        live = deploy(daemon, STACK)
    except Exception:
        failed = _last_workspace()
        if failed is not None and not KEEP:
            failed.destroy(check=False)
        raise
    record(
        "deploy",
        {
            "seconds": round(live.seconds, 1),
            "containers": {t.name: round(t.seconds, 1) for t in live.timings.values()},
            "changes": live.run.changes(),
        },
    )
    yield live
    if not KEEP and not live.workspace.destroyed:
        live.workspace.destroy(check=False)


@pytest.fixture(scope="session")
def policy_pack() -> Path:
    """The project's policy pack, with the venv its PulumiPolicy.yaml names (as `pulumi install` makes it)."""
    from tests.engine.install import policy_pack_with_venv

    return policy_pack_with_venv()


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


def _last_workspace():
    """The stack of the latest `deploy`, also when its `up` failed (read at call time)."""
    from tests.live import deploy as deploy_module

    return deploy_module.LAST_WORKSPACE


def record(name: str, value: object) -> None:
    """Keep a figure of this run under build/e2e/ (the benchmark and the closing notes read it)."""
    OUTPUT_DIR.mkdir(parents=True, exist_ok=True)
    path = OUTPUT_DIR / "figures.json"
    figures = json.loads(path.read_text()) if path.exists() else {}
    figures[name] = value
    figures["recorded_at"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    path.write_text(json.dumps(figures, indent=2, sort_keys=True))
