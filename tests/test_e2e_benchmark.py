"""The benchmark's analysis of a deployment: which containers waited for which, and the
critical path (checked on the dev stack under mocks and on made-up timings)."""

from tests.benchmarks.e2e import container_dependencies, critical_path
from tests.live.deploy import ContainerTiming


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
