"""What the platform is made of: its layers, their services, and each service's defaults.

This is the one place that knows the platform's shape. Settings validate a stack's config
against it and fill in whatever the stack leaves out; layers read their services' values
from the settings, never from here directly.
"""

from collections.abc import Mapping
from dataclasses import dataclass, field

GiB = 1024**3
MiB = 1024**2
ROOT_UID = "0"
# Seconds a container gets between SIGTERM and SIGKILL when it is stopped, replaced or destroyed
# (ServiceDefaults.stop_grace_seconds): Docker's own default for `docker stop`, unless a service
# needs more to flush and close cleanly.
DEFAULT_STOP_GRACE_SECONDS = 10


@dataclass(frozen=True)
class JobSize:
    """The limits of the one-shot jobs a service's image runs besides the service itself."""

    cpus: float
    memory: str


@dataclass(frozen=True)
class ServiceDefaults:
    layer: str
    image: str
    cpus: float
    memory: str
    replicas: int = 1
    scalable: bool = False  # whether a stack may change `replicas`
    ports: dict[str, int] = field(default_factory=dict)  # port name -> default host port
    job: bool = False  # runs on demand and exits: no health check, no restart
    # Every replica publishes its own host ports, replica i on the configured port + i - 1
    # (Kafka brokers: a client must reach each broker, not just one of them).
    ports_per_replica: bool = False
    # The image has no USER: it starts as root and its entrypoint switches to the service's user
    # itself (gosu, su-exec), so the files it reads are handed over owned by that user
    # (service.File). Every other image starts as its own user (see File for how it reads them).
    drops_privileges: bool = False
    # Stateful services get enough to flush and close cleanly: PostgreSQL's fast shutdown ends with a
    # checkpoint, Kafka's controlled shutdown moves partition leadership, etcd and ClickHouse sync their
    # logs, Redis writes its snapshot, Prometheus and Loki flush their heads to disk; `weed server`
    # waits 10 s after SIGTERM before it exits.
    stop_grace_seconds: int = DEFAULT_STOP_GRACE_SECONDS
    job_size: JobSize | None = None  # None: a job of this image gets the service's own limits


@dataclass(frozen=True)
class PortUrl:
    """How a user reaches a published port: the stack output `<output>_url`."""

    output: str
    scheme: str = "http"
    path: str = ""


# Layer -> the layers it cannot run without.
LAYER_REQUIRES: dict[str, tuple[str, ...]] = {
    "storage": (),
    "streaming": ("storage",),
    "processing": ("storage",),
    "query": ("storage",),
    "olap": (),
    "quality": ("storage", "query"),
    "monitoring": (),
    "security": ("storage",),
    "analytics": ("storage",),
}
LAYERS: tuple[str, ...] = tuple(LAYER_REQUIRES)
# Layer -> the layers it uses when the stack enables them (components/graph.py builds them first).
LAYER_USES: dict[str, tuple[str, ...]] = {
    "storage": ("security",),  # the MinIO console logs in through Keycloak
    "streaming": (),
    "processing": ("streaming",),  # jobs reach Kafka
    "query": ("olap",),  # Trino's ClickHouse catalog
    "olap": (),
    "quality": (),
    "monitoring": tuple(layer for layer in LAYERS if layer != "monitoring"),  # scrapes and watches every layer
    "security": (),
    "analytics": ("query", "olap", "processing", "streaming", "security"),  # streaming: the BI dashboard DAG
}

# Images we build from images/<name>/, tagged ghcr.io/datalyptica/datalyptica/<name>:<version>.
BUILT_IMAGE_REGISTRY = "ghcr.io/datalyptica/datalyptica"


def built(name: str) -> str:
    """Marks a service whose image is built from images/<name>/ rather than pulled."""
    return f"build:{name}"


# Host ports: the seed's where it names one; elsewhere the service's own default, moved
# where two services would claim the same host port (docs/configuration.md's Host ports lists them).
SERVICES: dict[str, ServiceDefaults] = {
    # storage
    "minio": ServiceDefaults(
        "storage",
        "quay.io/minio/minio:RELEASE.2025-09-07T16-13-09Z",
        1,
        "1g",
        ports={"minio": 9000, "minio-console": 9001},
        stop_grace_seconds=30,
    ),
    # SeaweedFS: the maintained alternative (datalyptica:objectStore); its S3 API takes MinIO's
    # host port 9000 (only one of the two is ever deployed), so S3 clients on the host keep theirs.
    # Official image: docker/Dockerfile.go_build, pushed as chrislusf/seaweedfs:<release> by
    # .github/workflows/container_release_unified.yml (seaweedfs/seaweedfs).
    "seaweedfs": ServiceDefaults(
        "storage",
        "chrislusf/seaweedfs:4.53",
        1,
        "1g",
        ports={"seaweedfs": 9000},
        drops_privileges=True,
        stop_grace_seconds=30,
        job_size=JobSize(0.25, "64m"),
    ),
    "etcd": ServiceDefaults("storage", "quay.io/coreos/etcd:v3.5.21", 0.5, "256m", replicas=3, stop_grace_seconds=30),
    "patroni": ServiceDefaults("storage", built("patroni"), 1, "768m", replicas=2, stop_grace_seconds=120),
    "haproxy": ServiceDefaults(
        "storage",
        "haproxy:3.2.4",
        0.5,
        "256m",
        ports={"postgres-primary": 5432, "postgres-replicas": 5433, "haproxy-stats": 7000},
        stop_grace_seconds=15,
    ),
    "nessie": ServiceDefaults(
        "storage", "ghcr.io/projectnessie/nessie:0.108.4", 1, "1g", ports={"nessie": 19120}, stop_grace_seconds=30
    ),
    # streaming
    "kafka": ServiceDefaults(
        "streaming",
        "apache/kafka:4.1.1",
        1,
        "1g",
        scalable=True,
        ports={"kafka": 9092},
        ports_per_replica=True,
        stop_grace_seconds=120,
    ),
    "schema-registry": ServiceDefaults(
        "streaming",
        "confluentinc/cp-schema-registry:8.2.0",
        0.5,
        "1g",
        ports={"schema-registry": 8085},
        stop_grace_seconds=30,
    ),
    # Apicurio Registry: the open-source alternative (datalyptica:schemaRegistry); it takes the
    # Confluent registry's host port, as only one of the two is ever deployed.
    "apicurio-registry": ServiceDefaults(
        "streaming",
        "apicurio/apicurio-registry:3.3.3",
        0.5,
        "1g",
        ports={"apicurio-registry": 8085},
        stop_grace_seconds=30,
    ),
    "kafka-connect": ServiceDefaults(
        "streaming",
        "quay.io/debezium/connect:3.5.2.Final",
        1,
        "1536m",
        ports={"kafka-connect": 8083},
        stop_grace_seconds=60,
        job_size=JobSize(0.25, "64m"),  # kafka-connect-register: one curl
    ),
    # processing
    "spark-master": ServiceDefaults(
        "processing",
        built("spark"),
        1,
        "1g",
        ports={"spark-master": 7077, "spark-master-ui": 8180},
        stop_grace_seconds=30,
    ),
    "spark-worker": ServiceDefaults("processing", built("spark"), 1, "2g", scalable=True, stop_grace_seconds=30),
    # A driver on the cluster that Python clients without Java (Airflow's tasks) reach over gRPC.
    "spark-connect": ServiceDefaults("processing", built("spark"), 0.5, "1g", stop_grace_seconds=30),
    # Flink 2.2's images start as their user, flink (flink-docker FLINK-37881 dropped gosu): the
    # config file reaches it through group 0, which the entrypoint's in-place rewrite needs writable.
    "flink-jobmanager": ServiceDefaults(
        "processing",
        "flink:2.2.1-scala_2.12-java17",
        1,
        "1600m",
        ports={"flink": 8181},
        stop_grace_seconds=60,
    ),
    "flink-taskmanager": ServiceDefaults(
        "processing",
        "flink:2.2.1-scala_2.12-java17",
        1,
        "1728m",
        scalable=True,
        stop_grace_seconds=60,
    ),
    # query
    "trino": ServiceDefaults("query", "trinodb/trino:479", 2, "3g", ports={"trino": 8080}, stop_grace_seconds=60),
    "dbt": ServiceDefaults("query", built("dbt"), 1, "1g", job=True),
    # olap
    "clickhouse": ServiceDefaults(
        "olap",
        "clickhouse/clickhouse-server:25.8",
        1,
        "2g",
        ports={"clickhouse-http": 8123, "clickhouse-native": 19000},
        drops_privileges=True,
        stop_grace_seconds=60,
    ),
    # quality
    "great-expectations": ServiceDefaults("quality", built("great-expectations"), 1, "1g", job=True),
    # monitoring
    "prometheus": ServiceDefaults(
        "monitoring", "prom/prometheus:v3.14.0", 1, "1g", ports={"prometheus": 9090}, stop_grace_seconds=60
    ),
    "alertmanager": ServiceDefaults(
        "monitoring", "prom/alertmanager:v0.34.0", 0.25, "256m", ports={"alertmanager": 9093}, stop_grace_seconds=30
    ),
    "grafana": ServiceDefaults(
        "monitoring", "grafana/grafana:13.2.0", 0.5, "512m", ports={"grafana": 3000}, stop_grace_seconds=30
    ),
    "loki": ServiceDefaults(
        "monitoring", "grafana/loki:3.6.10", 0.5, "512m", ports={"loki": 3100}, stop_grace_seconds=60
    ),
    "alloy": ServiceDefaults("monitoring", "grafana/alloy:v1.17.1", 0.5, "512m", ports={"alloy": 12345}),
    # exporters for services without metrics of their own (added only where their service runs)
    "postgres-exporter": ServiceDefaults(
        "monitoring", "quay.io/prometheuscommunity/postgres-exporter:v0.17.1", 0.1, "64m"
    ),
    "redis-exporter": ServiceDefaults("monitoring", "oliver006/redis_exporter:v1.74.0-alpine", 0.1, "64m"),
    "kafka-exporter": ServiceDefaults("monitoring", "danielqsj/kafka-exporter:v1.9.0", 0.1, "128m"),
    # security
    "keycloak": ServiceDefaults(
        "security",
        "quay.io/keycloak/keycloak:26.7.2",
        1,
        "1536m",
        ports={"keycloak": 8280},
        stop_grace_seconds=30,
        job_size=JobSize(0.5, "256m"),  # keycloak-realm: kcadm.sh, a JVM per call
    ),
    # analytics (host ports from the seed's port table)
    "redis": ServiceDefaults(
        "analytics",
        "redis:7.2-bookworm",
        0.5,
        "512m",
        ports={"redis": 6379},
        drops_privileges=True,
        stop_grace_seconds=60,
    ),
    "jupyterhub": ServiceDefaults(
        "analytics", built("jupyterhub"), 1, "1g", ports={"jupyterhub": 8000}, stop_grace_seconds=30
    ),
    "notebook": ServiceDefaults("analytics", built("jupyterlab-notebook"), 1, "2g", replicas=2, scalable=True),
    "mlflow": ServiceDefaults("analytics", built("mlflow"), 1, "1g", ports={"mlflow": 5000}, drops_privileges=True),
    "superset": ServiceDefaults("analytics", built("superset"), 1, "1536m", ports={"superset": 8088}),
    "airflow-apiserver": ServiceDefaults("analytics", built("airflow"), 1, "1536m", ports={"airflow": 8090}),
    "airflow-scheduler": ServiceDefaults("analytics", built("airflow"), 1, "1g", stop_grace_seconds=60),
    "airflow-dag-processor": ServiceDefaults("analytics", built("airflow"), 0.5, "1g", stop_grace_seconds=30),
    "airflow-triggerer": ServiceDefaults("analytics", built("airflow"), 0.5, "512m", stop_grace_seconds=30),
    "airflow-worker": ServiceDefaults("analytics", built("airflow"), 1, "1536m", scalable=True, stop_grace_seconds=120),
}


@dataclass(frozen=True)
class SharedNetwork:
    """A network that services of several layers join, for one layer whose containers reach them.

    It exists only while `layer` is enabled. Every service named in `members` joins it, whichever
    layer deploys the service, so no layer needs to know who else reaches it.
    """

    layer: str
    members: frozenset[str]


SHARED_NETWORKS: dict[str, SharedNetwork] = {
    # Spawned notebooks reach what the seed lets them use: PostgreSQL (haproxy), Trino, MinIO,
    # Nessie, MLflow and Spark; plus the hub, whose API every notebook calls back, and Spark's
    # workers, whose executors connect back to a notebook's PySpark driver.
    "notebooks": SharedNetwork(
        "analytics",
        frozenset(
            {
                "jupyterhub",
                "haproxy",
                "trino",
                "minio",
                "seaweedfs",
                "nessie",
                "mlflow",
                "spark-master",
                "spark-worker",
            }
        ),
    ),
}

# Published port -> its URL (Layer.urls). Kafka's brokers are one URL together (the streaming
# layer's kafka_bootstrap), so the port `kafka` has none of its own.
PORT_URLS: dict[str, PortUrl] = {
    "minio": PortUrl("minio_api"),
    "minio-console": PortUrl("minio_console"),
    "seaweedfs": PortUrl("seaweedfs_s3"),
    "postgres-primary": PortUrl("postgres_primary", "postgresql"),
    "postgres-replicas": PortUrl("postgres_replicas", "postgresql"),
    "haproxy-stats": PortUrl("haproxy_stats"),
    "nessie": PortUrl("nessie", path="/api/v2"),
    "schema-registry": PortUrl("schema_registry"),
    "apicurio-registry": PortUrl("schema_registry", path="/apis/ccompat/v7"),
    "kafka-connect": PortUrl("kafka_connect"),
    "spark-master": PortUrl("spark_master", "spark"),
    "spark-master-ui": PortUrl("spark_master_ui"),
    "flink": PortUrl("flink"),
    "trino": PortUrl("trino"),
    "clickhouse-http": PortUrl("clickhouse_http"),
    "clickhouse-native": PortUrl("clickhouse_native", "clickhouse"),
    "prometheus": PortUrl("prometheus"),
    "alertmanager": PortUrl("alertmanager"),
    "grafana": PortUrl("grafana"),
    "loki": PortUrl("loki"),
    "alloy": PortUrl("alloy"),
    "keycloak": PortUrl("keycloak"),
    "redis": PortUrl("redis", "redis"),
    "jupyterhub": PortUrl("jupyterhub"),
    "mlflow": PortUrl("mlflow"),
    "superset": PortUrl("superset"),
    "airflow": PortUrl("airflow"),
}


@dataclass(frozen=True)
class Alternatives:
    """A stack setting, `datalyptica:<key>`, that picks one of several services doing one job;
    the services not chosen are not deployed, so they may share a host port."""

    key: str
    field: str  # the Settings field that holds the choice
    services: Mapping[str, str]  # choice -> the catalog service it deploys
    default: str

    def __post_init__(self) -> None:
        assert self.default in self.services, f"{self.key}: default {self.default!r} is not a choice"


OBJECT_STORES = Alternatives("objectStore", "object_store", {"minio": "minio", "seaweedfs": "seaweedfs"}, "minio")
# Apicurio Registry (Apache-2.0) serves Confluent's API under /apis/ccompat/v7 beside its own.
SCHEMA_REGISTRIES = Alternatives(
    "schemaRegistry", "schema_registry", {"confluent": "schema-registry", "apicurio": "apicurio-registry"}, "confluent"
)
ALTERNATIVES: tuple[Alternatives, ...] = (OBJECT_STORES, SCHEMA_REGISTRIES)

# The notebook entry stands for the containers JupyterHub spawns: its replicas are the most
# notebooks that may run at once, which is what the host must have room for.
SPAWNED_SERVICES = frozenset({"notebook"})


# Host ports the platform cannot do without, and why: a stack may not set these to null.
REQUIRED_PORTS: dict[str, str] = {
    "postgres-primary": "the program provisions databases and roles through it",
    # (SeaweedFS needs none: its buckets and identities are made by jobs on the storage network.)
    "minio": "the program creates buckets and users through it",
    "keycloak": "single sign-on sends browsers to Keycloak",
}


def services_of(layer: str) -> list[str]:
    return [name for name, defaults in SERVICES.items() if defaults.layer == layer]


def port_owner(port_name: str) -> str:
    """The service that publishes the host port called `port_name`."""
    for service, defaults in SERVICES.items():
        if port_name in defaults.ports:
            return service
    raise KeyError(port_name)


ALL_PORT_NAMES: tuple[str, ...] = tuple(p for d in SERVICES.values() for p in d.ports)
