"""The e2e stack under the real engine: what `pulumi` does after the first `up`.

Runs right after the deploy, before any fault (tests/live/conftest.py orders the modules): a
second `up`, `preview --expect-no-changes` and `refresh` must find nothing to do; the state must
hold every generated secret as ciphertext; a changed memory limit updates its container in place;
a changed image replaces that container alone, healthy before `up` returns; and the policy pack runs
in `preview`. Each diff found here was fixed in the program, not ignored.
"""

from __future__ import annotations

import contextlib
import copy
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import docker
import pytest

from components.privileges import DROPPED_CAPABILITIES, SECURITY_OPTIONS
from tests.engine.workspace import Run, secrets_in_state
from tests.live.cli import docker as docker_cli
from tests.live.conftest import record
from tests.live.deploy import LiveDeployment, Probe, workspace
from tests.live.stack import container_name, containers, exec_in, wait_all_healthy, wait_healthy

MIB = 1024 * 1024
CHANGED = "redis"  # a server whose memory is rendered into no file: a limit change is an update
JOBS_PROJECT = Path(__file__).resolve().parent / "jobs"
BASE = "datalyptica-standin/debian:bookworm"


# Steps that change nothing: a resource kept, read or (on refresh) read back unchanged.
UNCHANGED = {"same", "read", "refresh"}
# A replacement is several steps on one URN: create-replacement, replace, delete-replaced.
REPLACED = "create-replacement"


def changed_steps(run: Run) -> dict[str, set[str]]:
    """URN -> the operations of every step that changed something."""
    changed: dict[str, set[str]] = {}
    for step in run.steps():
        if step["op"] not in UNCHANGED:
            changed.setdefault(step["urn"], set()).add(step["op"])
    return changed


def no_changes(run: Run) -> bool:
    return not changed_steps(run) and set(run.changes()) <= {"same"}


def test_a_second_up_changes_nothing(e2e: LiveDeployment):
    run = e2e.workspace.up()
    record("engine_second_up_seconds", round(run.seconds, 1))
    assert no_changes(run), f"a second pulumi up changed {changed_steps(run)}:\n{run.output[-4000:]}"


def test_preview_expects_no_changes(e2e: LiveDeployment):
    run = e2e.workspace.preview("--expect-no-changes", check=False)
    assert run.code == 0, run.output[-4000:]


def test_refresh_finds_no_drift_and_a_preview_after_it_none_either(e2e: LiveDeployment):
    run = e2e.workspace.refresh()
    record("engine_refresh_seconds", round(run.seconds, 1))
    assert no_changes(run), f"refresh found drift in {changed_steps(run)}:\n{run.output[-4000:]}"
    after = e2e.workspace.preview("--expect-no-changes", check=False)
    assert after.code == 0, after.output[-4000:]


def test_the_state_holds_every_generated_secret_as_ciphertext(e2e: LiveDeployment):
    generated = {s for s in e2e.deployment.generated_secrets if len(s) >= 8}
    assert len(generated) >= 10, "the state holds too few generated values for the check to mean anything"
    assert not secrets_in_state(e2e.workspace.state_text(), generated)
    assert "encryptionsalt" in e2e.workspace.stack_file.read_text()


# Bits of /proc/<pid>/status CapBnd (linux/capability.h).
CAPABILITY_BITS = {
    "CAP_CHOWN": 0,
    "CAP_SETGID": 6,
    "CAP_SETUID": 7,
    "CAP_NET_BIND_SERVICE": 10,
    "CAP_NET_RAW": 13,
    "CAP_MKNOD": 27,
    "CAP_AUDIT_WRITE": 29,
    "CAP_SETFCAP": 31,
    "CAP_SETPCAP": 8,
    "CAP_SYS_CHROOT": 18,
    "CAP_FSETID": 4,
}


def process_status(api: docker.APIClient, container: str) -> dict[str, str]:
    code, output = exec_in(api, container, ["cat", "/proc/1/status"])
    assert code == 0, output
    return dict(line.split(":\t", 1) for line in output.splitlines() if ":\t" in line)


def test_every_container_runs_with_no_new_privileges_and_without_unused_capabilities(
    e2e: LiveDeployment, api: docker.APIClient
):
    for registered in containers(e2e).values():
        host_config = api.inspect_container(container_name(registered))["HostConfig"]
        assert host_config["SecurityOpt"] == list(SECURITY_OPTIONS), container_name(registered)
        assert sorted(host_config["CapDrop"]) == sorted(DROPPED_CAPABILITIES), container_name(registered)
    # From inside, in images that start as root and switch to their user (Redis: gosu; SeaweedFS:
    # su-exec) and one that starts as its own (Trino): the kernel's view of the main process.
    for service in ("redis", "seaweedfs", "trino"):
        status = process_status(api, f"e2e-{service}")
        assert status["NoNewPrivs"].strip() == "1", service
        bounding = int(status["CapBnd"], 16)
        assert not any(bounding >> CAPABILITY_BITS[name] & 1 for name in DROPPED_CAPABILITIES), service
        assert all(bounding >> CAPABILITY_BITS[name] & 1 for name in ("CAP_SETUID", "CAP_SETGID", "CAP_CHOWN"))


@pytest.fixture
def services(e2e: LiveDeployment) -> Iterator[dict[str, Any]]:
    """The stack's `services` config to change; put back (and deployed again) afterwards."""
    before = e2e.workspace.config("services")
    yield copy.deepcopy(before)
    if e2e.workspace.config("services") != before:
        e2e.workspace.set_config("services", before)
        e2e.workspace.up()
        e2e.reload()


def test_a_changed_memory_limit_updates_the_container_in_place(
    e2e: LiveDeployment, api: docker.APIClient, services: dict[str, Any]
):
    container = containers(e2e)[CHANGED]
    before = api.inspect_container(container_name(container))
    services[CHANGED]["memory"] = "96m"
    e2e.workspace.set_config("services", services)
    run = e2e.workspace.up()
    assert changed_steps(run) == {container.urn: {"update"}}, run.output[-4000:]
    after = api.inspect_container(container_name(container))
    assert after["Id"] == before["Id"], "the container was replaced, not updated"
    assert after["HostConfig"]["Memory"] == after["HostConfig"]["MemorySwap"] == 96 * MIB
    # The update left nothing for the next run or a refresh to find.
    assert no_changes(e2e.workspace.up())


def test_a_changed_image_replaces_that_container_alone_healthy_before_up_returns(
    e2e: LiveDeployment, api: docker.APIClient, services: dict[str, Any]
):
    container = containers(e2e)[CHANGED]
    image = e2e.deployment.by_urn(next(urn for urn in container.dependencies if urn.endswith("::redis-image")))
    old_tag = image.inputs["name"]
    new_tag = old_tag.replace(":", ":0.0.1-replaced-", 1)  # still a pinned version tag for the settings
    dockerfile = f"FROM {old_tag}\nLABEL datalyptica.test=replaced\n"
    docker_cli("build", "--tag", new_tag, "-", stdin=dockerfile.encode(), timeout=300)
    before = api.inspect_container(container_name(container))["Id"]

    services[CHANGED]["image"] = new_tag
    e2e.workspace.set_config("services", services)
    run = e2e.workspace.up()
    record("engine_image_replace_seconds", round(run.seconds, 1))
    changed = changed_steps(run)
    assert set(changed) == {image.urn, container.urn}, run.output[-4000:]
    assert REPLACED in changed[container.urn] and REPLACED in changed[image.urn]
    state = api.inspect_container(container_name(container))
    assert state["Id"] != before and state["Config"]["Labels"]["datalyptica.test"] == "replaced"
    # `up` returned once the new container was healthy (the provider's `wait`), and nothing else moved.
    assert state["State"]["Health"]["Status"] == "healthy"
    wait_healthy(api, container_name(container), timeout=1)
    wait_all_healthy(api, e2e, timeout=60)


def test_preview_runs_the_policy_pack_and_it_passes_the_stack(e2e: LiveDeployment, policy_pack):
    run = e2e.workspace.preview("--policy-pack", str(policy_pack), check=False)
    assert run.code == 0, run.output[-4000:]
    assert "datalyptica" in run.output  # the pack's name in the policy summary


def test_preview_with_the_policy_pack_fails_a_stack_that_breaks_a_rule(e2e: LiveDeployment, daemon, policy_pack):
    """A stack with a long-running container that has neither a health check nor limits."""
    template = containers(e2e)[CHANGED]
    inputs = {
        key: value
        for key, value in template.inputs.items()
        if key not in ("healthcheck", "wait", "memory", "memorySwap", "cpus", "uploads", "volumes", "ports")
    }
    inputs["name"] = "e2e-policy-breaker"
    probe = Probe(e2e, daemon, "policy-breaker")
    probe.like(template, name="policy-breaker", inputs=inputs)
    run = probe.previewed("--policy-pack", str(policy_pack))
    assert run.code != 0, run.output[-3000:]
    for rule in ("long-running-containers-have-health-checks", "containers-have-memory-and-cpu-limits"):
        assert rule in run.output, f"{rule} not reported:\n{run.output[-3000:]}"
    assert "mandatory" in run.output


def test_a_failed_job_stops_up_and_runs_again_only_when_replaced(daemon, standins, api: docker.APIClient):
    """components/service.py's one-shot job on the real engine: `up` fails naming
    `pulumi up --replace`, nothing after the job is created; a plain `up` after the cause is fixed
    still fails (the job is kept as it ran); `up --replace <the job>` runs it again, then what waits
    for it is created."""
    with contextlib.suppress(docker.errors.NotFound):  # a marker left by an interrupted run
        api.remove_volume("enginejob-marker", force=True)
    space = workspace("enginejob", daemon, source=JOBS_PROJECT)
    try:
        failed = space.up(check=False)
        assert failed.code != 0 and "pulumi up --replace" in failed.output, failed.output[-3000:]
        assert "enginejob-job exited with 1" in failed.output
        assert not api.containers(all=True, filters={"name": "^/enginejob-after-job$"})

        fix = api.create_container(
            BASE, ["touch", "/marker/ready"], host_config=api.create_host_config(binds=["enginejob-marker:/marker"])
        )
        api.start(fix)
        api.wait(fix)
        api.remove_container(fix)

        again = space.up(check=False)
        assert again.code != 0 and "enginejob-job exited with 1" in again.output, again.output[-3000:]

        job = space.deployment().named("job-container", "docker:index/container:Container")
        replaced = space.up("--replace", job.urn)
        assert REPLACED in changed_steps(replaced).get(job.urn, set())
        done = space.deployment()
        assert done.named("job-container", "docker:index/container:Container").outputs["exitCode"] == 0
        assert done.outputs["after_job"]
        assert api.inspect_container("enginejob-after-job")["State"]["Health"]["Status"] == "healthy"
    finally:
        space.destroy(check=False)
        space.remove()
        with contextlib.suppress(docker.errors.NotFound):
            api.remove_volume("enginejob-marker", force=True)
