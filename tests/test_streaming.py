"""The streaming layer under mocks: Kafka (KRaft), Schema Registry, Kafka Connect with Debezium."""

import base64
import json

import pytest
import yaml

from components.streaming import KafkaCluster, kafka_cluster_id
from tests.java_properties import parse_with_java
from tests.secret_files import private_to

STREAMING_LAYER = "datalyptica:streaming:StreamingLayer"
SECRETS_FILE = "/kafka/secrets/cdc-postgres.properties"
CONNECTOR_FILE = "/kafka/connectors/cdc-postgres.json"

# The broker properties the stack sets, as the apache/kafka image names them in server.properties.
BROKER_PROPERTIES = {
    "node.id",
    "process.roles",
    "controller.quorum.voters",
    "controller.listener.names",
    "inter.broker.listener.name",
    "listeners",
    "advertised.listeners",
    "listener.security.protocol.map",
    "log.dirs",
    "default.replication.factor",
    "min.insync.replicas",
    "offsets.topic.replication.factor",
    "transaction.state.log.replication.factor",
    "transaction.state.log.min.isr",
    "share.coordinator.state.topic.replication.factor",
    "share.coordinator.state.topic.min.isr",
}
# Env the image hands to the JVM or the storage formatter, not to server.properties.
KAFKA_LAUNCHER_ENV = {"KAFKA_HEAP_OPTS", "CLUSTER_ID"}


def env(container) -> dict[str, str]:
    return dict(entry.split("=", 1) for entry in container.inputs["envs"])


def upload(container, path: str) -> dict:
    return next(u for u in container.inputs["uploads"] if u["file"] == path)


def kafka_properties(container) -> dict[str, str]:
    """The apache/kafka image's env -> server.properties rule: drop KAFKA_, lower case, `_` -> `.`,
    `__` -> `_`, `___` -> `-`."""
    properties = {}
    for key, value in env(container).items():
        if key.startswith("KAFKA_") and key not in KAFKA_LAUNCHER_ENV:
            name = key.removeprefix("KAFKA_").lower().replace("___", "-").replace("__", "\0").replace("_", ".")
            properties[name.replace("\0", "_")] = value
    return properties


def connect_worker_properties(container) -> dict[str, str]:
    """The Debezium image's rule for CONNECT_* env: drop CONNECT_, lower case, `_` -> `.`."""
    return {
        key.removeprefix("CONNECT_").lower().replace("_", "."): value
        for key, value in env(container).items()
        if key.startswith("CONNECT_")
    }


def listener_names(value: str) -> list[str]:
    return [entry.split("://")[0] for entry in value.split(",")]


def brokers(deployment) -> dict:
    return {name: c for name, c in deployment.containers().items() if name.startswith("kafka-") and name[6:].isdigit()}


def test_dev_runs_one_broker_schema_registry_and_connect_inside_the_layer(dev):
    containers = dev.containers()
    assert set(brokers(dev)) == {"kafka-1"}
    for name in ("kafka-1", "schema-registry", "kafka-connect"):
        chain = [r.type for r in dev.ancestors(containers[name])]
        assert chain[:2] == ["datalyptica:platform:Service", STREAMING_LAYER], name
        assert containers[name].inputs["name"] == f"datalyptica-{name}"


def test_dev_broker_is_its_own_quorum_with_replication_factor_one(dev):
    properties = kafka_properties(brokers(dev)["kafka-1"])
    assert properties["node.id"] == "1"
    assert properties["process.roles"] == "broker,controller"
    assert properties["controller.quorum.voters"] == "1@kafka-1:29093"
    for key in (
        "offsets.topic.replication.factor",
        "transaction.state.log.replication.factor",
        "default.replication.factor",
        "transaction.state.log.min.isr",
        "min.insync.replicas",
    ):
        assert properties[key] == "1", key
    assert properties["advertised.listeners"] == "INTERNAL://kafka-1:19092,EXTERNAL://localhost:9092"
    assert [(p["internal"], p["external"], p["ip"]) for p in brokers(dev)["kafka-1"].inputs["ports"]] == [
        (9092, 9092, "127.0.0.1")
    ]


def test_prod_runs_three_voting_brokers_with_replication_three_and_min_isr_two(prod):
    nodes = brokers(prod)
    assert set(nodes) == {"kafka-1", "kafka-2", "kafka-3"}
    for node_id in (1, 2, 3):
        container = nodes[f"kafka-{node_id}"]
        properties = kafka_properties(container)
        assert properties["node.id"] == str(node_id)
        assert properties["controller.quorum.voters"] == "1@kafka-1:29093,2@kafka-2:29093,3@kafka-3:29093"
        for key in (
            "offsets.topic.replication.factor",
            "transaction.state.log.replication.factor",
            "default.replication.factor",
            "share.coordinator.state.topic.replication.factor",
        ):
            assert properties[key] == "3", key
        for key in ("transaction.state.log.min.isr", "min.insync.replicas", "share.coordinator.state.topic.min.isr"):
            assert properties[key] == "2", key
        host_port = 29092 + node_id - 1
        assert (
            properties["advertised.listeners"] == f"INTERNAL://kafka-{node_id}:19092,EXTERNAL://localhost:{host_port}"
        )
        assert [(p["internal"], p["external"], p["ip"]) for p in container.inputs["ports"]] == [
            (9092, host_port, "0.0.0.0")
        ]
    assert prod.outputs["kafka_bootstrap_url"] == "localhost:29092,localhost:29093,localhost:29094"


def test_broker_env_is_a_consistent_server_properties(dev, prod):
    for container in [*brokers(dev).values(), *brokers(prod).values()]:
        properties = kafka_properties(container)
        assert set(properties) == BROKER_PROPERTIES
        listeners = listener_names(properties["listeners"])
        protocols = dict(entry.split(":") for entry in properties["listener.security.protocol.map"].split(","))
        assert set(listeners) == set(protocols) == {"INTERNAL", "CONTROLLER", "EXTERNAL"}
        assert properties["controller.listener.names"] in listeners
        assert properties["inter.broker.listener.name"] in listeners
        assert set(listener_names(properties["advertised.listeners"])) == set(listeners) - {"CONTROLLER"}
        assert properties["log.dirs"] == "/var/lib/kafka/data"
        mounts = {v["containerPath"] for v in container.inputs["volumes"]}
        assert "/var/lib/kafka/data" in mounts


def test_unpublished_brokers_have_no_external_listener():
    cluster = KafkaCluster(2)
    properties = cluster.broker_env(2, None)
    assert properties["KAFKA_LISTENERS"] == "INTERNAL://:19092,CONTROLLER://:29093"
    assert properties["KAFKA_ADVERTISED_LISTENERS"] == "INTERNAL://kafka-2:19092"
    assert "EXTERNAL" not in properties["KAFKA_LISTENER_SECURITY_PROTOCOL_MAP"]
    assert (cluster.replication_factor, cluster.min_insync_replicas) == (2, 1)
    assert (KafkaCluster(5).replication_factor, KafkaCluster(5).min_insync_replicas) == (3, 2)


def test_one_generated_cluster_id_in_kafkas_format_for_every_broker(prod):
    random_bytes = prod.named("kafka-cluster-id", "random:index/randomBytes:RandomBytes")
    assert random_bytes.inputs["length"] == 16
    assert STREAMING_LAYER in [r.type for r in prod.ancestors(random_bytes)]
    ids = {env(container)["CLUSTER_ID"] for container in brokers(prod).values()}
    assert len(ids) == 1
    cluster_id = ids.pop()
    assert len(cluster_id) == 22
    assert len(base64.urlsafe_b64decode(cluster_id + "==")) == 16
    assert cluster_id == kafka_cluster_id(random_bytes.outputs["hex"])
    # A name, not a secret: it shows in the brokers' env, and the leak checks know it as such.
    assert random_bytes.outputs["hex"] not in prod.generated_secrets


def test_health_checks_use_tools_the_images_have(dev):
    containers = dev.containers()
    kafka = containers["kafka-1"].inputs["healthcheck"]["tests"]
    assert kafka[:3] == ["CMD", "bash", "-c"]  # no curl/wget; the image's CLI would start a JVM each time
    assert "/dev/tcp/127.0.0.1/19092" in kafka[3]
    assert containers["schema-registry"].inputs["healthcheck"]["tests"][1] == "bash"  # ubi9-minimal: no curl
    assert "GET /subjects HTTP/1.0" in containers["schema-registry"].inputs["healthcheck"]["tests"][-1]
    assert containers["kafka-connect"].inputs["healthcheck"]["tests"][1] == "curl"
    for name in ("kafka-1", "schema-registry", "kafka-connect"):
        assert containers[name].inputs["wait"] is True, name


def test_limits_come_from_settings(dev, prod):
    assert dev.containers()["kafka-1"].inputs["memory"] == 1024
    assert prod.containers()["kafka-2"].inputs["memory"] == 4096
    assert prod.containers()["kafka-connect"].inputs["cpus"] == "2.0"
    assert env(prod.containers()["kafka-1"])["KAFKA_HEAP_OPTS"] == "-Xmx2048m"


def test_networks_streaming_for_all_and_storage_only_for_connect(dev):
    containers = dev.containers()

    def joined(name):
        return {n["name"] for n in containers[name].inputs["networksAdvanced"]}

    assert joined("kafka-1") == joined("schema-registry") == {"datalyptica-streaming"}
    assert joined("kafka-connect") == {"datalyptica-streaming", "datalyptica-storage"}


def test_schema_registry_and_connect_use_every_broker_and_its_replication_factor(prod):
    containers = prod.containers()
    registry = env(containers["schema-registry"])
    assert registry["SCHEMA_REGISTRY_KAFKASTORE_BOOTSTRAP_SERVERS"] == "kafka-1:19092,kafka-2:19092,kafka-3:19092"
    assert registry["SCHEMA_REGISTRY_KAFKASTORE_TOPIC_REPLICATION_FACTOR"] == "3"
    connect = env(containers["kafka-connect"])
    assert connect["BOOTSTRAP_SERVERS"] == "kafka-1:19092,kafka-2:19092,kafka-3:19092"
    assert {connect["CONFIG_STORAGE_TOPIC"], connect["OFFSET_STORAGE_TOPIC"], connect["STATUS_STORAGE_TOPIC"]} == {
        "_connect-configs",
        "_connect-offsets",
        "_connect-status",
    }
    worker = connect_worker_properties(containers["kafka-connect"])
    for topic in ("config", "offset", "status"):
        assert worker[f"{topic}.storage.replication.factor"] == "3", topic
    assert worker["config.providers"] == "file"
    assert worker["config.providers.file.class"] == "org.apache.kafka.common.config.provider.FileConfigProvider"
    broker_urns = {c.urn for c in brokers(prod).values()}
    assert broker_urns <= set(containers["kafka-connect"].dependencies)
    assert broker_urns <= set(containers["schema-registry"].dependencies)


def test_cdc_role_may_replicate_and_read_the_cdc_database(dev):
    role = dev.named("debezium-replication-role", "postgresql:index/role:Role")
    assert role.inputs["name"] == "debezium"
    assert role.inputs["login"] is True and role.inputs["replication"] is True
    assert not role.inputs.get("superuser")
    assert "password" in role.secret_inputs()
    database = dev.named("cdc-database", "postgresql:index/database:Database")
    assert database.inputs["name"] == "cdc"
    connect = dev.named("debezium-connect", "postgresql:index/grant:Grant")
    assert (connect.inputs["database"], connect.inputs["objectType"], connect.inputs["privileges"]) == (
        "cdc",
        "database",
        ["CONNECT"],
    )
    tables = dev.named("debezium-read-tables", "postgresql:index/grant:Grant")
    assert (tables.inputs["objectType"], tables.inputs["privileges"], tables.inputs["schema"]) == (
        "table",
        ["SELECT"],
        "public",
    )
    future = dev.named("debezium-read-future-tables", "postgresql:index/defaultPrivileges:DefaultPrivileges")
    assert (future.inputs["owner"], future.inputs["role"]) == ("cdc", "debezium")
    assert future.inputs["privileges"] == ["SELECT"]
    publication = dev.named("debezium-publication", "postgresql:index/publication:Publication")
    assert (publication.inputs["name"], publication.inputs["database"], publication.inputs["allTables"]) == (
        "datalyptica_cdc",
        "cdc",
        True,
    )
    admin = dev.of_type("pulumi:providers:postgresql")[0]
    for resource in (role, connect, tables, future, publication):
        assert resource.provider.startswith(admin.urn), resource.name
        assert STREAMING_LAYER in [r.type for r in dev.ancestors(resource)], resource.name
    kafka_connect = dev.containers()["kafka-connect"]
    assert {role.urn, publication.urn, database.urn} <= set(kafka_connect.dependencies)


def test_cdc_password_reaches_connect_as_a_private_file_parsed_by_java(dev):
    container = dev.containers()["kafka-connect"]
    secrets_file = upload(container, SECRETS_FILE)
    assert private_to(container, SECRETS_FILE, "1001") and secrets_file["content"]
    assert "uploads" in container.secret_inputs() and "envs" not in container.secret_inputs()
    login = parse_with_java(secrets_file["content"])
    role = dev.named("debezium-replication-role", "postgresql:index/role:Role")
    assert login == {"username": "debezium", "password": role.inputs["password"]}
    assert login["password"] in dev.generated_secrets
    assert all(login["password"] not in value for value in env(container).values())


def test_cdc_connector_config_names_the_publication_and_reads_the_password_from_the_file(dev):
    config = json.loads(upload(dev.containers()["kafka-connect-register"], CONNECTOR_FILE)["content"])
    assert config["connector.class"] == "io.debezium.connector.postgresql.PostgresConnector"
    assert config["plugin.name"] == "pgoutput"
    assert (config["database.hostname"], config["database.port"]) == ("haproxy", "5000")
    assert config["database.dbname"] == "cdc"
    assert config["database.user"] == f"${{file:{SECRETS_FILE}:username}}"
    assert config["database.password"] == f"${{file:{SECRETS_FILE}:password}}"
    assert (config["publication.name"], config["publication.autocreate.mode"]) == ("datalyptica_cdc", "disabled")
    assert config["topic.creation.default.replication.factor"] == "1"
    assert all(isinstance(value, str) for value in config.values())  # Connect's REST API takes strings


def test_a_job_registers_the_cdc_connector_once_connect_is_healthy_and_again_when_its_config_changes(dev, deploy):
    job = dev.containers()["kafka-connect-register"]
    command = job.inputs["command"]
    assert job.inputs["entrypoints"] == ["curl"] and job.inputs["restart"] == "no" and job.inputs["mustRun"] is False
    assert command[-5:] == [
        "-H",
        "Content-Type: application/json",
        "--data",
        f"@{CONNECTOR_FILE}",
        "http://kafka-connect:8083/connectors/datalyptica-cdc/config",
    ]
    assert command[command.index("-X") + 1] == "PUT" and "--fail" in command and "--retry-all-errors" in command
    assert dev.containers()["kafka-connect"].urn in job.dependencies
    assert "uploads" not in job.secret_inputs()  # the connector's config names its secrets' file only
    # Another registry changes the config: the job's upload changes, so the job is replaced and runs again.
    apicurio = deploy(schemaRegistry="apicurio", protectData=False).containers()["kafka-connect-register"]
    assert upload(apicurio, CONNECTOR_FILE)["content"] != upload(job, CONNECTOR_FILE)["content"]


def test_streaming_with_only_storage_registers_nothing_of_other_layers(deploy):
    streaming_alone = deploy(layers=["storage", "streaming"], protectData=False)
    assert {"kafka-1", "schema-registry", "kafka-connect"} <= set(streaming_alone.containers())
    registered_types = {r.type for r in streaming_alone.registered}
    layers = {t for t in registered_types if t.startswith("datalyptica:") and t.endswith("Layer")}
    assert layers == {"datalyptica:storage:StorageLayer", STREAMING_LAYER}
    assert "kafka_connect_url" in streaming_alone.outputs


def test_streaming_layer_exposes_only_the_cdc_databases_owner_login_as_secret_outputs(dev):
    assert {name for name in dev.outputs if "cdc" in name or "kafka" in name} == {
        "kafka_bootstrap_url",
        "kafka_connect_url",
        "cdc_user",
        "cdc_password",
    }
    assert {"cdc_user", "cdc_password"} <= set(dev.secret_outputs)
    owner = dev.named("cdc-db-role", "postgresql:index/role:Role")
    assert (dev.outputs["cdc_user"], dev.outputs["cdc_password"]) == (owner.inputs["name"], owner.inputs["password"])


def test_debeziums_slot_is_a_patroni_permanent_slot_only_with_streaming(dev, deploy):
    def slots(deployment):
        patroni = deployment.containers()["patroni-1"]
        config = next(u for u in patroni.inputs["uploads"] if u["file"] == "/etc/patroni/patroni.yml")["content"]
        return yaml.safe_load(config)["bootstrap"]["dcs"].get("slots")

    assert slots(dev) == {"datalyptica_cdc": {"type": "logical", "database": "cdc", "plugin": "pgoutput"}}
    connector = json.loads(upload(dev.containers()["kafka-connect-register"], CONNECTOR_FILE)["content"])
    assert (connector["slot.name"], connector["plugin.name"]) == ("datalyptica_cdc", "pgoutput")
    assert slots(deploy(layers=["storage"], protectData=False)) is None


def test_schema_registry_is_confluents_unless_the_stack_chooses_apicurio(dev, deploy):
    assert "schema-registry" in dev.containers() and "apicurio-registry" not in dev.containers()
    config = json.loads(upload(dev.containers()["kafka-connect-register"], CONNECTOR_FILE)["content"])
    assert "value.converter" not in config  # the worker's JSON converter: Confluent's Avro one is not in the image
    apicurio = deploy(layers=["storage", "streaming"], protectData=False, schemaRegistry="apicurio")
    containers = apicurio.containers()
    assert "apicurio-registry" in containers and "schema-registry" not in containers
    assert apicurio.outputs["schema_registry_url"] == "http://localhost:8085/apis/ccompat/v7"


def test_apicurio_keeps_its_schemas_in_kafka_and_the_cdc_connector_writes_avro_through_it(deploy):
    apicurio = deploy(layers=["storage", "streaming"], protectData=False, schemaRegistry="apicurio")
    containers = apicurio.containers()
    registry = env(containers["apicurio-registry"])
    assert registry["APICURIO_STORAGE_KIND"] == "kafkasql"
    assert registry["APICURIO_KAFKASQL_BOOTSTRAP_SERVERS"] == "kafka-1:19092"
    assert {c.urn for c in brokers(apicurio).values()} <= set(containers["apicurio-registry"].dependencies)
    assert env(containers["kafka-connect"])["ENABLE_APICURIO_CONVERTERS"] == "true"
    config = json.loads(upload(containers["kafka-connect-register"], CONNECTOR_FILE)["content"])
    for side in ("key", "value"):
        assert config[f"{side}.converter"] == "io.apicurio.registry.utils.converter.AvroConverter"
        assert config[f"{side}.converter.apicurio.registry.url"] == "http://apicurio-registry:8080/apis/registry/v3"
        assert config[f"{side}.converter.apicurio.registry.auto-register"] == "true"
    assert all(isinstance(value, str) for value in config.values())


def test_an_unknown_schema_registry_is_refused_naming_the_key_and_the_choices(deploy):
    with pytest.raises(Exception) as refused:
        deploy(layers=["storage", "streaming"], schemaRegistry="karapace")
    message = str(refused.value)
    assert "schemaRegistry" in message and "confluent" in message and "apicurio" in message
