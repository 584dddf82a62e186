"""The live test engine itself, on a small program: it does what the providers do on create.

Runs before the e2e stack (this file sorts first), on the stand-ins' Debian base alone.
"""

from __future__ import annotations

import contextlib
import time

import docker
import pulumi
import pulumi_docker as dockerp
import pulumi_random as random
import pytest

from tests.live import engine as live_engine
from tests.live.engine import LiveMocks, deploy_function, go_duration_ns

BASE = "datalyptica-standin/debian:bookworm"


@pytest.fixture(scope="module")
def small(daemon, standins):
    """A network with two containers (one waiting for the other's health), a volume, uploads,
    a one-shot job that fails and one that succeeds, and a generated password."""

    def program():
        image = dockerp.RemoteImage("base", name=BASE, keep_locally=True)
        network = dockerp.Network("net", name="engine-test-net", internal=True)
        volume = dockerp.Volume("vol", name="engine-test-vol")
        password = random.RandomPassword("pw", length=24, special=False, min_numeric=3)
        healthy_after = 3

        def server(name: str, *, depends_on=()):
            return dockerp.Container(
                name,
                name=f"engine-test-{name}",
                image=image.image_id,
                hostname=name,
                command=["bash", "-c", f"sleep {healthy_after}; touch /tmp/ready; exec sleep infinity"],
                envs=[pulumi.Output.concat("PASSWORD_LENGTH=", password.result.apply(lambda p: str(len(p))))],
                uploads=[
                    dockerp.ContainerUploadArgs(
                        file="/etc/engine/secret",
                        content=password.result,
                        permissions="0400",
                        owner="1234",
                        group="4321",
                    )
                ],
                volumes=[dockerp.ContainerVolumeArgs(volume_name=volume.name, container_path="/data")],
                networks_advanced=[dockerp.ContainerNetworksAdvancedArgs(name=network.name, aliases=[f"{name}-alias"])],
                healthcheck=dockerp.ContainerHealthcheckArgs(
                    tests=["CMD", "test", "-f", "/tmp/ready"],
                    interval="1s",
                    timeout="1s",
                    retries=30,
                    start_period="0s",
                ),
                wait=True,
                wait_timeout=60,
                memory=64,
                memory_swap=64,
                cpus="0.5",
                restart="unless-stopped",
                opts=pulumi.ResourceOptions(depends_on=list(depends_on)),
            )

        first = server("first")
        second = server("second", depends_on=[first])
        job = dockerp.Container(
            "job",
            name="engine-test-job",
            image=image.image_id,
            command=["bash", "-c", "getent hosts first-alias && exit 3"],
            networks_advanced=[dockerp.ContainerNetworksAdvancedArgs(name=network.name)],
            attach=True,
            must_run=False,
            restart="no",
            opts=pulumi.ResourceOptions(depends_on=[second]),
        )
        pulumi.export("job_exit_code", job.exit_code)
        pulumi.export("second", second.name)

    live = deploy_function(program, {}, daemon, stack="engine")
    yield live.mocks, live.deployment
    live.mocks.teardown()


def test_containers_wait_for_health_and_dependents_wait_for_them(small):
    engine, _ = small
    first, second = engine.timings["engine-test-first"], engine.timings["engine-test-second"]
    assert first.seconds >= 3, "created and returned before it was healthy"
    assert second.created >= first.ready, "a dependent was created before its dependency turned healthy"


def test_uploads_keep_mode_owner_and_group_and_env_gets_the_generated_value(small, api: docker.APIClient):
    engine, _ = small
    exec_id = api.exec_create(
        "engine-test-first", ["bash", "-c", "stat -c '%a %u %g' /etc/engine/secret; echo $PASSWORD_LENGTH"]
    )
    stat, length = api.exec_start(exec_id["Id"]).decode().split("\n")[:2]
    assert stat == "400 1234 4321"
    assert length == "24"
    [password] = [s for s in engine.generated_secrets if len(s) == 24]
    assert sum(c.isdigit() for c in password) >= 3 and password.isalnum()


def test_networks_answer_to_aliases_and_a_job_returns_its_real_exit_code(small):
    _, deployment = small
    assert deployment.outputs["job_exit_code"] == 3


def test_limits_and_restart_policy_reach_the_container(small, api: docker.APIClient):
    host = api.inspect_container("engine-test-first")["HostConfig"]
    assert host["NanoCpus"] == 500_000_000
    assert host["Memory"] == host["MemorySwap"] == 64 * 1024 * 1024
    assert host["RestartPolicy"]["Name"] == "unless-stopped"


def test_go_durations_parse_as_the_provider_reads_them():
    assert go_duration_ns("1m30s") == 90 * 10**9
    assert go_duration_ns("500ms") == 5 * 10**8
    with pytest.raises(ValueError):
        go_duration_ns("90")


def test_teardown_leaves_nothing(small, api: docker.APIClient):
    engine, _ = small
    assert not engine.teardown()
    time.sleep(0.5)
    assert not [c for c in api.containers(all=True) if c["Names"][0].startswith("/engine-test-")]
    assert not [n for n in api.networks() if n["Name"] == "engine-test-net"]


def test_a_failed_job_stops_the_deployment_and_runs_again_when_replaced(daemon, standins, api: docker.APIClient):
    """The program's one-shot job mechanism (components/service.py) on the real engine: the job
    exits non-zero, the deployment fails naming `pulumi up --replace`, nothing after it is made;
    once the cause is fixed, the replaced job (the live engine keeps no state: every run creates)
    runs again and what waits for it is created."""
    import dataclasses

    from components.service import HealthCheck, Platform, Service
    from components.settings import load_settings

    settings = load_settings({"layers": ["storage"], "prefix": "enginejob"})

    def program():
        platform = Platform(settings)
        base = dataclasses.replace(settings.service("haproxy"), image=BASE, cpus=0.25, memory_bytes=64 * 2**20)
        volume = dockerp.Volume(
            "marker", name="enginejob-marker", opts=pulumi.ResourceOptions(provider=platform.docker)
        )
        job = Service(
            "job",
            platform=platform,
            spec=dataclasses.replace(base, name="job"),
            networks=[],
            healthcheck=None,
            run_once=True,
            command=["test", "-f", "/marker/ready"],
            shared_volumes={"/marker": volume},
        )
        after = Service(
            "after-job",
            platform=platform,
            spec=dataclasses.replace(base, name="after-job"),
            networks=[],
            command=["sleep", "infinity"],
            healthcheck=HealthCheck.command("true", interval="1s", start_period="0s"),
            after=[job],
        )
        # As a stack's outputs do: what waits for the job is awaited to the end of the run.
        pulumi.export("after_job", after.container.id)

    def run() -> LiveMocks:
        """One `pulumi up` of the program."""
        try:
            return deploy_function(program, {}, daemon, stack="enginejob").mocks
        finally:
            for item in live_engine.LAST_ENGINE.created:  # keep the volume between the runs, as a protected one is
                if item.kind == "container":
                    api.remove_container(item.ident, force=True)

    with contextlib.suppress(docker.errors.NotFound):  # a marker left by an interrupted run
        api.remove_volume("enginejob-marker", force=True)
    with pytest.raises(Exception, match=r"pulumi up --replace") as failed:
        run()
    assert "enginejob-job exited with 1" in str(failed.value)
    assert not [c for c in api.containers(all=True) if c["Names"][0] == "/enginejob-after-job"]

    fix = api.create_container(
        BASE, ["touch", "/marker/ready"], host_config=api.create_host_config(binds=["enginejob-marker:/marker"])
    )
    api.start(fix)
    api.wait(fix)
    api.remove_container(fix)

    engine = run()
    assert engine.timings["enginejob-job"].exit_code == 0
    assert "enginejob-after-job" in engine.timings
    api.remove_volume("enginejob-marker", force=True)
