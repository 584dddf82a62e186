"""The benchmark's analysis of a deployment: which containers waited for which, and the
critical path (checked on the dev stack under mocks and on made-up timings)."""

from tests.benchmarks.e2e import container_dependencies, critical_path
from tests.live.deploy import ContainerTiming, container_timings


def timing(name: str, created: float, ready: float) -> ContainerTiming:
    return ContainerTiming(name, created, ready)


def test_containers_wait_through_providers_and_provisioned_resources(dev):
    waits = container_dependencies(dev)
    # Nessie waits for its role and database, made through the postgresql provider, which
    # waits for HAProxy, which waits for the Patroni nodes.
    assert "datalyptica-haproxy" in waits["datalyptica-nessie"]
    assert {"datalyptica-patroni-1", "datalyptica-patroni-2"} <= waits["datalyptica-haproxy"]
    assert waits["datalyptica-etcd-1"] == set()


def test_the_critical_path_is_the_longest_chain_of_waits():
    waits = {"a": set(), "b": {"a"}, "c": {"a"}, "d": {"b", "c"}}
    timings = {"a": timing("a", 0, 10), "b": timing("b", 10, 12), "c": timing("c", 10, 30), "d": timing("d", 30, 31)}
    seconds, chain = critical_path(waits, timings)
    assert chain == ["a", "c", "d"]
    assert seconds == 10 + 20 + 1


def event(name: str, action: str, at: float, **attributes: str) -> dict:
    """A container event as Docker's event stream sends it."""
    return {"Action": action, "timeNano": int(at * 1e9), "Actor": {"Attributes": {"name": name, **attributes}}}


def test_time_to_healthy_is_read_from_the_events_of_the_deploy(dev):
    trino, init, dbt = "datalyptica-trino", "datalyptica-airflow-init", "datalyptica-dbt"
    events = [
        event(trino, "health_status: healthy", 170.0),
        event(trino, "create", 100.0),
        event(trino, "health_status: unhealthy", 130.0),
        event(trino, "health_status: healthy", 150.0),  # the first pass, long before the deploy ends
        event(init, "create", 90.0),
        event(init, "die", 140.0, exitCode="0"),
        event(dbt, "create", 95.0),  # on demand: created, never started
        event("somebody-elses", "create", 1.0),
        event("datalyptica-redis", "create", 10.0),
        event("datalyptica-redis", "die", 20.0, exitCode="137"),  # a server that died was not ready
        event("datalyptica-redis", "create", 30.0),  # replaced: its latest creation counts
        event("datalyptica-redis", "health_status: healthy", 36.5),
    ]
    timings = container_timings(events, dev)
    assert set(timings) == {trino, init, "datalyptica-redis"}
    assert timings[trino].seconds == 50.0 and timings[trino].exit_code is None
    assert (timings[init].seconds, timings[init].exit_code) == (50.0, 0)
    assert timings["datalyptica-redis"].seconds == 6.5
