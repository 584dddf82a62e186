"""PostgreSQL high availability: what etcd, Patroni and HAProxy are told to run.

Pure functions of a topology, no Pulumi: the storage layer calls them with Docker hostnames
and the image's paths, the integration tests with 127.0.0.1, distinct ports and temporary
directories, so both exercise the same configuration.
"""

from __future__ import annotations

from dataclasses import dataclass

from components.templates import render

# Where the image built from images/patroni/ keeps things (see its Dockerfile). Its base is
# postgres:<major>-bookworm, the major from the stack (datalyptica:postgresMajor).
DEFAULT_PG_MAJOR = 17
IMAGE_VOLUME_DIR = "/var/lib/postgresql/data"  # the base image's VOLUME: mount the data volume here
IMAGE_DATA_DIR = f"{IMAGE_VOLUME_DIR}/patroni"  # a subdirectory, so Patroni may remove and recreate it
# The socket directory is mounted as a tmpfs (owner and mode as the base image makes it), so it is
# empty at every start. Its lock file names the postmaster's pid; a restarted container reuses low
# pids, and when that pid is alive again PostgreSQL refuses to start ("lock file
# .s.PGSQL.5432.lock already exists"). Patroni's PG_GRANDPARENT_PID waiver covers only the pid in
# postmaster.pid. Seen in CI: a killed leader restarted, and never came back as a standby.
IMAGE_SOCKET_DIR = "/var/run/postgresql"
IMAGE_SOCKET_DIR_MODE = "3777"


def image_bin_dir(pg_major: int) -> str:
    """The server binaries of the image's PostgreSQL (the Debian layout of the official image)."""
    return f"/usr/lib/postgresql/{pg_major}/bin"


@dataclass(frozen=True)
class PostgresPaths:
    """Where a Patroni node's PostgreSQL keeps its data, finds its binaries and puts its socket."""

    data_dir: str
    bin_dir: str
    socket_dir: str

    @classmethod
    def in_image(cls, pg_major: int) -> PostgresPaths:
        """The paths inside the image built from images/patroni/."""
        return cls(IMAGE_DATA_DIR, image_bin_dir(pg_major), IMAGE_SOCKET_DIR)

    @property
    def pgpass(self) -> str:
        """Beside the data directory: writable by postgres, and distinct per node."""
        return f"{self.data_dir.rstrip('/')}.pgpass"


@dataclass(frozen=True)
class DcsTiming:
    """How Patroni paces itself against etcd, in seconds.

    ttl bounds how long a crashed leader keeps its lock (Patroni refuses less than 20 s);
    loop_wait + 2 * retry_timeout must not exceed it.
    """

    ttl: int = 20
    loop_wait: int = 2
    retry_timeout: int = 5

    def __post_init__(self) -> None:
        if self.loop_wait + 2 * self.retry_timeout > self.ttl:
            raise ValueError(
                f"loop_wait + 2 * retry_timeout ({self.loop_wait + 2 * self.retry_timeout}) exceeds ttl ({self.ttl})"
            )


# Upload patroni.yml here readable by the image's user (uid 999): Docker writes uploads as root.
IMAGE_CONFIG_PATH = "/etc/patroni/patroni.yml"
IMAGE_REST_PORT = 8008  # the image's HEALTHCHECK asks this port

# etcd's periodic compaction keeps this much key history (a Go duration).
ETCD_HISTORY_KEPT = "1h"

# The official haproxy image reads its configuration from here.
HAPROXY_CONFIG_PATH = "/usr/local/etc/haproxy/haproxy.cfg"
# On the stats port: 200 only while the primary listener has an up server (monitor-uri).
HAPROXY_PRIMARY_READY_PATH = "/primary-ready"

# How long a platform client of PostgreSQL (libpq's connect_timeout) waits for a connection
# through HAProxy, its login included. Without one, a connection opened while the leader was
# being killed waited for ever: Airflow's scheduler, triggerer and DAG processor hung in
# psycopg2's connect and stayed unhealthy (seen in the live tests); with it they retry.
CLIENT_CONNECT_TIMEOUT_SECONDS = 10
CLIENT_URL_QUERY = f"?connect_timeout={CLIENT_CONNECT_TIMEOUT_SECONDS}"  # to end a libpq or SQLAlchemy URL

# Docker's embedded DNS server, reachable from every container on a user-defined network.
DOCKER_DNS = "127.0.0.11:53"

# Addresses Docker gives its networks (its default address pools lie in the private ranges).
PRIVATE_NETWORKS = ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16")
# A node's own replication connections (Patroni's, to `localhost`) come from its loopback.
LOOPBACK_NETWORKS = ("127.0.0.1/32", "::1/128")


@dataclass(frozen=True)
class EtcdMember:
    name: str
    host: str  # the address the others use to reach it
    client_port: int = 2379
    peer_port: int = 2380

    @property
    def client_url(self) -> str:
        return f"http://{self.host}:{self.client_port}"

    @property
    def peer_url(self) -> str:
        return f"http://{self.host}:{self.peer_port}"


@dataclass(frozen=True)
class PatroniNode:
    name: str
    host: str
    pg_port: int = 5432
    rest_port: int = 8008

    @property
    def rest_url(self) -> str:
        return f"http://{self.host}:{self.rest_port}"


@dataclass(frozen=True)
class PgCredentials:
    """Plain strings: the Pulumi side resolves its secret Outputs before calling."""

    superuser_password: str
    replication_password: str
    rest_password: str
    superuser: str = "postgres"
    replication_user: str = "replicator"
    rest_user: str = "patroni"

    def __post_init__(self) -> None:
        for field in ("superuser_password", "replication_password", "rest_password"):
            if not getattr(self, field):
                raise ValueError(f"PgCredentials.{field} is empty")


@dataclass(frozen=True)
class LogicalSlot:
    """A logical replication slot Patroni keeps on every node: a change-data-capture consumer
    resumes from its position after a failover instead of losing it with the old leader."""

    name: str
    database: str
    plugin: str = "pgoutput"


@dataclass(frozen=True)
class PgHaTopology:
    scope: str
    etcd: tuple[EtcdMember, ...]
    nodes: tuple[PatroniNode, ...]

    def __post_init__(self) -> None:
        if not self.etcd or not self.nodes:
            raise ValueError("a PostgreSQL HA topology needs etcd members and Patroni nodes")
        for kind, names in (
            ("etcd member", [m.name for m in self.etcd]),
            ("Patroni node", [n.name for n in self.nodes]),
        ):
            duplicates = sorted({name for name in names if names.count(name) > 1})
            if duplicates:
                raise ValueError(f"{kind} names must be unique, repeated: {', '.join(duplicates)}")


def _require_member(items: tuple, item: object, kind: str) -> None:
    if item not in items:
        raise ValueError(f"{item!r} is not one of this topology's {kind}s")


def etcd_command(
    topology: PgHaTopology,
    member: EtcdMember,
    *,
    data_dir: str,
    listen_host: str = "0.0.0.0",
    cluster_token: str | None = None,
    executable: str = "etcd",
) -> list[str]:
    """The command line that starts `member` as part of a new etcd cluster (v3 API only)."""
    _require_member(topology.etcd, member, "etcd member")
    initial_cluster = ",".join(f"{m.name}={m.peer_url}" for m in topology.etcd)
    return [
        executable,
        "--name",
        member.name,
        "--data-dir",
        data_dir,
        "--listen-client-urls",
        f"http://{listen_host}:{member.client_port}",
        "--advertise-client-urls",
        member.client_url,
        "--listen-peer-urls",
        f"http://{listen_host}:{member.peer_port}",
        "--initial-advertise-peer-urls",
        member.peer_url,
        "--initial-cluster",
        initial_cluster,
        "--initial-cluster-state",
        "new",
        "--initial-cluster-token",
        cluster_token or f"{topology.scope}-etcd",
        # etcd keeps every revision until compacted, and Patroni rewrites its keys each loop_wait:
        # uncompacted, the history reaches the 2 GB backend quota (in about 70 days at the rate measured
        # on the e2e stack) and etcd refuses writes (NOSPACE), which demotes the leader. Patroni reads
        # only the current keys; an hour of history is plenty.
        "--auto-compaction-mode",
        "periodic",
        "--auto-compaction-retention",
        ETCD_HISTORY_KEPT,
    ]


def render_patroni_config(
    topology: PgHaTopology,
    node: PatroniNode,
    credentials: PgCredentials,
    paths: PostgresPaths,
    *,
    listen_host: str = "0.0.0.0",
    client_networks: tuple[str, ...] = PRIVATE_NETWORKS,
    timing: DcsTiming = DcsTiming(),
    logical_slots: tuple[LogicalSlot, ...] = (),
) -> str:
    """patroni.yml for `node`; `logical_slots` are made permanent (kept across failovers)."""
    _require_member(topology.nodes, node, "Patroni node")
    return render(
        "patroni/patroni.yml.j2",
        scope=topology.scope,
        node=node,
        etcd_hosts=[f"{m.host}:{m.client_port}" for m in topology.etcd],
        credentials=credentials,
        paths=paths,
        listen_host=listen_host,
        client_networks=client_networks,
        loopback_networks=LOOPBACK_NETWORKS,
        timing=timing,
        logical_slots=logical_slots,
    )


def render_haproxy_config(
    topology: PgHaTopology,
    *,
    listen_host: str = "0.0.0.0",
    primary_port: int = 5000,
    replica_port: int = 5001,
    stats_port: int = 7000,
    docker_dns: bool = True,
) -> str:
    """haproxy.cfg routing primary_port to the leader and replica_port to the replicas.

    Patroni's REST API decides which node is which. docker_dns resolves the node names through
    Docker's DNS at run time, so a stopped node's name may vanish and reappear; without it
    (tests on 127.0.0.1) addresses are resolved once at start.
    """
    return render(
        "haproxy/haproxy.cfg.j2",
        nodes=topology.nodes,
        listen_host=listen_host,
        primary_port=primary_port,
        replica_port=replica_port,
        stats_port=stats_port,
        primary_ready_path=HAPROXY_PRIMARY_READY_PATH,
        docker_dns=DOCKER_DNS if docker_dns else None,
    )
