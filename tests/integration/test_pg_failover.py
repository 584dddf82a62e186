"""Crash the PostgreSQL leader for real and check that no acknowledged write is lost.

etcd, Patroni and HAProxy run on 127.0.0.1 from the same rendering code as the Pulumi
program (components/pgha.py); tests/integration/pgcluster.py holds the harness, which
tests/benchmarks/failover.py also runs.
"""

import pytest

from tests.integration.pgcluster import LOCALHOST, PgHaCluster, http_text, run_crash_failover, wait_for

pytestmark = pytest.mark.integration

# Patroni keeps a crashed leader's lock for ttl (at least 20 s); the rest is detection,
# promotion and HAProxy's checks. Generous, so a slow machine does not fail the test.
FAILOVER_BOUND_SECONDS = 60


@pytest.fixture(scope="module")
def cluster(pgha_tools):
    with PgHaCluster(pgha_tools) as cluster:
        try:
            cluster.start()
        except Exception:
            pytest.fail(f"the cluster did not start:\n{cluster.log_tails()}", pytrace=True)
        yield cluster
        print(cluster.log_tails(lines=15))  # shown by pytest only when a test failed


def test_leader_crash_loses_no_acknowledged_write(cluster):
    report = run_crash_failover(cluster, writers=4)
    print(report)

    assert report.rows_acknowledged > 100, "the writers barely wrote: the scenario proves nothing"
    assert report.rows_lost == 0
    assert report.new_leader != report.old_leader
    assert report.failover_seconds < FAILOVER_BOUND_SECONDS
    assert report.rejoined_as_replica
    assert report.replica_port_rows_missing == 0


def test_haproxy_starts_and_serves_with_a_node_down(cluster):
    leader = cluster.wait_for_leader(timeout=30)
    [replica] = cluster.replicas_of(leader)
    cluster.stop_haproxy()
    cluster.crash_node(replica)

    cluster.start_haproxy()
    cluster.wait_for_haproxy_primary(leader, timeout=30)
    assert cluster.haproxy_servers("primary")[replica.name].startswith("DOWN")

    # Until Patroni drops the lost synchronous standby (a loop or two) a commit would wait
    # for it; write once it has, so the write itself cannot hang.
    with cluster.connect(cluster.primary_port) as connection:
        wait_for(
            lambda: connection.execute("SHOW synchronous_standby_names").fetchone()[0] == "",
            timeout=30,
            what="the primary to stop waiting for its lost standby",
        )
        connection.execute("CREATE TABLE IF NOT EXISTS alone (id int)")
        connection.execute("INSERT INTO alone VALUES (1)")
        served_by = connection.execute("SELECT inet_server_port()").fetchone()[0]
    assert served_by == leader.pg_port


def test_haproxy_serves_prometheus_metrics_on_its_stats_port(cluster):
    cluster.wait_for_leader(timeout=30)
    metrics = http_text(f"http://{LOCALHOST}:{cluster.stats_port}/metrics")
    assert "haproxy_process_uptime_seconds" in metrics
    assert 'haproxy_backend_active_servers{proxy="primary"}' in metrics
