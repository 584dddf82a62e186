"""The stack config model on its own: defaults, the stack files, and one test per bad input."""

import pytest

from components import catalog
from components.settings import config_from_engine, load_settings, parse_size
from harness.offline import engine_config, settings_of
from tests.tools import refusal


def test_defaults_deploy_every_layer_with_pinned_images():
    settings = load_settings({})
    assert settings.layers == list(catalog.LAYERS)
    assert len(catalog.LAYERS) == 9
    for service in settings.deployed_services():
        assert service.image.startswith("build:") or ":" in service.image.split("/")[-1], service.name
        assert not service.image.endswith(":latest"), service.name


def test_dev_binds_to_loopback_and_leaves_data_unprotected():
    dev = settings_of("dev")
    assert dev.bind_address == "127.0.0.1"
    assert dev.protect_data is False
    assert dev.layers == list(catalog.LAYERS)


def test_prod_protects_data_and_uses_the_seeds_sizes():
    prod = settings_of("prod")
    assert prod.protect_data is True
    seed = {  # the seed's resource table for the Analytics & ML layer
        "redis": (1, "2g"),
        "jupyterhub": (2, "4g"),
        "notebook": (2, "4g"),
        "mlflow": (2, "4g"),
        "superset": (4, "8g"),
        "airflow-apiserver": (2, "4g"),
        "airflow-scheduler": (2, "4g"),
        "airflow-worker": (4, "8g"),
    }
    for name, (cpus, memory) in seed.items():
        service = prod.service(name)
        assert (service.cpus, service.memory_bytes) == (cpus, parse_size(memory)), name


def test_the_engine_form_of_a_stack_file_round_trips():
    config = config_from_engine(engine_config({"layers": ["storage"], "protectData": True, "prefix": "dl"}))
    assert config == {"layers": ["storage"], "protectData": True, "prefix": "dl"}
    assert load_settings(config).prefix == "dl"


@pytest.mark.parametrize(
    "text,size",
    [("512m", 512 * 1024**2), ("4g", 4 * 1024**3), ("1.5GiB", 1536 * 1024**2), ("2048", 2048), (1024, 1024)],
)
def test_sizes(text, size):
    assert parse_size(text) == size


def test_unknown_layer_is_refused_with_the_known_ones():
    message = refusal(layers=["storage", "warehouse"])
    assert "datalyptica:layers" in message and "'warehouse'" in message and "analytics" in message


def test_a_layer_without_a_layer_it_needs_is_refused():
    message = refusal(layers=["analytics"])
    assert "datalyptica:layers" in message and "'analytics' needs 'storage'" in message


def test_unknown_service_is_refused():
    message = refusal(services={"postgress": {"cpus": 1}})
    assert "datalyptica:services.postgress" in message and "known services" in message and "patroni" in message


def test_unknown_key_is_refused():
    message = refusal(bindAdress="0.0.0.0")
    assert "datalyptica:bindAdress: unknown key" in message and "bindAddress" in message


def test_two_services_on_one_host_port_are_refused():
    message = refusal(ports={"trino": 9000})
    assert "datalyptica:ports" in message and "trino and minio both use host port 9000" in message


def test_a_port_of_a_disabled_layer_does_not_collide():
    assert load_settings({"layers": ["storage"], "ports": {"trino": 9000}}).host_port("minio") == 9000


def test_malformed_memory_is_refused_with_examples():
    message = refusal(services={"kafka": {"memory": "2 gigs"}})
    assert "datalyptica:services.kafka.memory" in message and "'2 gigs'" in message and "512m or 4g" in message


def test_malformed_host_memory_is_refused():
    assert "datalyptica:host.memory" in refusal(host={"memory": "lots"})


def test_negative_replicas_are_refused():
    message = refusal(services={"kafka": {"replicas": -1}})
    assert "datalyptica:services.kafka.replicas" in message and "greater than or equal to 0" in message


def test_replicas_of_a_fixed_size_cluster_are_refused():
    message = refusal(services={"etcd": {"replicas": 5}})
    assert "datalyptica:services.etcd.replicas" in message and "always runs 3" in message


def test_ports_the_program_itself_uses_must_be_published():
    message = refusal(ports={"postgres-primary": None})
    assert "datalyptica:ports.postgres-primary: null" in message and "provisions databases" in message
    assert "default 5432" in message
    assert load_settings({"layers": ["olap"], "ports": {"minio": None}}).host_port("minio") is None


def test_zero_cpus_are_refused():
    assert "datalyptica:services.trino.cpus" in refusal(services={"trino": {"cpus": 0}})


def test_unknown_port_name_and_out_of_range_port_are_refused():
    assert "datalyptica:ports.trinno: unknown port" in refusal(ports={"trinno": 8080})
    assert "datalyptica:ports.trino: 70000 is not a port" in refusal(ports={"trino": 70000})


def test_memory_beyond_the_host_is_refused_naming_the_largest_consumers():
    message = refusal(host={"cpus": 8, "memory": "8g"})
    assert "datalyptica:host.memory" in message and "largest: " in message
    assert "raise datalyptica:host.memory" in message


def test_cpu_overcommit_only_warns():
    settings = load_settings({"layers": ["storage", "streaming", "processing"], "host": {"cpus": 1, "memory": "64g"}})
    assert settings.capacity_warnings() and "datalyptica:host.cpus" in settings.capacity_warnings()[0]


def test_every_default_host_port_is_unique():
    ports = load_settings({}).host_ports()
    assert len(set(ports.values())) == len(ports)


def test_each_kafka_broker_publishes_its_own_host_port():
    settings = load_settings({"services": {"kafka": {"replicas": 3}}, "ports": {"kafka": 29092}})
    assert [settings.host_port("kafka", broker) for broker in (1, 2, 3)] == [29092, 29093, 29094]
    assert {name: port for name, port in settings.host_ports().items() if name.split()[0] == "kafka"} == {
        "kafka": 29092,
        "kafka (replica 2)": 29093,
        "kafka (replica 3)": 29094,
    }
    with pytest.raises(ValueError, match="published once"):
        settings.host_port("trino", 2)


def test_a_further_brokers_port_that_collides_is_refused():
    message = refusal(services={"kafka": {"replicas": 3}})  # 9092-9094 meets Alertmanager's 9093
    assert "datalyptica:ports" in message and "alertmanager and kafka (replica 2) both use host port 9093" in message
    assert load_settings({"services": {"kafka": {"replicas": 3}}, "layers": ["storage", "streaming"]})


def test_per_replica_ports_past_65535_are_refused():
    message = refusal(services={"kafka": {"replicas": 3}}, ports={"kafka": 65534})
    assert "kafka (replica 3) would be host port 65536" in message and "datalyptica:ports.kafka" in message


def test_prod_publishes_three_brokers_without_a_collision():
    prod = settings_of("prod")
    assert prod.service("kafka").replicas == 3
    assert [prod.host_port("kafka", broker) for broker in (1, 2, 3)] == [29092, 29093, 29094]


def test_the_docker_socket_reaches_the_containers_that_talk_to_docker(deploy):
    """Rootless Docker and this project's own test engine keep the socket elsewhere than
    /var/run/docker.sock; DockerSpawner and Alloy still find it where they look."""
    socket = "/run/user/1000/docker.sock"
    containers = deploy(dockerSocket=socket).containers()
    hub = {v.get("hostPath"): v["containerPath"] for v in containers["jupyterhub"].inputs["volumes"]}
    assert hub[socket] == "/var/run/docker.sock"
    alloy = {m["source"]: m for m in containers["alloy"].inputs["mounts"]}
    assert alloy[socket]["target"] == "/var/run/docker.sock" and alloy[socket]["readOnly"] is True
    message = refusal(dockerSocket="docker.sock")
    assert "datalyptica:dockerSocket: 'docker.sock' is not the path of a socket on the Docker host" in message


def test_the_image_build_network_is_handed_to_every_build_and_checked(deploy):
    built = [
        image
        for image in deploy(layers=["storage"], imageBuildNetwork="host").of_type(
            "docker:index/remoteImage:RemoteImage"
        )
        if image.inputs.get("build")
    ]
    assert built and all(image.inputs["build"]["networkMode"] == "host" for image in built)
    message = refusal(imageBuildNetwork="bridge0")
    assert "datalyptica:imageBuildNetwork: 'bridge0' is not a network" in message and "default, host, none" in message
