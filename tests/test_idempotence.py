"""A second `pulumi up` changes nothing: inputs as the docker provider reads them back, the same
inputs on every evaluation, and one-shot jobs that a replacement runs again.

Provider file:line are kreuzwerker/terraform-provider-docker v4.5.0 (internal/provider/), what
pulumi-docker 5.x bridges.
"""

import asyncio
import json
import re
from decimal import Decimal

import pulumi_docker as docker
import pytest
from pulumi.runtime import reset_options

from components.platform import context_hash
from components.service import docker_cpus, go_duration
from harness.offline import ROOT, MockState, engine_config, run_program, stack_config

GO_DURATION = re.compile(r"^(0s|\d+ms|(\d+h)?(\d+m)?\d+(\.\d+)?s)$")


def test_cpus_follow_the_providers_read_back():
    # helpers_test.go:34-39 (TestNanoInt64ToDecimalString), in CPUs rather than nanoCPUs
    assert [docker_cpus(c) for c in (1, 1.5, 2, 2.25)] == ["1.0", "1.5", "2.0", "2.25"]
    assert [docker_cpus(c) for c in (0.5, 0.25, 0.1, 12, 10)] == ["0.5", "0.25", "0.1", "12.0", "10."]
    with pytest.raises(ValueError, match="nine decimals"):
        docker_cpus(0.0000000001)


def test_durations_follow_gos_duration_string():
    # resource_docker_container_funcs.go:961-969 reads them back with time.Duration.String()
    assert [go_duration(d) for d in ("10s", "60s", "90s", "2m", "1h", "500ms", "1.5s", "0s")] == [
        "10s",
        "1m0s",
        "1m30s",
        "2m0s",
        "1h0m0s",
        "500ms",
        "1.5s",
        "0s",
    ]
    with pytest.raises(ValueError):
        go_duration("ten seconds")


def _canonical_cpus(value: str) -> bool:
    """resource_docker_container_funcs.go:946-948: cpus is read back from NanoCPUs (helpers.go:133)."""
    return docker_cpus(float(Decimal(value))) == value


def _read_back_problems(container) -> list[str]:
    inputs, problems = container.inputs, []
    if not _canonical_cpus(inputs["cpus"]):
        problems.append(f"cpus {inputs['cpus']!r} comes back as {docker_cpus(float(inputs['cpus']))!r}")
    # :933 memory and :941 memory_swap are read back in MB, as whole numbers
    for key in ("memory", "memorySwap"):
        if inputs[key] != int(inputs[key]) or inputs[key] <= 0:
            problems.append(f"{key} {inputs[key]!r} is not a whole number of MB")
    check = inputs.get("healthcheck")
    if check is not None:  # :959-970: Duration.String() for every duration, start_interval included
        for key in ("interval", "timeout", "startPeriod", "startInterval"):
            if key not in check or not GO_DURATION.match(check[key]) or go_duration(check[key]) != check[key]:
                problems.append(f"healthcheck.{key} {check.get(key)!r} is not how Go writes it")
    ports = inputs.get("ports", [])
    # resource_docker_container_structures.go:27-58: read back sorted by container port, each with
    # its host IP and protocol (the schema's default is tcp)
    if [p["internal"] for p in ports] != sorted(p["internal"] for p in ports):
        problems.append("ports are not sorted by container port")
    for port in ports:
        if port.get("protocol") != "tcp" or not port.get("ip") or not port.get("external"):
            problems.append(f"port {port} is not as the provider reads it back")
    # funcs.go:953 log_opts are read back as the map the daemon holds (strings)
    if any(not isinstance(v, str) for v in inputs.get("logOpts", {}).values()):
        problems.append("log_opts values must be strings")
    # funcs.go:853 dns_opts are read back from HostConfig.DNSOptions into a set: any order, strings
    if not all(isinstance(option, str) for option in inputs.get("dnsOpts", [])):
        problems.append("dns_opts must be strings")
    # funcs.go:927-932 capabilities are read back from HostConfig.CapAdd/CapDrop, which the Engine
    # records as CAP_<NAME> (measured on Docker 20.10: `--cap-drop NET_RAW` reads back CAP_NET_RAW);
    # funcs.go:911 security_opts as HostConfig.SecurityOpt holds them, as given
    for key in ("adds", "drops"):
        for capability in (inputs.get("capabilities") or {}).get(key) or []:
            if not re.fullmatch(r"CAP_[A-Z_]+", capability):
                problems.append(
                    f"capability {capability!r} comes back as CAP_{capability.upper().removeprefix('CAP_')}"
                )
    # funcs.go:978 stop_timeout is read back as the int given; destroy_grace_seconds is kept (:931)
    if inputs.get("stopTimeout") != inputs.get("destroyGraceSeconds") or not inputs.get("stopTimeout"):
        problems.append("stop_timeout and destroy_grace_seconds must be set, and equal")
    return problems


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_every_container_is_registered_as_the_provider_reads_it_back(stack, dev, prod):
    deployment = {"dev": dev, "prod": prod}[stack]
    problems = {name: p for name, c in deployment.containers().items() if (p := _read_back_problems(c))}
    assert problems == {}
    assert len(deployment.containers()) > 30


def test_the_read_back_rules_catch_what_the_provider_would_change(dev):
    container = dev.containers()["minio"]
    broken = json.loads(json.dumps(container.inputs))
    broken["cpus"] = "1"
    broken["healthcheck"]["interval"] = "60s"
    broken["ports"] = list(reversed(broken["ports"]))
    broken["stopTimeout"] = None
    broken["capabilities"] = {"drops": ["NET_RAW"]}
    wrong = type(container)(**{**container.__dict__, "inputs": broken})
    assert len(_read_back_problems(wrong)) == 5


def test_stateful_services_stop_with_a_grace_period(prod):
    containers = prod.containers()
    for name in ("patroni-1", "etcd-1", "kafka-1", "minio", "clickhouse", "redis", "prometheus"):
        assert containers[name].inputs["destroyGraceSeconds"] >= 30, name
    assert containers["patroni-1"].inputs["destroyGraceSeconds"] >= 120


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_two_evaluations_register_identical_inputs(stack):
    first, second = (run_program(stack_config(stack), stack=stack) for _ in range(2))

    def by_urn(deployment):
        return {
            r.urn: (r.raw_inputs, sorted(r.dependencies), r.protect, r.retain_on_delete, r.provider)
            for r in deployment.registered
        }

    # Registration order follows Outputs resolving and is no input: the engine diffs by URN.
    assert by_urn(first) == by_urn(second)


def test_every_docker_resource_uses_the_one_explicit_provider(dev):
    providers = dev.of_type("pulumi:providers:docker")
    assert len(providers) == 1 and providers[0].inputs.get("host") == docker.config.host  # docker:host / DOCKER_HOST
    provider_ref = f"{providers[0].urn}::{providers[0].name}-id"
    docker_resources = [r for r in dev.registered if r.type.startswith("docker:")]
    assert {r.provider for r in docker_resources} == {provider_ref}
    assert {r.type for r in docker_resources} >= {
        "docker:index/network:Network",
        "docker:index/remoteImage:RemoteImage",
        "docker:index/container:Container",
        "docker:index/volume:Volume",
    }


def test_built_images_take_paths_relative_to_the_project_and_a_fixed_platform(dev):
    built = [image for image in dev.of_type("docker:index/remoteImage:RemoteImage") if image.inputs.get("build")]
    assert built
    for image in built:
        build = image.inputs["build"]
        assert build["context"].startswith("images/") and build["dockerfile"] == "Dockerfile"
        assert build["platform"] == "linux/amd64" and build["useLegacyBuilder"] is True
        # A rebuild follows the context's files only: the same hash from any checkout path.
        assert image.inputs["triggers"] == {"context": context_hash(ROOT / build["context"])}


# ---- one-shot jobs ------------------------------------------------------------------------------

ANALYTICS = engine_config({"layers": ["storage", "analytics"]})
SUPERSET_INIT = "datalyptica-superset-init"


def _fresh_program() -> None:
    """What a new program process starts from: a new event loop, no runtime settings."""
    loop = asyncio.get_event_loop()
    pending = asyncio.all_tasks(loop)
    for task in pending:
        task.cancel()
    loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
    loop.close()
    asyncio.set_event_loop(asyncio.new_event_loop())
    reset_options()


def _up(state: MockState, **job_exit_codes: int):
    """One `pulumi up` of the same stack: a new program process."""
    _fresh_program()
    return run_program(ANALYTICS, job_exit_codes=job_exit_codes, state=state)


def _fails(state: MockState, **exit_codes: int) -> str:
    with pytest.raises(Exception, match=f"{SUPERSET_INIT} exited with 3") as error:
        _up(state, **exit_codes)
    return str(error.value)


def test_a_failed_job_fails_every_up_until_it_is_replaced_then_runs_again():
    state = MockState()
    message = _fails(state, **{SUPERSET_INIT: 3})
    assert state.runs.count(SUPERSET_INIT) == 1
    urn = re.search(r"pulumi up --replace '([^']+)'", message).group(1)
    assert urn.endswith("docker:index/container:Container::superset-init-container")
    assert f"docker logs {SUPERSET_INIT}" in message

    # The cause is fixed, but a plain `pulumi up` keeps the job and its old exit code.
    assert _fails(state) == message
    assert state.runs.count(SUPERSET_INIT) == 1

    # `pulumi up --replace <urn>`, as the message says: the job runs again, and what waits for it follows.
    state.replace = {urn}
    deployment = _up(state)
    assert state.runs.count(SUPERSET_INIT) == 2
    assert "superset" in deployment.containers()


def test_a_job_that_succeeded_does_not_run_again():
    state = MockState()
    _up(state)
    runs = list(state.runs)
    assert SUPERSET_INIT in runs
    _up(state)
    assert state.runs == runs


def test_jobs_run_attached_and_are_not_kept_running(dev):
    for name in ("superset-init", "airflow-init"):
        job = dev.containers()[name].inputs
        assert (job["attach"], job["mustRun"], job["restart"]) == (True, False, "no")
        assert "healthcheck" not in job and not job.get("wait") and not job.get("rm")


# ---- secrets in state ---------------------------------------------------------------------------


def test_every_generated_secret_is_a_random_password_whose_id_is_not_its_value(dev, prod):
    """pulumi-random makes a RandomString's and a RandomBytes' id the value itself, and an id is
    never encrypted in state; a RandomPassword's id is "none". The Kafka cluster id is no secret."""
    for deployment in (dev, prod):
        others = [r.name for r in deployment.registered if r.type.startswith("random:") and "Password" not in r.type]
        assert others == ["kafka-cluster-id"]
        assert deployment.plaintext_leaks() == []


def test_the_leak_check_sees_a_random_resources_own_outputs(dev):
    generated = dev.of_type("random:index/randomPassword:RandomPassword")[0]
    exposed = type(generated)(**{**generated.__dict__, "additional_secret_outputs": []})
    leaky = type(dev)([exposed], dev.generated_secrets)
    assert leaky.plaintext_leaks() == [f"{exposed.type} {exposed.name} (outputs)"]


def test_the_docker_host_comes_from_docker_host_config(monkeypatch):
    monkeypatch.delenv("DOCKER_HOST", raising=False)
    deployment = run_program({**engine_config({"layers": ["olap"]}), "docker:host": "ssh://ops@docker.example"})
    assert deployment.of_type("pulumi:providers:docker")[0].inputs["host"] == "ssh://ops@docker.example"
    monkeypatch.setenv("DOCKER_HOST", "unix:///run/other.sock")
    _fresh_program()
    deployment = run_program(engine_config({"layers": ["olap"]}))
    assert deployment.of_type("pulumi:providers:docker")[0].inputs["host"] == "unix:///run/other.sock"
