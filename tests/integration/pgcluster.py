"""A real PostgreSQL HA cluster on 127.0.0.1 for tests and the failover benchmark.

Three etcd members, two Patroni nodes running Debian's PostgreSQL as the postgres user, and
HAProxy, all configured by components/pgha.py exactly as the Pulumi program configures the
containers; only addresses, ports and directories differ. Every wait is bounded, and close()
ends every process the cluster started and removes its directory, whatever happened.
"""

from __future__ import annotations

import contextlib
import csv
import io
import os
import pwd
import random
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from components.pgha import (
    EtcdMember,
    PatroniNode,
    PgCredentials,
    PgHaTopology,
    PostgresPaths,
    etcd_command,
    render_haproxy_config,
    render_patroni_config,
)

LOCALHOST = "127.0.0.1"
POSTGRES_USER = "postgres"
PATRONI_CANDIDATES = ("/opt/patroni-venv/bin/patroni",)


# ----------------------------------------------------------------------------- tools


@dataclass(frozen=True)
class Tools:
    etcd: str
    patroni: str
    haproxy: str
    pg_bin_dir: str


def find_pg_bin_dir() -> str | None:
    """The newest Debian PostgreSQL server installed (/usr/lib/postgresql/<major>/bin)."""
    majors = []
    for bin_dir in Path("/usr/lib/postgresql").glob("*/bin"):
        if (bin_dir / "postgres").is_file() and (bin_dir / "initdb").is_file() and bin_dir.parent.name.isdigit():
            majors.append((int(bin_dir.parent.name), str(bin_dir)))
    return max(majors)[1] if majors else None


def find_patroni() -> str | None:
    for candidate in (os.environ.get("DATALYPTICA_PATRONI"), *PATRONI_CANDIDATES):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    return shutil.which("patroni")


def find_tools() -> tuple[Tools | None, list[str]]:
    """The programs the cluster needs, or what is missing (installed by .ci/install.d/20-pgha.sh)."""
    found = {
        "etcd": shutil.which("etcd"),
        "patroni": find_patroni(),
        "haproxy": shutil.which("haproxy") or shutil.which("haproxy", path="/usr/sbin"),
        "pg_bin_dir": find_pg_bin_dir(),
    }
    missing = [f"{name} not found" for name, path in found.items() if not path]
    try:
        import psycopg  # noqa: F401
    except ImportError:
        missing.append("python package psycopg not installed")
    try:
        pwd.getpwnam(POSTGRES_USER)
    except KeyError:
        missing.append(f"no {POSTGRES_USER} user")
    if os.geteuid() != 0:
        missing.append("must run as root to start PostgreSQL as the postgres user")
    return (None if missing else Tools(**found)), missing


# ----------------------------------------------------------------------------- helpers


def free_ports(count: int) -> list[int]:
    """Distinct free TCP ports on 127.0.0.1, below Linux's ephemeral range (32768+).

    A port from the ephemeral range could be taken as the local end of some outgoing
    connection before the service that should listen on it has started.
    """
    ports: list[int] = []
    candidate = random.randrange(20000, 32000 - count * 10)
    while len(ports) < count and candidate < 32768:
        with socket.socket() as probe:
            try:
                probe.bind((LOCALHOST, candidate))
                ports.append(candidate)
            except OSError:
                pass
        candidate += 1
    if len(ports) < count:
        raise RuntimeError(f"found only {len(ports)} free ports below 32768")
    return ports


def wait_for(condition: Callable[[], object], *, timeout: float, what: str, interval: float = 0.2) -> object:
    """Poll `condition` until it returns something truthy; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() >= deadline:
            raise TimeoutError(f"gave up after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)


def http_status(url: str, timeout: float = 1.0) -> int | None:
    """HTTP status of a GET, or None when nothing answers."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code
    except (OSError, ValueError):
        return None


def http_text(url: str, timeout: float = 1.0) -> str | None:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.read().decode()
    except (OSError, ValueError):
        return None


# ----------------------------------------------------------------------------- cluster


class PatroniQueries:
    """What the failover scenario asks of a cluster, given its topology, credentials, HAProxy's
    ports on 127.0.0.1 and a `rest_status(node, path)` that asks a node's Patroni REST API."""

    topology: PgHaTopology
    credentials: PgCredentials
    primary_port: int
    replica_port: int
    stats_port: int

    def rest_status(self, node: PatroniNode, path: str) -> int | None:
        raise NotImplementedError

    def crash_node(self, node: PatroniNode) -> None:
        """End every process of the node at once, as a power cut would."""
        raise NotImplementedError

    def start_node(self, node: PatroniNode) -> None:
        raise NotImplementedError

    def current_leader(self) -> PatroniNode | None:
        leaders = [node for node in self.topology.nodes if self.rest_status(node, "/primary") == 200]
        return leaders[0] if len(leaders) == 1 else None

    def node_serving(self, address: str, port: int) -> PatroniNode | None:
        """The node whose PostgreSQL answered on `address`:`port` (on 127.0.0.1 the port tells)."""
        return next((node for node in self.topology.nodes if node.pg_port == port), None)

    def replicas_of(self, leader: PatroniNode) -> list[PatroniNode]:
        return [node for node in self.topology.nodes if node != leader]

    def wait_for_leader(self, timeout: float) -> PatroniNode:
        return wait_for(self.current_leader, timeout=timeout, what="exactly one Patroni leader")

    def wait_for_sync_replica(self, node: PatroniNode, timeout: float) -> None:
        """Streaming, caught up, and the synchronous standby (so commits wait for it)."""
        wait_for(
            lambda: self.rest_status(node, "/readiness") == 200 and self.rest_status(node, "/sync") == 200,
            timeout=timeout,
            what=f"{node.name} streaming as the synchronous standby",
        )

    def haproxy_servers(self, listener: str) -> dict[str, str]:
        """Server name -> status ('UP', 'DOWN', ...) of one HAProxy listener, from the stats CSV."""
        text = http_text(f"http://{LOCALHOST}:{self.stats_port}/;csv")
        if not text:
            return {}
        rows = csv.DictReader(io.StringIO(text.lstrip("# ")))
        return {
            row["svname"]: row["status"]
            for row in rows
            if row["pxname"] == listener and row["svname"] not in ("FRONTEND", "BACKEND")
        }

    def wait_for_haproxy_primary(self, leader: PatroniNode, timeout: float) -> None:
        """HAProxy 2.6 starts with every server UP: wait until only the leader is."""
        wait_for(
            lambda: (
                [name for name, status in self.haproxy_servers("primary").items() if status == "UP"] == [leader.name]
            ),
            timeout=timeout,
            what=f"HAProxy routing its primary port to {leader.name} only",
        )

    # -- SQL

    def connect(self, port: int, *, connect_timeout: int = 2):
        import psycopg

        return psycopg.connect(
            host=LOCALHOST,
            port=port,
            dbname="postgres",
            user=self.credentials.superuser,
            password=self.credentials.superuser_password,
            connect_timeout=connect_timeout,
            autocommit=True,
            # A dead peer must not hang a client for ever; no statement_timeout, since cancelling
            # a commit that waits for the standby would acknowledge it without replication.
            tcp_user_timeout=10_000,
            keepalives_idle=5,
            keepalives_interval=2,
            keepalives_count=2,
        )


class PgHaCluster(PatroniQueries):
    """etcd x3, Patroni x2 and HAProxy on 127.0.0.1, in one temporary directory."""

    def __init__(self, tools: Tools, *, scope: str = "datalyptica-test") -> None:
        self.tools = tools
        self.workdir = Path(tempfile.mkdtemp(prefix="pgha-"))
        self.workdir.chmod(0o755)  # the postgres user must reach its node directories
        ports = iter(free_ports(3 * 2 + 2 * 2 + 3))
        self.topology = PgHaTopology(
            scope=scope,
            etcd=tuple(EtcdMember(f"etcd-{i}", LOCALHOST, next(ports), next(ports)) for i in (1, 2, 3)),
            nodes=tuple(PatroniNode(f"patroni-{i}", LOCALHOST, next(ports), next(ports)) for i in (1, 2)),
        )
        self.primary_port, self.replica_port, self.stats_port = next(ports), next(ports), next(ports)
        self.credentials = PgCredentials(
            superuser_password=secrets.token_urlsafe(24),
            replication_password=secrets.token_urlsafe(24),
            rest_password=secrets.token_urlsafe(24),
        )
        self._processes: dict[str, subprocess.Popen] = {}
        self._logs: dict[str, Path] = {}

    # -- lifecycle

    def __enter__(self) -> PgHaCluster:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def start(self) -> None:
        """etcd, both Patroni nodes (one bootstraps, one clones) and HAProxy, ready to write."""
        for member in self.topology.etcd:
            self.start_etcd(member)
        for member in self.topology.etcd:
            wait_for(
                lambda url=f"{member.client_url}/health": '"health":"true"' in (http_text(url) or ""),
                timeout=30,
                what=f"{member.name} healthy",
            )
        for node in self.topology.nodes:
            self.start_node(node)
        leader = self.wait_for_leader(timeout=60)
        for node in self.replicas_of(leader):
            self.wait_for_sync_replica(node, timeout=60)
        self.start_haproxy()
        self.wait_for_haproxy_primary(leader, timeout=30)

    def close(self) -> None:
        """End every process started here and all they spawned, then remove the directory."""
        roots = {process.pid for process in self._processes.values() if process.poll() is None}
        marker = str(self.workdir).encode()
        for pid in _pids():  # postmasters: Patroni starts them outside its own process tree
            try:
                if marker in Path(f"/proc/{pid}/cmdline").read_bytes():
                    roots.add(pid)
            except OSError:
                continue
        _kill_all(_with_descendants(roots))
        for name in list(self._processes):
            self._reap(name)
        shutil.rmtree(self.workdir, ignore_errors=True)

    def log_tails(self, lines: int = 30) -> str:
        """The end of every process's log, for a failure message."""
        parts = []
        for name, path in self._logs.items():
            try:
                tail = path.read_text(errors="replace").splitlines()[-lines:]
            except OSError:
                continue
            parts.append(f"--- {name} ({path.name}) ---\n" + "\n".join(tail))
        return "\n".join(parts)

    # -- processes

    def _spawn(self, name: str, command: list[str], *, as_postgres: bool = False, cwd: Path | None = None) -> None:
        log_path = self.workdir / f"{name}.log"
        self._logs[name] = log_path
        env = {"PATH": "/usr/bin:/bin:/usr/sbin:/sbin", "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8"}
        options: dict = {}
        if as_postgres:
            env["HOME"] = str(cwd)
            options = {"user": POSTGRES_USER, "group": POSTGRES_USER, "extra_groups": []}
        with open(log_path, "ab") as log:
            self._processes[name] = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=cwd or self.workdir,
                env=env,
                start_new_session=True,
                **options,
            )

    def _kill(self, name: str) -> None:
        """SIGKILL one started process and whatever it spawned, and reap it."""
        process = self._processes.get(name)
        if process is not None and process.poll() is None:
            _kill_all(_with_descendants({process.pid}))
        self._reap(name)

    def _reap(self, name: str) -> None:
        process = self._processes.pop(name, None)
        if process is not None:
            process.wait(timeout=10)

    def start_etcd(self, member: EtcdMember) -> None:
        data_dir = self.workdir / member.name
        command = etcd_command(
            self.topology, member, data_dir=str(data_dir), listen_host=LOCALHOST, executable=self.tools.etcd
        )
        self._spawn(member.name, command)

    def node_dir(self, node: PatroniNode) -> Path:
        return self.workdir / node.name

    def data_dir(self, node: PatroniNode) -> Path:
        return self.node_dir(node) / "data"

    def start_node(self, node: PatroniNode) -> None:
        node_dir = self.node_dir(node)
        socket_dir = node_dir / "socket"
        if not node_dir.exists():
            socket_dir.mkdir(parents=True)
            config = render_patroni_config(
                self.topology,
                node,
                self.credentials,
                PostgresPaths(str(self.data_dir(node)), self.tools.pg_bin_dir, str(socket_dir)),
                listen_host=LOCALHOST,
                client_networks=(f"{LOCALHOST}/32",),
            )
            config_path = node_dir / "patroni.yml"
            config_path.write_text(config)
            config_path.chmod(0o600)
            for path in (node_dir, socket_dir, config_path):
                shutil.chown(path, POSTGRES_USER, POSTGRES_USER)
        self._spawn(node.name, [self.tools.patroni, str(node_dir / "patroni.yml")], as_postgres=True, cwd=node_dir)

    def postmaster_pid(self, node: PatroniNode) -> int | None:
        try:
            return int((self.data_dir(node) / "postmaster.pid").read_text().split("\n", 1)[0])
        except (OSError, ValueError):
            return None

    def crash_node(self, node: PatroniNode) -> None:
        """SIGKILL Patroni and every PostgreSQL process of the node, as a power cut would.

        Patroni starts the postmaster in a session of its own, and each PostgreSQL child
        process is its own session leader too, so neither Patroni's process group nor the
        postmaster's covers them: the processes are collected first, then killed one after
        the other with nothing in between.
        """
        patroni = self._processes[node.name].pid
        postmaster = self._postmaster(node)
        _kill_all(_with_descendants({patroni} | ({postmaster} if postmaster else set())))
        self._reap(node.name)

    def stop_node(self, node: PatroniNode, timeout: float = 30) -> None:
        """Stop Patroni the polite way (it shuts PostgreSQL down and gives up its lock)."""
        process = self._processes.get(node.name)
        if process and process.poll() is None:
            process.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=timeout)
        postmaster = self._postmaster(node)
        self._kill(node.name)
        if postmaster:
            _kill_all(_with_descendants({postmaster}))

    def _postmaster(self, node: PatroniNode) -> int | None:
        """The node's running postmaster (its command line names the node's data directory)."""
        pid = self.postmaster_pid(node)
        try:
            if (
                pid
                and not _is_zombie(pid)
                and str(self.data_dir(node)).encode() in Path(f"/proc/{pid}/cmdline").read_bytes()
            ):
                return pid
        except OSError:
            pass
        return None

    def start_haproxy(self) -> None:
        config_path = self.workdir / "haproxy.cfg"
        config_path.write_text(
            render_haproxy_config(
                self.topology,
                listen_host=LOCALHOST,
                primary_port=self.primary_port,
                replica_port=self.replica_port,
                stats_port=self.stats_port,
                docker_dns=False,
            )
        )
        self._spawn("haproxy", [self.tools.haproxy, "-db", "-f", str(config_path)])

    def stop_haproxy(self) -> None:
        self._kill("haproxy")

    def rest_status(self, node: PatroniNode, path: str) -> int | None:
        return http_status(f"{node.rest_url}{path}")


def _pids() -> list[int]:
    return [int(entry.name) for entry in Path("/proc").iterdir() if entry.name.isdigit()]


def _parent_of(pid: int) -> int | None:
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return None


def _with_descendants(roots: set[int]) -> set[int]:
    parents = {pid: _parent_of(pid) for pid in _pids()}
    family = set(roots)
    while True:
        children = {pid for pid, parent in parents.items() if parent in family} - family
        if not children:
            return family
        family |= children


def _kill_all(pids: set[int]) -> None:
    """SIGKILL each process, then wait (bounded) until none is left but zombies."""
    for pid in sorted(pids):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    wait_for(lambda: all(_is_zombie(pid) for pid in pids), timeout=10, what="killed processes to exit", interval=0.05)


def _is_zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] == "Z"
    except OSError:
        return True


# ----------------------------------------------------------------------------- writers


@dataclass
class Writer:
    """Inserts numbered rows through one port; remembers each one the server acknowledged."""

    cluster: PatroniQueries
    writer_id: int
    port: int
    acknowledged: list[int] = field(default_factory=list)
    acknowledged_at: list[float] = field(default_factory=list)  # time.monotonic() of each acknowledgement
    errors: int = 0
    _next_seq: int = 0

    def run(self, stop: threading.Event, deadline: float) -> None:
        connection = None
        while not stop.is_set() and time.monotonic() < deadline:
            try:
                if connection is None:
                    connection = self.cluster.connect(self.port)
                seq = self._next_seq
                self._next_seq += 1  # a failed attempt's number is never reused: it may have committed
                connection.execute("INSERT INTO writes (writer, seq) VALUES (%s, %s)", (self.writer_id, seq))
                self.acknowledged.append(seq)
                self.acknowledged_at.append(time.monotonic())
            except Exception:  # any failure means "not acknowledged"; reconnect and go on
                self.errors += 1
                if connection is not None:
                    _close_quietly(connection)
                    connection = None
                stop.wait(0.1)
        if connection is not None:
            _close_quietly(connection)


def empty_writes_table(cluster: PatroniQueries) -> None:
    """The table writers insert into, emptied: each run's writers number their rows from 0 (a
    cluster crashed again starts empty)."""
    with cluster.connect(cluster.primary_port) as connection:
        connection.execute("CREATE TABLE IF NOT EXISTS writes (writer int, seq int, PRIMARY KEY (writer, seq))")
        connection.execute("TRUNCATE writes")


@contextlib.contextmanager
def writers_running(cluster: PatroniQueries, count: int, deadline: float) -> Iterator[list[Writer]]:
    """`count` writers inserting through the primary port while the block runs (until `deadline`
    at the latest); stopped when it ends."""
    stop = threading.Event()
    pool = [Writer(cluster, writer_id, cluster.primary_port) for writer_id in range(count)]
    threads = [threading.Thread(target=w.run, args=(stop, deadline), daemon=True) for w in pool]
    for thread in threads:
        thread.start()
    try:
        yield pool
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=30)
    if any(thread.is_alive() for thread in threads):
        raise RuntimeError("a writer did not stop within 30 s")


def acknowledged_rows(pool: list[Writer]) -> set[tuple[int, int]]:
    return {(w.writer_id, seq) for w in pool for seq in w.acknowledged}


def rows_on_primary(cluster: PatroniQueries) -> set[tuple[int, int]]:
    with cluster.connect(cluster.primary_port) as connection:
        return set(connection.execute("SELECT writer, seq FROM writes").fetchall())


def _close_quietly(connection) -> None:
    with contextlib.suppress(Exception):
        connection.close()


# ----------------------------------------------------------------------------- scenario


@dataclass
class FailoverReport:
    old_leader: str
    new_leader: str
    failover_seconds: float
    rows_acknowledged: int
    rows_lost: int
    writer_errors: int
    rejoined_as_replica: bool
    replica_port_rows_missing: int  # -1 when no replica answered on HAProxy's replica port


def run_crash_failover(
    cluster: PatroniQueries,
    *,
    writers: int = 4,
    write_before_crash: float = 3.0,
    write_after_failover: float = 2.0,
    failover_timeout: float = 60.0,
) -> FailoverReport:
    """Crash the leader under concurrent writes, measure failover, count lost rows, rejoin it.

    `cluster` is this module's PgHaCluster or the live tests' cluster of containers
    (tests/live/pgcluster.py); it also needs crash_node and start_node."""
    empty_writes_table(cluster)
    with cluster.connect(cluster.primary_port) as connection:
        connection.execute("CREATE SEQUENCE IF NOT EXISTS probe_seq")  # the post-crash probe's row numbers

    old_leader = cluster.wait_for_leader(timeout=10)
    for replica in cluster.replicas_of(old_leader):
        cluster.wait_for_sync_replica(replica, timeout=30)
    cluster.wait_for_haproxy_primary(old_leader, timeout=30)

    hard_deadline = time.monotonic() + write_before_crash + failover_timeout + write_after_failover + 30
    with writers_running(cluster, writers, hard_deadline) as pool:
        time.sleep(write_before_crash)
        crashed_at = time.monotonic()
        cluster.crash_node(old_leader)
        served_by = _first_write_after(cluster, timeout=failover_timeout)
        failover_seconds = time.monotonic() - crashed_at
        time.sleep(write_after_failover)

    new_leader = cluster.wait_for_leader(timeout=10)
    if cluster.node_serving(*served_by) != new_leader:
        raise RuntimeError(
            f"the first write after the crash landed on {served_by}, not on the new leader {new_leader.name}"
        )
    acknowledged = acknowledged_rows(pool)
    present = rows_on_primary(cluster)

    # The old leader comes back: Patroni rewinds (or re-clones) it into a replica of the new one.
    cluster.start_node(old_leader)
    cluster.wait_for_sync_replica(old_leader, timeout=90)
    rejoined = cluster.rest_status(old_leader, "/replica") == 200
    wait_for(
        lambda: cluster.haproxy_servers("replicas").get(old_leader.name) == "UP",
        timeout=30,
        what="HAProxy routing its replica port to the rejoined node",
    )
    # Replay may trail the commit acknowledgement a little: give it a bounded while.
    replica_missing = _missing_on_replica_port(cluster, acknowledged)
    deadline = time.monotonic() + 30
    while replica_missing != 0 and time.monotonic() < deadline:
        time.sleep(0.5)
        replica_missing = _missing_on_replica_port(cluster, acknowledged)

    return FailoverReport(
        old_leader=old_leader.name,
        new_leader=new_leader.name,
        failover_seconds=failover_seconds,
        rows_acknowledged=len(acknowledged),
        rows_lost=len(acknowledged - present),
        writer_errors=sum(w.errors for w in pool),
        rejoined_as_replica=rejoined,
        replica_port_rows_missing=replica_missing,
    )


def _first_write_after(cluster: PatroniQueries, timeout: float) -> tuple[str, int]:
    """Retry one write through HAProxy's primary port until it commits; the server address and
    port it hit (read from the server, never connected to)."""

    def attempt() -> tuple[str, int] | None:
        try:
            with cluster.connect(cluster.primary_port) as connection:
                row = connection.execute(
                    "INSERT INTO writes (writer, seq) VALUES (-1, nextval('probe_seq')) "
                    "RETURNING host(inet_server_addr()), inet_server_port()"
                ).fetchone()
                return row[0], row[1]
        except Exception:  # not yet
            return None

    return wait_for(attempt, timeout=timeout, what="a write through HAProxy after the crash", interval=0.1)


def _missing_on_replica_port(cluster: PatroniQueries, acknowledged: set[tuple[int, int]]) -> int:
    """Acknowledged rows a replica behind HAProxy's replica port lacks (-1: no replica answered)."""
    try:
        with cluster.connect(cluster.replica_port) as connection:
            if not connection.execute("SELECT pg_is_in_recovery()").fetchone()[0]:
                return -1
            present = set(connection.execute("SELECT writer, seq FROM writes").fetchall())
    except Exception:
        return -1
    return len(acknowledged - present)
