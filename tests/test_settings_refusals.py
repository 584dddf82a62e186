"""Input that settings once accepted and the program then failed on halfway (issue 13, point 12):
each is refused before anything is registered, with the key, the value and what would do."""

import pytest

from components.settings import load_settings
from tests.tools import refusal


def test_kafka_with_no_broker_is_refused():
    message = refusal(services={"kafka": {"replicas": 0}})
    assert "datalyptica:services.kafka.replicas: 0" in message and "remove the 'streaming' layer" in message


@pytest.mark.parametrize("service", ["spark-worker", "flink-taskmanager", "airflow-worker", "notebook"])
def test_no_replica_of_any_scalable_service_is_refused(service):
    assert f"datalyptica:services.{service}.replicas: 0" in refusal(services={service: {"replicas": 0}})


def test_a_trino_image_tagged_latest_is_refused():
    message = refusal(services={"trino": {"image": "trinodb/trino:latest"}})
    assert "datalyptica:services.trino.image: 'trinodb/trino:latest' is not pinned (latest)" in message


def test_a_trino_image_without_a_release_number_is_refused():
    message = refusal(services={"trino": {"image": "trinodb/trino:479-arm64"}})
    assert "services.trino.image" in message and "numbered Trino release" in message


def test_an_untagged_flink_image_is_refused():
    message = refusal(services={"flink-jobmanager": {"image": "flink"}, "flink-taskmanager": {"image": "flink"}})
    assert "datalyptica:services.flink-jobmanager.image: 'flink' is not pinned (untagged)" in message


def test_a_flink_tag_without_its_version_is_refused():
    image = "flink:scala_2.12-java17"
    message = refusal(services={"flink-jobmanager": {"image": image}, "flink-taskmanager": {"image": image}})
    assert "services.flink-jobmanager.image" in message and "Flink version first" in message


def test_a_registry_port_is_not_taken_for_a_tag():
    assert "is not pinned (untagged)" in refusal(services={"minio": {"image": "registry.local:5000/minio"}})
    assert load_settings({"services": {"minio": {"image": "registry.local:5000/minio:RELEASE.2025-09-07T16-13-09Z"}}})


def test_a_cluster_split_over_two_images_is_refused():
    message = refusal(services={"spark-worker": {"image": "apache/spark:4.1.1"}})
    assert "datalyptica:services.spark-worker.image: 'apache/spark:4.1.1', but spark-master runs" in message


def test_an_image_folder_that_does_not_exist_is_refused():
    message = refusal(services={"mlflow": {"image": "build:mlfow"}})
    assert "services.mlflow.image: 'build:mlfow', but images/mlfow/Dockerfile does not exist" in message


def test_limits_docker_refuses_are_refused():
    assert "services.redis.cpus: 0.001; Docker takes 0.01 or more" in refusal(services={"redis": {"cpus": 0.001}})
    assert "services.redis.cpus" in refusal(services={"redis": {"cpus": 0.1234567891}})
    assert "services.redis.memory: '4m'; Docker takes 6m or more" in refusal(services={"redis": {"memory": "4m"}})


def test_pinned_images_and_sound_limits_still_load():
    settings = load_settings(
        {"services": {"trino": {"image": "trinodb/trino:480"}, "redis": {"cpus": 0.01}, "kafka": {"replicas": 1}}}
    )
    assert settings.service("trino").image == "trinodb/trino:480"


# ---- inputs that passed the settings and failed later, inside Docker or worse (issue 25, point 5) ----


@pytest.mark.parametrize("address", ["", "localhost", "not an ip", "999.1.1.1"])
def test_a_bind_address_that_is_not_an_ip_address_is_refused(address):
    assert f"datalyptica:bindAddress: {address!r} is not an IP address" in refusal(bindAddress=address)


@pytest.mark.parametrize("host", ["http://host", "", "a host", "host:2375", "host/path"])
def test_an_endpoint_host_with_a_scheme_port_or_space_is_refused(host):
    assert f"datalyptica:endpointHost: {host!r} is not a host name or IP address" in refusal(endpointHost=host)


@pytest.mark.parametrize("host", ["localhost", "platform.example.com", "10.0.0.5", "::1"])
def test_a_host_name_or_ip_address_is_an_endpoint_host(host):
    assert load_settings({"endpointHost": host}).endpoint_host == host


@pytest.mark.parametrize("image", ["redis:7.2 bookworm", "Redis:7.2", ":7.2", "redis:7.2:1"])
def test_an_image_that_is_no_reference_is_refused(image):
    message = refusal(services={"redis": {"image": image}})
    assert f"datalyptica:services.redis.image: {image!r} is not an image reference" in message


@pytest.mark.parametrize(
    "image",
    ["registry.local:5000/lib/redis:7.2-bookworm", "ghcr.io/some_org/redis:7.2", "redis@sha256:" + "a" * 64],
)
def test_image_references_docker_takes_are_taken(image):
    assert load_settings({"services": {"redis": {"image": image}}}).service("redis").image == image


def test_no_layer_at_all_is_refused_before_it_deletes_a_stack():
    message = refusal(layers=[])
    assert "datalyptica:layers: no layer" in message and "pulumi destroy" in message


def test_more_cpus_than_the_host_has_is_refused():
    message = refusal(services={"trino": {"cpus": 1000}}, host={"cpus": 8, "memory": "64g"})
    assert "datalyptica:services.trino.cpus: 1000, but the host has 8" in message


@pytest.mark.parametrize("socket", ["/", "/var/run", "/etc/passwd"])
def test_a_docker_socket_that_is_not_a_socket_path_is_refused(socket):
    assert f"datalyptica:dockerSocket: {socket!r} is not the path of a socket" in refusal(dockerSocket=socket)


@pytest.mark.parametrize(
    ("config", "key"),
    [
        ({"ports": {"redis": True}}, "ports.redis"),
        ({"services": {"redis": {"cpus": True}}}, "services.redis.cpus"),
        ({"host": {"cpus": True}}, "host.cpus"),
        ({"services": {"notebook": {"replicas": True}}}, "services.notebook.replicas"),
        ({"services": {"redis": {"memory": False}}}, "services.redis.memory"),
    ],
)
def test_true_or_false_is_not_a_number(config, key):
    assert f"datalyptica:{key}: " in refusal(**config)


def test_a_default_cpu_limit_beyond_the_host_is_refused_naming_the_key_to_set():
    message = refusal(layers=["storage", "query"], host={"cpus": 1})
    assert "datalyptica:services.trino.cpus: 2 by default, but the host has 1" in message
    assert "set services.trino.cpus to 1 or less" in message
    assert load_settings({"layers": ["storage", "query"], "host": {"cpus": 1}, "services": {"trino": {"cpus": 1}}})
