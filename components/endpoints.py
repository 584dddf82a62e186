"""What one layer offers another: one endpoint type per service, made by the layer that owns it.

An endpoint says how a container reaches the service (host name and port on its networks), what
a consumer's container must wait for (`resources`: the service's container, the consumer's own
role or identity), and how it renders into a consumer's config file. A consumer lists the
endpoints it uses in `ServiceArgs.uses`, and gets their networks and `depends_on` from them; no
consumer writes a peer's host name or port.
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar, Protocol
from urllib.parse import quote

import pulumi
import pulumi_docker as docker

from components import pgha


class Endpoint(Protocol):
    """Anything a consumer's container uses: the networks that reach it and what to wait for."""

    @property
    def networks(self) -> tuple[docker.Network, ...]: ...

    @property
    def resources(self) -> tuple[pulumi.Resource, ...]: ...


@dataclass(frozen=True)
class DatabaseAccess:
    """A consumer's own PostgreSQL database (behind HAProxy), as the consumer's containers reach it."""

    host: str
    port: int
    database: str
    username: str
    password: pulumi.Output[str]
    resources: tuple[pulumi.Resource, ...]  # what a consumer's container depends on
    networks: tuple[docker.Network, ...]  # the owner's networks that reach it

    def url(self, scheme: str = "postgresql") -> pulumi.Output[str]:
        """A secret libpq connection URL (with its connect timeout), e.g. scheme 'postgresql+psycopg2'
        for SQLAlchemy."""
        return pulumi.Output.secret(
            pulumi.Output.concat(
                scheme,
                "://",
                self.username,
                ":",
                self.password,
                "@",
                self.host,
                ":",
                str(self.port),
                "/",
                self.database,
                pgha.CLIENT_URL_QUERY,
            )
        )

    def template_values(self) -> dict[str, object]:
        return {
            "host": self.host,
            "port": self.port,
            "database": self.database,
            "username": self.username,
            "password": self.password,
        }


@dataclass(frozen=True)
class ReplicationAccess:
    """A login role that may stream a database's changes (logical replication) from a publication."""

    host: str
    port: int
    database: str
    username: str
    password: pulumi.Output[str]
    publication: str  # covers every table of `database`, present and future
    resources: tuple[pulumi.Resource, ...]
    networks: tuple[docker.Network, ...]


@dataclass(frozen=True)
class BucketAccess:
    """A consumer's own object-store identity and the buckets it may use, as containers reach them."""

    endpoint: str
    region: str
    buckets: tuple[str, ...]
    access_key: pulumi.Output[str]
    secret_key: pulumi.Output[str]
    resources: tuple[pulumi.Resource, ...]  # what a consumer's container depends on
    networks: tuple[docker.Network, ...]  # the owner's networks that reach it

    def template_values(self) -> dict[str, object]:
        return {
            "endpoint": self.endpoint,
            "region": self.region,
            "buckets": list(self.buckets),
            "access_key": self.access_key,
            "secret_key": self.secret_key,
        }


@dataclass(frozen=True)
class Reached:
    """A service as containers reach it: by its host name and port on `networks`, once
    `resources` (its container, the consumer's own login) exist."""

    scheme: ClassVar[str] = "http"
    host: str
    port: int
    networks: tuple[docker.Network, ...]
    resources: tuple[pulumi.Resource, ...]

    @property
    def url(self) -> str:
        """How its clients address it (MLflow's tracking URI, Spark's master URL)."""
        return f"{self.scheme}://{self.host}:{self.port}"


@dataclass(frozen=True)
class TrinoEndpoint(Reached):
    """Trino (no authentication: a user name labels the queries)."""

    iceberg_catalog: str

    def sqlalchemy_url(self, user: str, catalog: str | None = None, schema: str | None = None) -> str:
        """A `trino://` URL for SQLAlchemy (the trino package's dialect)."""
        path = "/".join(part for part in (catalog or self.iceberg_catalog, schema) if part)
        return f"trino://{user}@{self.host}:{self.port}/{path}"


@dataclass(frozen=True)
class ClickHouseEndpoint(Reached):
    """ClickHouse's HTTP interface (`port`) and native one, with the admin login (secret Outputs)."""

    native_port: int
    user: pulumi.Output[str]
    password: pulumi.Output[str]
    database: str = "default"

    @property
    def jdbc_url(self) -> str:
        """The JDBC URL of ClickHouse's own driver (over HTTP), as Trino's connector takes it."""
        return f"jdbc:clickhouse://{self.host}:{self.port}/"

    def sqlalchemy_uri(self) -> pulumi.Output[str]:
        """clickhouse-connect's SQLAlchemy URI over HTTP (secret: it carries the password)."""

        def uri(login: list[str]) -> str:
            username, password = login
            auth = quote(username, safe="") + (f":{quote(password, safe='')}" if password else "")
            return f"clickhousedb://{auth}@{self.host}:{self.port}/{self.database}"

        return pulumi.Output.secret(pulumi.Output.all(self.user, self.password).apply(uri))


@dataclass(frozen=True)
class SparkEndpoint(Reached):
    """The Spark master, as drivers reach it."""

    scheme: ClassVar[str] = "spark"


@dataclass(frozen=True)
class SparkConnectEndpoint(Reached):
    """Spark Connect's gRPC server: a Python client without Java runs SQL and DataFrames on the
    cluster. Every call carries `Authorization: Bearer <token>` (a secret Output); the server
    speaks no TLS, so the client sends the header itself (pyspark's `token=` asks for TLS)."""

    scheme: ClassVar[str] = "sc"
    token: pulumi.Output[str]


@dataclass(frozen=True)
class NessieEndpoint(Reached):
    """Nessie's catalog APIs."""

    @property
    def api_uri(self) -> str:
        """Nessie's own REST API (v2), as Trino's Nessie catalog and pynessie take it."""
        return f"{self.url}/api/v2"

    @property
    def iceberg_rest_uri(self) -> str:
        """The Iceberg REST catalog on Nessie's main branch."""
        return f"{self.url}/iceberg/main"


@dataclass(frozen=True)
class MlflowEndpoint(Reached):
    """MLflow's tracking server."""


@dataclass(frozen=True)
class RedisEndpoint(Reached):
    """Redis; `password` is secret."""

    password: pulumi.Output[str]

    @property
    def address(self) -> str:
        return f"redis://{self.host}:{self.port}"


@dataclass(frozen=True)
class CdcSource:
    """The database whose every change Debezium streams to Kafka, and where those changes land:
    an application writes its tables with the database's owner login, and reads each table's
    changes on `change_topic(table)`, in the registry's format."""

    database: DatabaseAccess
    topic_prefix: str

    def change_topic(self, table: str, schema: str = "public") -> str:
        return f"{self.topic_prefix}.{schema}.{table}"


@dataclass(frozen=True)
class KafkaEndpoint:
    """The Kafka cluster, its Schema Registry and Kafka Connect, as containers on `networks` reach them."""

    brokers: tuple[str, ...]  # host names of the brokers
    port: int  # every broker's port for clients inside Docker
    schema_registry_url: str  # Confluent's API
    kafka_connect_url: str
    networks: tuple[docker.Network, ...]
    resources: tuple[pulumi.Resource, ...]  # the brokers' containers
    cdc: CdcSource | None = None

    @property
    def bootstrap_servers(self) -> str:
        return ",".join(f"{broker}:{self.port}" for broker in self.brokers)


@dataclass(frozen=True)
class PostgresToWatch:
    """PostgreSQL, for an exporter: the networks that reach HAProxy, and a maker of the exporter's
    own `pg_monitor` login role (consumer name, parent)."""

    networks: tuple[docker.Network, ...]
    monitoring_role: Callable[[str, pulumi.Resource], DatabaseAccess]


# What a layer asks the monitoring layer to watch with an exporter (services without metrics of their own).
Watched = PostgresToWatch | RedisEndpoint | KafkaEndpoint
