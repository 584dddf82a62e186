"""The live tests deploy the way users do: the real `pulumi` CLI, on the tests' own Docker Engine.

`deploy` creates a stack of this project (tests/engine/workspace.py: a local file backend, a
passphrase, the CLI and providers built by tests/engine/tooling.py), points `docker:host` at the
tests' daemon, and runs `pulumi up`. What it made is read back from the state. A fault test that
needs `pulumi up` to replace a container runs `pulumi up --target-replace` (`replace`); one that
needs a consumer like the platform's deploys it as a probe stack (tests/live/probe/) through the
same providers (`Probe`).
"""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import docker

from harness.offline import ROOT, Deployment, Registered
from tests.engine.install import engine_tools
from tests.engine.workspace import Run, Workspace
from tests.live.dockerd import TestDaemon

STACKS_DIR = ROOT / "build" / "engine-stacks"
PROBE_PROJECT = Path(__file__).resolve().parent / "probe"


@dataclass
class ContainerTiming:
    """When Docker created a container and when it was first ready (healthy, or exited for a job),
    in seconds since the epoch, from the daemon's events."""

    name: str
    created: float
    ready: float
    exit_code: int | None = None

    @property
    def seconds(self) -> float:
        return self.ready - self.created


@dataclass
class LiveDeployment:
    """A stack deployed by `pulumi up`: its workspace, and what its state holds."""

    workspace: Workspace
    deployment: Deployment
    run: Run
    timings: dict[str, ContainerTiming] = field(default_factory=dict)

    @property
    def outputs(self) -> dict[str, Any]:
        return self.deployment.outputs

    @property
    def seconds(self) -> float:
        return self.run.seconds

    def reload(self) -> None:
        """Read the state again (after an `up` that replaced something: new ids)."""
        self.deployment = self.workspace.deployment()


def workspace(
    stack: str,
    daemon: TestDaemon,
    *,
    config: dict[str, Any] | None = None,
    source: Path = ROOT,
    folder: str | None = None,
) -> Workspace:
    """A new stack of `source`'s project under the real CLI, its Docker provider on the tests'
    daemon, in build/engine-stacks/<folder> (the stack's name by default)."""
    tools = engine_tools()
    space = Workspace(
        stack,
        STACKS_DIR / (folder or stack),
        tools.cli,
        tools.home,
        env_extra={"DOCKER_HOST": daemon.host},
    )
    space.create({"docker:host": daemon.host, **(config or {})}, source=source)
    return space


def deploy(daemon: TestDaemon, stack: str = "e2e", *, config: dict[str, Any] | None = None) -> LiveDeployment:
    """`pulumi up` of Pulumi.<stack>.yaml on the tests' daemon. If it fails, the stack is left for
    the caller to destroy (`Workspace.destroy`)."""
    space = workspace(stack, daemon, config=config)
    global LAST_WORKSPACE
    LAST_WORKSPACE = space
    with container_events(docker.APIClient(base_url=daemon.host, version="auto")) as events:
        run = space.up()
    live = LiveDeployment(space, space.deployment(), run)
    live.timings = container_timings(events, live.deployment)
    return live


LAST_WORKSPACE: Workspace | None = None  # the latest deploy's, to destroy after a failed `up`


def replace(live: LiveDeployment, registered: Registered) -> Run:
    """`pulumi up --target-replace <urn>`: the container deleted (with its grace period) and created
    again from the same inputs, healthy before `up` returns, as a user replaces one."""
    run = live.workspace.up("--target-replace", registered.urn)
    live.reload()
    return run


CONTAINER_EVENTS = ["create", "die", "health_status"]


@contextmanager
def container_events(api: docker.APIClient) -> Iterator[list[dict[str, Any]]]:
    """Docker's container events (created, died, health status) while the block runs, read as they
    come. Read afterwards they would be lost: a container's health log keeps its last 5 checks
    only, so one healthy early in a long deploy had forgotten its first pass by the end, and the
    daemon replays only a short buffer of past events."""
    stream = api.events(since=datetime.now(), filters={"type": "container", "event": CONTAINER_EVENTS}, decode=True)
    events: list[dict[str, Any]] = []

    def read() -> None:
        with contextlib.suppress(Exception):  # the stream is closed under the reader at the end
            events.extend(stream)

    with running_beside(read, stop=stream.close, timeout=10):
        yield events


@contextmanager
def running_beside(work: Callable[[], None], *, stop: Callable[[], None], timeout: float) -> Iterator[None]:
    """`work` in a thread of its own while the block runs; at its end `stop()` tells the work to
    finish, and the thread is given `timeout` seconds to."""
    thread = threading.Thread(target=work, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop()
        thread.join(timeout=timeout)


def container_timings(events: list[dict[str, Any]], deployment: Deployment) -> dict[str, ContainerTiming]:
    """Per container of `deployment`: its latest creation, and the first time after it that it was
    ready: healthy for a server, exited for a job (a server that died was not ready). Containers
    created but not started (on-demand jobs) are left out."""
    containers = deployment.of_type("docker:index/container:Container")
    servers = {c.inputs["name"] for c in containers if c.inputs.get("healthcheck")}
    names = {c.inputs["name"] for c in containers}
    created: dict[str, float] = {}
    timings: dict[str, ContainerTiming] = {}
    for event in sorted(events, key=lambda e: e["timeNano"]):
        attributes = event["Actor"]["Attributes"]
        name, action, at = attributes.get("name"), event["Action"], event["timeNano"] / 1e9
        if name not in names:
            continue
        if action == "create":
            created[name] = at
            timings.pop(name, None)
        elif name in created and name not in timings:
            if action == "health_status: healthy":
                timings[name] = ContainerTiming(name, created[name], at)
            elif action == "die" and name not in servers:
                timings[name] = ContainerTiming(name, created[name], at, int(attributes.get("exitCode", -1)))
    return timings


# ---- probes: resources like the platform's, in a stack of their own --------------------------


@dataclass
class Probe:
    """Resources registered by tests/live/probe/ through the providers of a deployed stack."""

    live: LiveDeployment
    daemon: TestDaemon
    name: str
    providers: dict[str, dict[str, Any]] = field(default_factory=dict)
    resources: list[dict[str, Any]] = field(default_factory=list)

    def like(
        self,
        registered: Registered,
        *,
        name: str,
        inputs: dict[str, Any] | None = None,
        outputs: tuple[str, ...] = (),
        secret: tuple[str, ...] = (),
    ) -> None:
        """One resource of `registered`'s type and provider, with other inputs."""
        provider = self._provider_of(registered)
        chosen = registered.inputs if inputs is None else inputs
        self.resources.append(
            {
                "type": registered.type,
                "name": name,
                "provider": provider,
                "inputs": {k: v for k, v in chosen.items() if not k.startswith("__")},
                "outputs": list(outputs),
                "secret": list(secret),
            }
        )

    def _provider_of(self, registered: Registered) -> str:
        urn = registered.provider.rpartition("::")[0]
        provider = self.live.deployment.by_urn(urn)
        package = provider.type.removeprefix("pulumi:providers:")
        inputs = {k: v for k, v in provider.inputs.items() if not k.startswith("__") and k != "version"}
        self.providers[package] = {"package": package, "inputs": inputs, "secret": ["password"]}
        return package

    def _workspace(self) -> Workspace:
        space = workspace(self.name, self.daemon, source=PROBE_PROJECT)
        space.set_secret("probe:providers", json.dumps(self.providers))
        space.set_secret("probe:resources", json.dumps(self.resources))
        return space

    @contextmanager
    def deployed(self) -> Iterator[dict[str, Any]]:
        """`pulumi up` of the probe stack; its exported outputs; `pulumi destroy` afterwards."""
        space = self._workspace()
        try:
            space.up()
            yield space.deployment().outputs
        finally:
            space.destroy(check=False)
            space.remove()

    def previewed(self, *args: str) -> Run:
        """`pulumi preview ARGS` of the probe stack (nothing is created); its run, failed or not."""
        space = self._workspace()
        try:
            return space.preview(*args, check=False)
        finally:
            space.remove()
