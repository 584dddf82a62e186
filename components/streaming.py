"""StreamingLayer: Kafka in KRaft mode, Schema Registry, and Kafka Connect with Debezium.

Each broker is a combined broker + controller; together they are the controller quorum. Kafka
Connect can capture every change of the platform's `cdc` database: a role with REPLICATION and
a publication for all its tables come from the storage layer, and the role's password reaches
the connector through Kafka's FileConfigProvider, as a file.
"""

import base64
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pulumi
import pulumi_random as random

from components import catalog, pgha
from components.endpoints import CdcSource, KafkaEndpoint, ReplicationAccess
from components.layer import Layer
from components.platform import Platform
from components.service import File, HealthCheck, InitJob, Port, Server, Service, ServiceArgs
from components.storage import StorageLayer
from components.templates import render, render_output

KAFKA_INTERNAL_PORT = 19092  # what containers use: kafka-N:19092
KAFKA_CONTROLLER_PORT = 29093
KAFKA_EXTERNAL_PORT = 9092  # published on the host, one host port per broker
KAFKA_DATA_DIR = "/var/lib/kafka/data"  # the image's VOLUME
SCHEMA_REGISTRY_PORT = 8081
APICURIO_PORT = 8080
APICURIO_MANAGEMENT_PORT = 9000
KAFKA_CONNECT_PORT = 8083
CONNECT_UID = "1001"  # the kafka user of the Debezium images

# Kafka's cluster id names the cluster, it unlocks nothing: the policy pack and the tests' leak
# checks know this resource's value as an identifier, not a secret (policy GENERATED_IDENTIFIERS).
CLUSTER_ID_RESOURCE = "kafka-cluster-id"

CDC_DATABASE = "cdc"
CDC_PUBLICATION = "datalyptica_cdc"
# Debezium's slot, named after the publication; the storage layer has Patroni keep it across failovers.
CDC_SLOT = pgha.LogicalSlot(name=CDC_PUBLICATION, database=CDC_DATABASE)
CDC_CONNECTOR = "datalyptica-cdc"
CDC_SECRETS_PATH = "/kafka/secrets/cdc-postgres.properties"
CDC_CONNECTOR_PATH = "/kafka/connectors/cdc-postgres.json"
CONNECT_TOPICS = {"config": "_connect-configs", "offset": "_connect-offsets", "status": "_connect-status"}


def kafka_cluster_id(random_hex: str) -> str:
    """16 random bytes as Kafka writes a cluster id: URL-safe base64 without padding (22 characters)."""
    return base64.urlsafe_b64encode(bytes.fromhex(random_hex)).decode().rstrip("=")


@dataclass(frozen=True)
class KafkaCluster:
    """N combined broker + controller nodes, kafka-1 .. kafka-N with node ids 1 .. N."""

    brokers: int

    def host(self, node_id: int) -> str:
        return f"kafka-{node_id}"

    @property
    def node_ids(self) -> range:
        return range(1, self.brokers + 1)

    @property
    def replication_factor(self) -> int:
        """For internal topics and new topics: every broker up to three copies."""
        return min(3, self.brokers)

    @property
    def min_insync_replicas(self) -> int:
        """One copy may be down while writes with acks=all go on."""
        return max(1, self.replication_factor - 1)

    @property
    def quorum_voters(self) -> str:
        return ",".join(f"{i}@{self.host(i)}:{KAFKA_CONTROLLER_PORT}" for i in self.node_ids)

    @property
    def bootstrap_servers(self) -> str:
        return ",".join(f"{self.host(i)}:{KAFKA_INTERNAL_PORT}" for i in self.node_ids)

    def broker_env(self, node_id: int, external: str | None) -> dict[str, str]:
        """The apache/kafka image's env for one node (KAFKA_<PROPERTY>, `.` as `_`); without
        `external` (host:port) the node has no listener for clients outside Docker."""
        listeners = {"INTERNAL": f"{self.host(node_id)}:{KAFKA_INTERNAL_PORT}"}
        if external:
            listeners["EXTERNAL"] = external
        return {
            "KAFKA_NODE_ID": str(node_id),
            "KAFKA_PROCESS_ROLES": "broker,controller",
            "KAFKA_CONTROLLER_QUORUM_VOTERS": self.quorum_voters,
            "KAFKA_CONTROLLER_LISTENER_NAMES": "CONTROLLER",
            "KAFKA_INTER_BROKER_LISTENER_NAME": "INTERNAL",
            "KAFKA_LISTENERS": ",".join(
                [f"INTERNAL://:{KAFKA_INTERNAL_PORT}", f"CONTROLLER://:{KAFKA_CONTROLLER_PORT}"]
                + ([f"EXTERNAL://:{KAFKA_EXTERNAL_PORT}"] if external else [])
            ),
            "KAFKA_ADVERTISED_LISTENERS": ",".join(f"{name}://{address}" for name, address in listeners.items()),
            "KAFKA_LISTENER_SECURITY_PROTOCOL_MAP": ",".join(
                f"{name}:PLAINTEXT" for name in ("CONTROLLER", *listeners)
            ),
            "KAFKA_LOG_DIRS": KAFKA_DATA_DIR,
            "KAFKA_DEFAULT_REPLICATION_FACTOR": str(self.replication_factor),
            "KAFKA_MIN_INSYNC_REPLICAS": str(self.min_insync_replicas),
            "KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR": str(self.replication_factor),
            "KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR": str(self.replication_factor),
            "KAFKA_TRANSACTION_STATE_LOG_MIN_ISR": str(self.min_insync_replicas),
            "KAFKA_SHARE_COORDINATOR_STATE_TOPIC_REPLICATION_FACTOR": str(self.replication_factor),
            "KAFKA_SHARE_COORDINATOR_STATE_TOPIC_MIN_ISR": str(self.min_insync_replicas),
        }


# An ApiVersions v0 request (API key 18, correlation id 1, client id "hc"), in bash's octal escapes.
_API_VERSIONS_REQUEST = r"\0\0\0\14\0\22\0\0\0\0\0\1\0\2hc"


def kafka_answers(port: int) -> HealthCheck:
    """Healthy when the broker answers Kafka's protocol: ApiVersions with correlation id 1 and
    error code 0. A broker serves requests only once its startup is complete, so this proves more
    than an open port. The image has bash but neither curl nor wget, and its own CLI
    (kafka-broker-api-versions.sh) starts a JVM each time: 1.9 CPU-seconds and 122 MB every interval;
    this costs a bash and a few bytes. The reply is read byte by byte with bash alone (NUL reads as
    empty, hence `_`), so no tool of the image's BusyBox is relied on."""
    script = (
        f"LC_ALL=C; exec 3<>/dev/tcp/127.0.0.1/{port} || exit 1; "
        f"printf '{_API_VERSIONS_REQUEST}' >&3; r=; "
        "for i in 1 2 3 4 5 6 7 8 9 10; do IFS= read -r -d '' -n 1 -t 5 b <&3 || exit 1; r+=${b:-_}; done; "
        "[ \"${r:4}\" = $'___\\001__' ]"
    )
    return HealthCheck.command("bash", "-c", script, interval="15s", timeout="10s", start_period="40s")


@dataclass(frozen=True)
class Registry:
    """How clients reach the deployed schema registry, and what Kafka Connect needs to write through it."""

    confluent_api_url: str  # Confluent's REST API (Apicurio serves it as its ccompat API)
    # The CDC connector's key and value converters; none: the worker's JSON converter, which
    # writes each record's schema inline and leaves the registry out.
    converters: Mapping[str, str]
    connect_env: Mapping[str, str]

    @classmethod
    def confluent(cls) -> "Registry":
        # Confluent's Avro converter is not in the Debezium image (nor under an open-source licence).
        return cls(f"http://schema-registry:{SCHEMA_REGISTRY_PORT}", converters={}, connect_env={})

    @classmethod
    def apicurio(cls) -> "Registry":
        apis = f"http://apicurio-registry:{APICURIO_PORT}/apis"
        converters: dict[str, str] = {}
        for side in ("key", "value"):
            converters |= {
                f"{side}.converter": "io.apicurio.registry.utils.converter.AvroConverter",
                f"{side}.converter.apicurio.registry.url": f"{apis}/registry/v3",
                f"{side}.converter.apicurio.registry.auto-register": "true",
                f"{side}.converter.apicurio.registry.find-latest": "true",
            }
        # The Debezium image puts Apicurio's converters on the plugin path when asked to.
        return cls(f"{apis}/ccompat/v7", converters, connect_env={"ENABLE_APICURIO_CONVERTERS": "true"})


def heap(memory_mb: int) -> str:
    """A JVM heap of half the container's memory: the rest is metaspace, buffers, page cache."""
    return f"-Xmx{memory_mb // 2}m"


class StreamingLayer(Layer):
    layer = "streaming"

    def __init__(self, platform: Platform, storage: StorageLayer):
        super().__init__(platform)
        self.network = self.own_network("streaming")
        self.cluster = KafkaCluster(self.spec("kafka").replicas)
        if self.cluster.brokers < 1:
            raise ValueError("datalyptica:services.kafka.replicas: the streaming layer needs at least one broker")

        # Generated once and kept in state: every broker formats its log dirs with this id.
        # It names the cluster, it is not a credential, so it may show in `docker inspect`.
        cluster_bytes = random.RandomBytes(CLUSTER_ID_RESOURCE, length=16, opts=pulumi.ResourceOptions(parent=self))
        self.cluster_id = pulumi.Output.unsecret(cluster_bytes.hex.apply(kafka_cluster_id))

        self.brokers = [self._broker(node_id) for node_id in self.cluster.node_ids]
        broker_containers = [broker.container for broker in self.brokers]
        self.registry = self._registry(depends_on=broker_containers)

        cdc_database = storage.database(CDC_DATABASE, parent=self)
        self.cdc = storage.replication_role("debezium", database=cdc_database, publication=CDC_PUBLICATION, parent=self)
        self.kafka_connect = self._kafka_connect(depends_on=broker_containers)
        self.cdc_registration = self._register_cdc_connector()

        self.endpoint = KafkaEndpoint(
            networks=(self.network,),
            brokers=tuple(self.cluster.host(node_id) for node_id in self.cluster.node_ids),
            port=KAFKA_INTERNAL_PORT,
            schema_registry_url=self.registry.confluent_api_url,
            kafka_connect_url=f"http://kafka-connect:{KAFKA_CONNECT_PORT}",
            resources=tuple(broker_containers),
            cdc=CdcSource(database=cdc_database, topic_prefix=cdc_topic_prefix(self.cdc)),
        )
        self.watched.append(self.endpoint)  # Kafka serves JMX only: an exporter gives its metrics
        external = [self._external_address(node_id) for node_id in self.cluster.node_ids]
        published = [address for address in external if address]
        self.extra_urls["kafka_bootstrap"] = ",".join(published) if len(published) == len(external) else None
        # The login of the captured database's owner, for the applications that write its tables;
        # Debezium's own login stays in Kafka Connect's file.
        self.credentials = {"cdc_user": cdc_database.username, "cdc_password": cdc_database.password}
        self.finish({"bootstrap_servers": self.cluster.bootstrap_servers, "cluster_id": self.cluster_id})

    def _external_address(self, node_id: int) -> str | None:
        """host:port by which clients outside Docker reach this broker, if it is published."""
        port = self.settings.host_port("kafka", node_id)
        return f"{self.settings.endpoint_host}:{port}" if port is not None else None

    def _broker(self, node_id: int) -> Service:
        spec = self.spec("kafka")
        env = self.cluster.broker_env(node_id, self._external_address(node_id))
        return self.service(
            self.cluster.host(node_id),
            ServiceArgs(
                spec=spec,
                lifecycle=Server(kafka_answers(KAFKA_INTERNAL_PORT)),
                networks=[self.network],
                env={**env, "CLUSTER_ID": self.cluster_id, "KAFKA_HEAP_OPTS": heap(spec.memory_mb)},
                volumes={"data": KAFKA_DATA_DIR},
                ports=[Port("kafka", KAFKA_EXTERNAL_PORT, replica=node_id)],
                metrics=None,  # Kafka serves JMX only; Prometheus would need a JMX exporter agent in the image
            ),
        )

    def _registry(self, *, depends_on: Sequence[pulumi.Resource]) -> "Registry":
        """The schema registry `datalyptica:schemaRegistry` chose; both keep their schemas in Kafka."""
        if self.settings.chosen(catalog.SCHEMA_REGISTRIES) == "apicurio-registry":
            self._apicurio_registry(depends_on=depends_on)
            return Registry.apicurio()
        self._confluent_registry(depends_on=depends_on)
        return Registry.confluent()

    def _confluent_registry(self, *, depends_on: Sequence[pulumi.Resource]) -> Service:
        spec = self.spec("schema-registry")
        return self.service(
            "schema-registry",
            ServiceArgs(
                spec=spec,
                # The cp-base-java image (ubi9-minimal) installs no curl, but has bash (tests/health_evidence.toml).
                lifecycle=Server(HealthCheck.http_via_bash(SCHEMA_REGISTRY_PORT, "/subjects")),
                networks=[self.network],
                env={
                    "SCHEMA_REGISTRY_HOST_NAME": "schema-registry",
                    "SCHEMA_REGISTRY_LISTENERS": f"http://0.0.0.0:{SCHEMA_REGISTRY_PORT}",
                    "SCHEMA_REGISTRY_KAFKASTORE_BOOTSTRAP_SERVERS": self.cluster.bootstrap_servers,
                    "SCHEMA_REGISTRY_KAFKASTORE_TOPIC_REPLICATION_FACTOR": str(self.cluster.replication_factor),
                    "SCHEMA_REGISTRY_HEAP_OPTS": heap(spec.memory_mb),
                },
                ports=[Port("schema-registry", SCHEMA_REGISTRY_PORT)],
                metrics=None,  # JMX only
                depends_on=depends_on,
            ),
        )

    def _apicurio_registry(self, *, depends_on: Sequence[pulumi.Resource]) -> Service:
        spec = self.spec("apicurio-registry")
        return self.service(
            "apicurio-registry",
            ServiceArgs(
                spec=spec,
                # Quarkus serves health on its management port; the image (ubi openjdk-21-runtime)
                # starts through bash, curl is not certain (tests/health_evidence.toml).
                lifecycle=Server(HealthCheck.http_via_bash(APICURIO_MANAGEMENT_PORT, "/health/ready")),
                networks=[self.network],
                env={
                    # Schemas are kept in a Kafka topic, as Confluent's registry keeps them: no database.
                    # It creates its topics with min(3, brokers) copies itself; setting
                    # APICURIO_KAFKASQL_TOPIC_REPLICATION_FACTOR would stop it from starting (3.3.x).
                    "APICURIO_STORAGE_KIND": "kafkasql",
                    "APICURIO_KAFKASQL_BOOTSTRAP_SERVERS": self.cluster.bootstrap_servers,
                    "JAVA_OPTS_APPEND": heap(spec.memory_mb),
                },
                ports=[Port("apicurio-registry", APICURIO_PORT)],
                metrics=None,
                depends_on=depends_on,
            ),
        )

    def _kafka_connect(self, *, depends_on: Sequence[pulumi.Resource]) -> Service:
        spec = self.spec("kafka-connect")
        replication = str(self.cluster.replication_factor)
        return self.service(
            "kafka-connect",
            ServiceArgs(
                spec=spec,
                lifecycle=Server(
                    HealthCheck.curl(f"http://localhost:{KAFKA_CONNECT_PORT}/connectors", start_period="60s")
                ),
                networks=[self.network],
                uses=[self.cdc],
                env={
                    "BOOTSTRAP_SERVERS": self.cluster.bootstrap_servers,
                    "GROUP_ID": "datalyptica-connect",
                    "ADVERTISED_HOST_NAME": "kafka-connect",
                    "CONFIG_STORAGE_TOPIC": CONNECT_TOPICS["config"],
                    "OFFSET_STORAGE_TOPIC": CONNECT_TOPICS["offset"],
                    "STATUS_STORAGE_TOPIC": CONNECT_TOPICS["status"],
                    "CONNECT_CONFIG_STORAGE_REPLICATION_FACTOR": replication,
                    "CONNECT_OFFSET_STORAGE_REPLICATION_FACTOR": replication,
                    "CONNECT_STATUS_STORAGE_REPLICATION_FACTOR": replication,
                    # Connector configs say ${file:<path>:<key>}; the worker reads the value from the file.
                    "CONNECT_CONFIG_PROVIDERS": "file",
                    "CONNECT_CONFIG_PROVIDERS_FILE_CLASS": "org.apache.kafka.common.config.provider.FileConfigProvider",
                    "HEAP_OPTS": heap(spec.memory_mb),
                    **self.registry.connect_env,
                },
                files=[File(CDC_SECRETS_PATH, cdc_secrets(self.cdc), secret=True, owner=CONNECT_UID)],
                ports=[Port("kafka-connect", KAFKA_CONNECT_PORT)],
                metrics=None,  # the image's JMX exporter switch expects an agent jar the image does not ship
                depends_on=depends_on,
            ),
        )

    def _register_cdc_connector(self) -> Service:
        """Puts the CDC connector's config through Connect's REST API once Connect is healthy (PUT
        creates or updates it). A changed config replaces the job, which puts it again; the
        connector's offsets and slot stay, so it resumes where it was."""
        config = cdc_connector_config(self.cdc, self.cluster.replication_factor, self.registry.converters)
        url = f"http://kafka-connect:{KAFKA_CONNECT_PORT}/connectors/{CDC_CONNECTOR}/config"
        return self.service(
            "kafka-connect-register",
            ServiceArgs(
                spec=self.spec("kafka-connect").init_job("kafka-connect-register"),
                lifecycle=InitJob(),
                networks=[self.network],
                # Connect answers 409 while its workers rebalance: retried, as any refusal.
                entrypoint=["curl"],
                command=[
                    *(
                        "--fail",
                        "--silent",
                        "--show-error",
                        "--retry",
                        "12",
                        "--retry-delay",
                        "5",
                        "--retry-all-errors",
                    ),
                    *("-X", "PUT", "-H", "Content-Type: application/json", "--data", f"@{CDC_CONNECTOR_PATH}", url),
                ],
                files=[File(CDC_CONNECTOR_PATH, config, owner=CONNECT_UID)],
                depends_on=[self.kafka_connect.container],
            ),
        )


def cdc_topic_prefix(cdc: ReplicationAccess) -> str:
    """The connector's `topic.prefix`: a table's changes go to `<prefix>.<schema>.<table>`."""
    return cdc.database


def cdc_secrets(cdc: ReplicationAccess) -> pulumi.Output[str]:
    """The properties file FileConfigProvider reads the CDC role's login from (mode 0400)."""
    return render_output("kafka-connect/cdc-postgres.properties.j2", username=cdc.username, password=cdc.password)


def cdc_connector_config(cdc: ReplicationAccess, replication_factor: int, converters: Mapping[str, str]) -> str:
    """The Debezium PostgreSQL connector, ready for PUT /connectors/<name>/config; no secret in it.
    `converters` (the registry's) replace the worker's JSON converter for its records."""
    return render(
        "kafka-connect/cdc-postgres.json.j2",
        cdc=cdc,
        slot=CDC_SLOT,
        secrets_path=CDC_SECRETS_PATH,
        replication_factor=replication_factor,
        connector=CDC_CONNECTOR,
        topic_prefix=cdc_topic_prefix(cdc),
        converters=converters,
    )
