"""The host's capacity: every container's limits are added up, memory beyond the host is refused
before anything is registered, CPU overcommit warns; each message names the key and the fix.

The checks over registered containers are generic: whatever layers the program builds, each
container must be counted in the settings' demand.
"""

import re
from collections import defaultdict

import pulumi
import pytest

from components import catalog
from components.settings import load_settings, parse_size
from harness.offline import engine_config, run_program, settings_of
from tests.tools import refusal, registered_before_refusal

GiB = 1024**3


def labels(container) -> dict:
    return {label["label"]: label["value"] for label in container.inputs["labels"]}


def registered_limits(deployment) -> tuple[dict[str, int], dict[str, float]]:
    """Memory (bytes) and CPUs of the registered containers, added up by service."""
    memory: dict[str, int] = defaultdict(int)
    cpus: dict[str, float] = defaultdict(float)
    for container in deployment.of_type("docker:index/container:Container"):
        if container.inputs.get("attach"):
            continue  # an init job: it has exited before the services it prepares start
        service = labels(container)["datalyptica.service"]
        memory[service] += container.inputs["memory"] * catalog.MiB
        cpus[service] += float(container.inputs["cpus"])
    return memory, cpus


def test_dev_runs_every_layer_within_its_32g_host():
    dev = settings_of("dev")
    assert dev.layers == list(catalog.LAYERS)
    assert dev.host.memory_bytes == 32 * GiB
    assert sum(dev.memory_demand().values()) <= 32 * GiB


def test_prod_fits_its_host():
    prod = settings_of("prod")
    assert sum(prod.memory_demand().values()) <= prod.host.memory_bytes
    assert sum(prod.cpu_demand().values()) <= prod.host.cpus


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_every_registered_container_is_counted_in_the_demand(stack, request):
    deployment = request.getfixturevalue(stack)
    settings = settings_of(stack)
    memory, cpus = registered_limits(deployment)
    assert memory, "the program registered no container"
    for service, registered in memory.items():
        assert settings.memory_demand()[service] == registered, service
        assert settings.cpu_demand()[service] == pytest.approx(cpus[service]), service


def test_notebooks_count_at_their_configured_maximum():
    config = {
        "layers": ["storage", "analytics"],
        "host": {"memory": "64g"},
        "services": {"notebook": {"memory": "2g", "replicas": 10}},
    }
    assert load_settings(config).memory_demand()["notebook"] == 20 * GiB
    message = refusal(**{**config, "host": {"memory": "24g"}})
    assert "datalyptica:services.notebook.replicas (10 x 2g = 20g)" in message


def test_jobs_count_too():
    settings = load_settings({"layers": ["storage", "query"]})
    assert settings.memory_demand()["dbt"] == parse_size(catalog.SERVICES["dbt"].memory)


def test_memory_beyond_the_host_names_the_key_the_largest_consumers_and_the_fix():
    message = refusal(
        layers=["storage"], host={"memory": "2g"}, services={"minio": {"memory": "1g"}, "patroni": {"memory": "1g"}}
    )
    assert "datalyptica:host.memory: memory limits add up to" in message and "but the host has 2g" in message
    # the largest consumers, each by the key that shrinks it
    assert "datalyptica:services.patroni.memory (2 x 1g = 2g)" in message  # fixed-size: its memory, not replicas
    assert "datalyptica:services.minio.memory (1g)" in message
    # and what to change
    assert "lower those under datalyptica:services" in message
    assert "remove a layer from datalyptica:layers" in message
    assert "raise datalyptica:host.memory to at least" in message


def test_a_stack_that_does_not_fit_registers_nothing():
    assert registered_before_refusal({"host": {"cpus": 16, "memory": "4g"}}, r"datalyptica:host\.memory") == []


def test_cpu_overcommit_beyond_what_is_tested_warns_naming_the_key_and_the_fix(monkeypatch):
    warnings = []
    monkeypatch.setattr(pulumi.log, "warn", lambda message, *args, **kwargs: warnings.append(message))
    config = {"layers": ["storage", "streaming", "processing"], "host": {"cpus": 1, "memory": "64g"}}  # 13 CPUs
    deployment = run_program(engine_config(config))
    assert deployment.of_type("docker:index/container:Container"), "CPU overcommit must not stop the program"
    [warning] = [w for w in warnings if "datalyptica:host.cpus" in w]
    assert warning.startswith("datalyptica:host.cpus: CPU limits add up to")
    assert "more than 8 times its cores, the most the platform is tested at" in warning
    assert "datalyptica:services.kafka.cpus (1)" in warning
    assert "raise datalyptica:host.cpus to at least 1.625" in warning


def test_cpu_limits_may_add_up_to_more_than_the_host_as_far_as_the_live_tests_run():
    assert load_settings({"layers": ["storage"], "host": {"cpus": 64}}).capacity_warnings() == []
    assert settings_of("e2e").capacity_warnings() == []  # 16 on 2 cores: the live tests run there
    assert sum(settings_of("e2e").cpu_demand().values()) == 8 * settings_of("e2e").host.cpus
    assert settings_of("dev").capacity_warnings() == []


def test_the_end_of_a_deploy_says_where_to_go_next(monkeypatch):
    said = []
    monkeypatch.setattr(pulumi.log, "info", lambda message, *args, **kwargs: said.append(message))
    run_program(engine_config({"layers": ["storage", "analytics"], "host": {"cpus": 64, "memory": "64g"}}))
    [summary] = [message for message in said if "addresses" in message]
    assert re.search(r"^  jupyterhub +http://localhost:8000$", summary, re.MULTILINE)
    assert "pulumi stack output --show-secrets" in summary and "docs/operations.md" in summary
