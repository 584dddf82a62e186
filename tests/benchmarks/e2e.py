"""Deploy a stack for real on the tests' own Docker Engine and print what it costs.

    python -m tests.benchmarks.e2e e2e [--kills N] [--keep]

Builds the stand-in images (tests/live/standins.py; cached ones say so), deploys the stack with
the real `pulumi up` (tests/live/deploy.py: the CLI and providers built by tests/engine/), then
prints: each stand-in's build time; the whole `pulumi up`; the time from the first create to
every container healthy (read from the daemon); the critical path
(the longest chain of containers each created only after the one before was healthy) and the
ratio of the two (1.0: nothing ran in parallel that could have); with the analytics layer, a
notebook's spawn and the sample DAG's run; each container's memory against its limit (after that
work); failover seconds and rows over N kills of the PostgreSQL leader. Removes what
it created and stops the daemon it started, unless --keep. Needs root (it starts dockerd).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the repository root

from harness.offline import Deployment, Registered, settings_of
from tests.live.deploy import ContainerTiming, LiveDeployment, deploy
from tests.live.dockerd import TestDaemon

CONTAINER = "docker:index/container:Container"


def container_dependencies(deployment: Deployment) -> dict[str, set[str]]:
    """Container name -> the containers it waited for, through any resources in between
    (a role waits for its provider, which waits for HAProxy: the role's consumers wait for HAProxy)."""
    by_urn = {r.urn: r for r in deployment.registered}

    def direct(resource: Registered) -> set[str]:
        edges = set(resource.dependencies)
        if resource.provider:  # a provider reference is "<urn>::<id>"
            edges.add(resource.provider.rpartition("::")[0])
        return {edge for edge in edges if edge in by_urn}

    memo: dict[str, set[str]] = {}

    def containers_under(urn: str, seen: frozenset[str] = frozenset()) -> set[str]:
        if urn in memo:
            return memo[urn]
        resource = by_urn.get(urn)
        if resource is None or urn in seen:
            return set()
        found: set[str] = set()
        for edge in direct(resource):
            target = by_urn.get(edge)
            if target is not None and target.type == CONTAINER:
                found.add(target.inputs["name"])
            else:
                found |= containers_under(edge, seen | {urn})
        memo[urn] = found
        return found

    return {r.inputs["name"]: containers_under(r.urn) for r in deployment.of_type(CONTAINER)}


def critical_path(
    dependencies: Mapping[str, set[str]], timings: Mapping[str, ContainerTiming]
) -> tuple[float, list[str]]:
    """The chain of health-gated starts whose create-to-ready times add up the most."""
    best: dict[str, tuple[float, list[str]]] = {}

    def longest(name: str) -> tuple[float, list[str]]:
        if name not in best:
            before = [longest(dep) for dep in dependencies.get(name, ()) if dep in timings]
            seconds, chain = max(before, default=(0.0, []))
            best[name] = (seconds + timings[name].seconds, [*chain, name])
        return best[name]

    return max((longest(name) for name in timings), default=(0.0, []))


def memory_use(live: LiveDeployment) -> list[tuple[str, dict[str, int]]]:
    """(container, MiB now, at its peak and its limit: tests.live.stack.memory_of) for every running container."""
    from tests.live.stack import memory_of

    api = _api()
    return [(name, memory_of(api, name)) for name in live.timings if api.inspect_container(name)["State"]["Running"]]


def _api() -> Any:  # docker's client has no type stubs
    from tests.live.stack import daemon_api

    return daemon_api(TestDaemon())


def report_failovers(live: LiveDeployment, kills: int) -> None:
    from tests.integration.pgcluster import run_crash_failover
    from tests.live.pgcluster import DockerPgCluster

    cluster = DockerPgCluster.of(live, _api())
    seconds, lost = [], 0
    for kill in range(1, kills + 1):
        report = run_crash_failover(cluster, writers=4)
        seconds.append(report.failover_seconds)
        lost += report.rows_lost
        print(
            f"  kill {kill}: first accepted write after {report.failover_seconds:.1f} s "
            f"({report.old_leader} -> {report.new_leader}); rows acknowledged {report.rows_acknowledged}, "
            f"lost {report.rows_lost}; rejoined as replica {report.rejoined_as_replica}",
            flush=True,
        )
    print(
        f"  failover median {statistics.median(seconds):.1f} s (min {min(seconds):.1f}, max {max(seconds):.1f}) "
        f"over {kills} kills; rows lost {lost}"
    )


def report_analytics(live: LiveDeployment, prefix: str) -> None:
    """How long a person waits on the analytics layer: a notebook server from login to a kernel's
    first answer, and the sample ETL DAG from trigger to success on the Celery worker."""
    from components.analytics.airflow import AIRFLOW_API_PORT
    from components.analytics.jupyterhub import JUPYTERHUB_PORT
    from components.analytics_configs import SAMPLE_DAG_ID
    from tests.live.stack import published_url, remove_notebook_volume
    from tests.live.uis import Airflow, JupyterHub

    hub = JupyterHub(published_url(live, "jupyterhub", JUPYTERHUB_PORT))
    started = time.monotonic()
    hub.login("admin", live.outputs["jupyterhub_admin_password"])
    hub.create_token("admin")
    hub.spawn("admin")
    spawned = time.monotonic()
    kernel = hub.kernel("admin")
    kernel.execute("import boto3, mlflow, psycopg")
    answered = time.monotonic()
    kernel.close()
    hub.stop("admin")
    remove_notebook_volume(_api(), prefix, "admin")
    print(
        f"  notebook: login to server ready {spawned - started:.1f} s; first kernel answer {answered - spawned:.1f} s"
    )

    airflow = Airflow(published_url(live, "airflow-apiserver", AIRFLOW_API_PORT))
    airflow.login("admin", live.outputs["airflow_admin_password"])
    airflow.unpause_when_parsed(SAMPLE_DAG_ID)
    started = time.monotonic()
    state = airflow.wait_for_run(SAMPLE_DAG_ID, airflow.trigger(SAMPLE_DAG_ID))
    print(f"  {SAMPLE_DAG_ID}: {state} {time.monotonic() - started:.1f} s from trigger")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("stack", help="a stack file Pulumi.<stack>.yaml, e.g. e2e")
    parser.add_argument("--kills", type=int, default=3, help="crashes of the PostgreSQL leader (0: none)")
    parser.add_argument("--keep", action="store_true", help="leave the stack and the daemon running")
    args = parser.parse_args()

    from tests.live.standins import build_for

    daemon = TestDaemon()
    started_daemon = daemon.start()
    print(f"== stand-ins (daemon {daemon.host})", flush=True)
    builds = build_for(daemon)
    for build in builds:
        print(f"  {build.tag}: {build.seconds:.1f} s{' (cached)' if build.cached else ''}", flush=True)

    print(f"== deploy {args.stack}", flush=True)
    first = time.time()  # container timings are the daemon's wall-clock times
    live = deploy(daemon, args.stack)
    try:
        timings = live.timings
        for name, timing in sorted(timings.items(), key=lambda item: item[1].created):
            print(f"  {name}: created at +{timing.created - first:.1f} s, ready after {timing.seconds:.1f} s")
        all_ready = max(t.ready for t in timings.values()) - min(t.created for t in timings.values())
        path_seconds, chain = critical_path(container_dependencies(live.deployment), timings)
        print(f"  first create to all healthy: {all_ready:.1f} s; whole deploy {live.seconds:.1f} s")
        print(f"  critical path {path_seconds:.1f} s: {' -> '.join(chain)}; ratio {all_ready / path_seconds:.2f}")

        if "jupyterhub" in live.deployment.containers():
            print("== analytics", flush=True)
            report_analytics(live, settings_of(args.stack).prefix)

        print("== memory (MiB used less page cache, peak / limit)")
        for name, mib in memory_use(live):
            print(f"  {name}: {mib['mib_now']}, peak {mib['mib_peak']} / {mib['mib_limit']}")

        if args.kills and "haproxy" in live.deployment.containers():
            print(f"== failover x{args.kills}", flush=True)
            report_failovers(live, args.kills)
    finally:
        if not args.keep:
            live.workspace.destroy()
            if started_daemon:
                daemon.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
