"""Taking the e2e stack down with `pulumi destroy`, as the README and docs/operations.md ("Taking a
stack down") tell a user to: the last live module (tests/live/conftest.py orders them).

With `protectData` on, `destroy` stops at the data; `destroy --exclude-protected` keeps the volumes,
databases and the generated secrets that unlock them, and what they need (a database its provider,
which reaches PostgreSQL through HAProxy: etcd, Patroni and HAProxy stay up), and removes the rest;
a new `up` finds the data with the same credentials. Then, with `protectData` off, `destroy` removes
everything, anonymous volumes included, and nothing of the stack is left on the daemon.
"""

from __future__ import annotations

import uuid

import docker

from components.objectstore import SEAWEEDFS_S3_PORT
from harness.offline import Deployment
from tests.live.conftest import record
from tests.live.deploy import LiveDeployment, container_events, container_timings
from tests.live.pgcluster import DockerPgCluster
from tests.live.stack import container_name, containers, published_url, s3_client, wait_all_healthy

VOLUME = "docker:index/volume:Volume"
CONTAINER = "docker:index/container:Container"
MARKER_TABLE = "destroy_marker"


def _write_markers(live: LiveDeployment, pg: DockerPgCluster) -> tuple[str, str]:
    """A row in PostgreSQL and an object in the store, written before the destroy."""
    marker = uuid.uuid4().hex
    with pg.connect(pg.primary_port) as connection:
        connection.execute(f"CREATE TABLE IF NOT EXISTS {MARKER_TABLE} (marker text)")
        connection.execute(f"INSERT INTO {MARKER_TABLE} VALUES (%s)", (marker,))
    _store(live).put_object(Bucket="landing", Key=f"destroy/{marker}", Body=marker.encode())
    return marker, f"destroy/{marker}"


def _store(live: LiveDeployment):
    return s3_client(
        published_url(live, "seaweedfs", SEAWEEDFS_S3_PORT),
        live.outputs["seaweedfs_admin_access_key"],
        live.outputs["seaweedfs_admin_secret_key"],
    )


def _needed_by(deployment: Deployment, urns: set[str]) -> set[str]:
    """`urns` and everything they depend on: dependencies, providers and parents, transitively."""
    by_urn = {r.urn: r for r in deployment.registered}
    needed, pending = set(), list(urns)
    while pending:
        urn = pending.pop()
        if urn in needed or urn not in by_urn:
            continue
        needed.add(urn)
        resource = by_urn[urn]
        pending += [*resource.dependencies, resource.provider.rpartition("::")[0], resource.parent]
    return needed


def test_destroy_stops_at_protected_data_and_a_new_up_finds_it(e2e: LiveDeployment, api: docker.APIClient):
    pg = DockerPgCluster.of(e2e, api)
    marker, key = _write_markers(e2e, pg)
    superuser_password = e2e.outputs["postgres_superuser_password"]

    e2e.workspace.set_config("protectData", True)
    protecting = e2e.workspace.up()
    assert not [s for s in protecting.steps() if s["op"] in ("create", "replace", "delete")], protecting.output
    e2e.reload()
    protected = {r.urn for r in e2e.deployment.registered if r.protect}
    volumes = {r.inputs["name"] for r in e2e.deployment.of_type(VOLUME)}
    assert volumes and all(r.protect for r in e2e.deployment.of_type(VOLUME))

    refused = e2e.workspace.destroy(check=False)
    assert refused.code != 0 and "protect" in refused.output, refused.output[-3000:]

    needed = _needed_by(e2e.deployment, protected)
    kept = e2e.workspace.destroy("--exclude-protected")
    record("engine_destroy_exclude_protected_seconds", round(kept.seconds, 1))
    e2e.reload()
    remaining = {r.urn for r in e2e.deployment.registered}
    # Pulumi keeps, besides the protected data, what it needs: a database its provider, which
    # reaches PostgreSQL through HAProxy's published port (so etcd, Patroni and HAProxy stay up).
    assert protected <= remaining <= needed, sorted(remaining - needed)
    left = {c["Names"][0].lstrip("/") for c in api.containers(all=True, filters={"label": "datalyptica.stack=e2e"})}
    assert left == {r.inputs["name"] for r in e2e.deployment.of_type(CONTAINER)}
    assert "e2e-superset" not in left and "e2e-airflow-apiserver" not in left and "e2e-patroni-1" in left
    assert volumes <= {v["Name"] for v in api.volumes().get("Volumes") or []}

    with container_events(api) as events:
        again = e2e.workspace.up()
    record("engine_up_on_kept_data_seconds", round(again.seconds, 1))
    e2e.reload()
    e2e.timings = container_timings(events, e2e.deployment)
    wait_all_healthy(api, e2e)
    assert e2e.outputs["postgres_superuser_password"] == superuser_password
    pg = DockerPgCluster.of(e2e, api)
    pg.wait_for_haproxy_primary(pg.wait_for_leader(timeout=60), timeout=60)
    with pg.connect(pg.primary_port) as connection:
        rows = connection.execute(f"SELECT marker FROM {MARKER_TABLE}").fetchall()
    assert (marker,) in rows
    assert _store(e2e).get_object(Bucket="landing", Key=key)["Body"].read() == marker.encode()


def test_destroy_without_protection_leaves_nothing_of_the_stack(e2e: LiveDeployment, api: docker.APIClient):
    names = {container_name(c) for c in containers(e2e).values()}
    networks = {r.inputs["name"] for r in e2e.deployment.of_type("docker:index/network:Network")}
    volumes = {r.inputs["name"] for r in e2e.deployment.of_type(VOLUME)}
    anonymous = {
        mount["Name"]
        for name in names
        for mount in api.inspect_container(name)["Mounts"]
        if mount["Type"] == "volume" and mount["Name"] not in volumes
    }
    # The SeaweedFS jobs run its image without its /data: Docker gives each an anonymous volume.
    assert anonymous, "no container has an anonymous volume (SeaweedFS's image declares /data): nothing to check"

    e2e.workspace.set_config("protectData", False)
    e2e.workspace.up()
    gone = e2e.workspace.destroy()
    record("engine_destroy_seconds", round(gone.seconds, 1))
    assert e2e.workspace.destroyed

    assert names.isdisjoint(c["Names"][0].lstrip("/") for c in api.containers(all=True))
    assert networks.isdisjoint(n["Name"] for n in api.networks())
    left = {v["Name"] for v in api.volumes().get("Volumes") or []}
    assert volumes.isdisjoint(left)
    # The provider removes a container's anonymous volumes with it (SeaweedFS's image declares /data).
    assert anonymous.isdisjoint(left), f"anonymous volumes left: {sorted(anonymous & left)}"
    assert not e2e.workspace.export().get("deployment", {}).get("resources")
