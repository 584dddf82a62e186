"""The storage layer deployed for real (Pulumi.e2e.yaml): what a user of the platform relies on.

Read-only checks first, then the faults (failover under load, restarts, a replaced container,
a restart of the Docker daemon itself): pytest runs them in this order. The stack is taken down by
tests/live/test_engine_destroy_live.py, with `pulumi destroy`.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import time
import urllib.request

import docker
import psycopg
import pytest

from components.pgha import IMAGE_SOCKET_DIR as SOCKET_DIR
from tests.integration.pgcluster import LOCALHOST, run_crash_failover, wait_for
from tests.live.conftest import record
from tests.live.deploy import LiveDeployment, Probe, replace
from tests.live.dockerd import TestDaemon
from tests.live.pgcluster import DockerPgCluster
from tests.live.stack import (
    container_name,
    containers,
    database_access,
    exec_in,
    servers,
    wait_all_healthy,
)

FAILOVER_KILLS = 3
FAILOVER_BOUND_SECONDS = 60  # each kill; the goal, Patroni's floor with ttl 20, is a median of 20 s
HEALTHY_AGAIN_SECONDS = 240
# Every server of the e2e stack starts at once after the daemon restarts, on 2 cores:
# 101.7 s in a run from nothing, the restart itself included. The 219.3 and 242.8 s of earlier runs
# held up to 150 s of waiting on the stopped daemon's unreaped process (dockerd.py's _alive).
# The streaming layer adds five JVMs (three brokers, the registry, Connect) to that start.
DAEMON_RESTART_HEALTHY_SECONDS = 480


@pytest.fixture(scope="module")
def pg(e2e: LiveDeployment, api: docker.APIClient) -> DockerPgCluster:
    return DockerPgCluster.of(e2e, api)


# ---- it came up -------------------------------------------------------------------------


def test_every_container_is_healthy(e2e: LiveDeployment, api: docker.APIClient):
    states = {name: api.inspect_container(container_name(c))["State"] for name, c in servers(e2e).items()}
    assert {name: s["Health"]["Status"] for name, s in states.items()} == dict.fromkeys(states, "healthy")
    timings = {name: round(t.seconds, 1) for name, t in e2e.timings.items()}
    print("create -> healthy, seconds:", json.dumps(timings, sort_keys=True))
    assert set(timings) >= {container_name(c) for c in servers(e2e).values()}


def test_etcd_has_three_members(e2e: LiveDeployment, api: docker.APIClient, pg: DockerPgCluster):
    code, output = exec_in(api, pg.container(pg.topology.etcd[0]), ["etcdctl", "member", "list", "-w", "json"])
    assert code == 0, output
    members = json.loads(output)["members"]
    assert sorted(m["name"] for m in members) == sorted(m.name for m in pg.topology.etcd)


def test_patroni_has_a_leader_and_a_synchronous_standby(pg: DockerPgCluster):
    leader = pg.wait_for_leader(timeout=30)
    [standby] = pg.replicas_of(leader)
    pg.wait_for_sync_replica(standby, timeout=60)


def test_haproxy_routes_primary_and_replica_ports_with_the_generated_password(pg: DockerPgCluster):
    pg.wait_for_haproxy_primary(pg.wait_for_leader(timeout=30), timeout=30)
    with pg.connect(pg.primary_port) as primary:
        assert primary.execute("SELECT pg_is_in_recovery()").fetchone()[0] is False
    wait_for(lambda: _in_recovery(pg), timeout=30, what="a replica behind the replicas port")

    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        psycopg.connect(
            host=LOCALHOST,
            port=pg.primary_port,
            user="postgres",
            password="not-the-password",
            dbname="postgres",
            connect_timeout=5,
        )


def _in_recovery(pg: DockerPgCluster) -> bool:
    try:
        with pg.connect(pg.replica_port) as replica:
            return replica.execute("SELECT pg_is_in_recovery()").fetchone()[0] is True
    except psycopg.OperationalError:
        return False


def test_haproxy_serves_prometheus_metrics(pg: DockerPgCluster):
    with urllib.request.urlopen(f"http://{LOCALHOST}:{pg.stats_port}/metrics", timeout=5) as response:
        text = response.read().decode()
    assert "haproxy_process_uptime_seconds" in text
    assert 'haproxy_backend_active_servers{proxy="primary"} 1' in text


def test_a_consumer_role_reaches_its_own_database_only(e2e: LiveDeployment, daemon: TestDaemon, pg: DockerPgCluster):
    """Nessie's role (storage.database) against a second consumer provisioned with the very
    inputs the program registered for Nessie, renamed (a probe stack through the same PostgreSQL
    provider): each reaches its own database only."""
    nessie = database_access(e2e, "nessie")
    probe, other = _provision_like(e2e, daemon, "nessie", "probe")
    with probe.deployed():
        for mine, theirs in ((nessie, other), (other, nessie)):
            with _connect_as(pg, mine, mine["database"]) as connection:
                assert connection.execute("SELECT current_user").fetchone()[0] == mine["user"]
            with pytest.raises(psycopg.OperationalError, match="permission denied for database"):
                _connect_as(pg, mine, theirs["database"])


def _connect_as(pg: DockerPgCluster, access: dict[str, str], database: str) -> psycopg.Connection:
    return psycopg.connect(
        host=LOCALHOST,
        port=pg.primary_port,
        user=access["user"],
        password=access["password"],
        dbname=database,
        connect_timeout=5,
    )


def _provision_like(live: LiveDeployment, daemon: TestDaemon, consumer: str, new: str) -> tuple[Probe, dict[str, str]]:
    probe = Probe(live, daemon, f"probe-{new}")
    access = {}
    for suffix, kind in (
        ("db-role", "role:Role"),
        ("database", "database:Database"),
        ("database-revoke-public", "grant:Grant"),
    ):
        registered = live.deployment.named(f"{consumer}-{suffix}", f"postgresql:index/{kind}")
        inputs = json.loads(json.dumps(registered.inputs).replace(f'"{consumer}"', f'"{new}"'))
        if kind == "role:Role":
            inputs["password"] = "probe-" + registered.inputs["password"][::-1]
            access.update(user=inputs["name"], password=inputs["password"])
        if kind == "database:Database":
            access["database"] = inputs["name"]
        probe.like(registered, name=f"{new}-{suffix}", inputs=inputs, secret=("password",))
    return probe, access


# ---- what is inside the containers --------------------------------------------------------


def test_secret_files_have_their_mode_and_owner_and_the_service_reads_them(e2e: LiveDeployment, api: docker.APIClient):
    checked = 0
    for name, container in servers(e2e).items():
        for upload in container.inputs.get("uploads") or []:
            code, stat = exec_in(api, container_name(container), ["stat", "-c", "%a %u", upload["file"]])
            assert code == 0, f"{name}: {upload['file']}: {stat}"
            mode, owner = stat.split()
            assert mode == upload["permissions"].lstrip("0"), f"{name}: {upload['file']} is {mode}"
            assert owner == (upload.get("owner") or "0"), f"{name}: {upload['file']} owned by {owner}"
            # As the container's own user (docker exec runs as it), the service can read it.
            code, output = exec_in(api, container_name(container), ["cat", upload["file"]])
            assert code == 0, f"{name} cannot read {upload['file']}: {output[:200]}"
            checked += upload["permissions"] == "0400"
    assert checked >= 4, "expected the storage layer's secret files (patroni x2, nessie, object store)"


def test_no_generated_secret_appears_in_docker_inspect(e2e: LiveDeployment, api: docker.APIClient):
    secrets = {s for s in e2e.deployment.generated_secrets if len(s) >= 8}
    assert secrets, "the state holds no generated secret: the check would prove nothing"
    for container in containers(e2e).values():
        inspected = json.dumps(api.inspect_container(container_name(container)))
        leaked = [s[:4] + "..." for s in secrets if s in inspected]
        assert not leaked, f"{container_name(container)} shows generated secrets in docker inspect: {leaked}"


def test_published_ports_listen_only_on_the_bind_address(e2e: LiveDeployment, e2e_settings):
    listening = subprocess.run(["ss", "-ltnH"], capture_output=True, text=True, check=True).stdout.split("\n")
    published = {int(p["external"]) for c in containers(e2e).values() for p in c.inputs.get("ports") or []}
    assert published
    for port in published:
        addresses = {
            line.split()[3].rpartition(":")[0]
            for line in listening
            if line.split()[3:4] and line.split()[3].endswith(f":{port}")
        }
        assert addresses == {e2e_settings.bind_address}, f"port {port} listens on {addresses}"


def test_only_the_ha_network_reaches_etcd(e2e: LiveDeployment, api: docker.APIClient, pg: DockerPgCluster):
    networks = {
        r.inputs["labels"][0]["value"]: r.inputs["name"] for r in e2e.deployment.of_type("docker:index/network:Network")
    }
    etcd = pg.topology.etcd[0].name

    def reaches(network: str) -> bool:
        probe = api.create_container(
            "datalyptica-standin/debian:bookworm",
            ["bash", "-c", f"exec 3<>/dev/tcp/{etcd}/2379"],
            host_config=api.create_host_config(network_mode=network),
            labels={"datalyptica.stack": "e2e-probe"},
        )
        try:
            api.start(probe)
            return api.wait(probe, timeout=30)["StatusCode"] == 0
        finally:
            api.remove_container(probe, force=True)

    assert reaches(networks["postgres-ha"]), "the probe cannot reach etcd even on its own network"
    assert not reaches(networks["storage"])


# ---- faults -----------------------------------------------------------------------------


def test_failover_under_load_loses_no_acknowledged_write(pg: DockerPgCluster):
    reports = []
    for _ in range(FAILOVER_KILLS):
        report = run_crash_failover(pg, writers=4, failover_timeout=FAILOVER_BOUND_SECONDS)
        print(report)
        reports.append(report)
        assert report.rows_acknowledged > 100, "the writers barely wrote: the scenario proves nothing"
        assert report.rows_lost == 0
        assert report.new_leader != report.old_leader
        assert report.rejoined_as_replica
        assert report.replica_port_rows_missing == 0
    seconds = [r.failover_seconds for r in reports]
    record(
        "failover",
        {
            "seconds": [round(s, 1) for s in seconds],
            "median": round(statistics.median(seconds), 1),
            "rows_acknowledged": [r.rows_acknowledged for r in reports],
            "rows_lost": sum(r.rows_lost for r in reports),
        },
    )
    assert max(seconds) < FAILOVER_BOUND_SECONDS


def _marker_rows(pg: DockerPgCluster) -> int:
    with pg.connect(pg.primary_port, connect_timeout=5) as connection:
        connection.execute("CREATE TABLE IF NOT EXISTS survives (id serial PRIMARY KEY, at timestamptz DEFAULT now())")
        connection.execute("INSERT INTO survives DEFAULT VALUES")
        return connection.execute("SELECT count(*) FROM survives").fetchone()[0]


def _count_rows(pg: DockerPgCluster) -> int:
    def count() -> int | None:
        try:
            with pg.connect(pg.primary_port, connect_timeout=5) as connection:
                return connection.execute("SELECT count(*) FROM survives").fetchone()[0]
        except psycopg.OperationalError:
            return None

    return wait_for(count, timeout=HEALTHY_AGAIN_SECONDS, what="the primary port to answer", interval=1)


STATEFUL = ("etcd-", "patroni-", "nessie")


def test_a_killed_node_starts_with_an_empty_socket_directory(api: docker.APIClient, pg: DockerPgCluster):
    """A lock file left in the socket directory once kept a killed leader from ever starting again."""
    node = pg.replicas_of(pg.wait_for_leader(timeout=30))[0]
    left_behind = f"{SOCKET_DIR}/left-by-the-killed-run"
    assert exec_in(api, pg.container(node), ["touch", left_behind])[0] == 0
    pg.crash_node(node)
    pg.start_node(node)
    pg.wait_for_sync_replica(node, timeout=120)
    assert exec_in(api, pg.container(node), ["test", "-e", left_behind])[0] == 1, "the socket directory survived"


def test_restarting_each_stateful_service_keeps_the_data(
    e2e: LiveDeployment, api: docker.APIClient, pg: DockerPgCluster
):
    rows = _marker_rows(pg)
    for name, container in servers(e2e).items():
        if name.startswith(STATEFUL):
            api.restart(container_name(container), timeout=int(container.inputs.get("destroyGraceSeconds") or 10))
            wait_all_healthy(api, e2e)
    assert _count_rows(pg) == rows


def test_a_replaced_patroni_container_keeps_its_volume_and_rejoins(
    e2e: LiveDeployment, api: docker.APIClient, pg: DockerPgCluster
):
    rows = _marker_rows(pg)
    replica = pg.replicas_of(pg.wait_for_leader(timeout=30))[0]
    registered = containers(e2e)[replica.name]
    replace(e2e, registered)
    pg.wait_for_sync_replica(replica, timeout=120)
    assert _count_rows(pg) == rows


def test_the_platform_comes_back_after_the_docker_daemon_restarts(
    e2e: LiveDeployment, api: docker.APIClient, pg: DockerPgCluster, daemon
):
    rows = _marker_rows(pg)
    started = time.monotonic()
    daemon.restart()
    wait_all_healthy(api, e2e, timeout=DAEMON_RESTART_HEALTHY_SECONDS)
    record("daemon_restart_to_healthy_seconds", round(time.monotonic() - started, 1))
    assert _count_rows(pg) == rows
