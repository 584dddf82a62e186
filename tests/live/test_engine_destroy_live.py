"""Taking the e2e stack down with `pulumi destroy`, as the README tells a user to: the last live
module (tests/live/conftest.py orders them).

With `protectData` on, `destroy` stops at the data; `destroy --exclude-protected` removes everything
else and keeps the volumes, databases and the generated secrets that unlock them; a new `up` finds
the data and logs in with the same credentials. Then, with `protectData` off, `destroy` removes
everything, anonymous volumes included, and nothing of the stack is left on the daemon.
"""

from __future__ import annotations

import uuid

import docker

from tests.live.conftest import record
from tests.live.deploy import LiveDeployment, container_timings
from tests.live.pgcluster import DockerPgCluster
from tests.live.stack import container_name, containers, published_url, s3_client, wait_all_healthy

VOLUME = "docker:index/volume:Volume"
MARKER_TABLE = "destroy_marker"
SEAWEEDFS_S3_PORT = 8333


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

    kept = e2e.workspace.destroy("--exclude-protected")
    record("engine_destroy_exclude_protected_seconds", round(kept.seconds, 1))
    e2e.reload()
    assert {r.urn for r in e2e.deployment.registered} == protected, "destroy kept something unprotected"
    assert not api.containers(all=True, filters={"label": "datalyptica.stack=e2e"})
    assert volumes <= {v["Name"] for v in api.volumes().get("Volumes") or []}

    again = e2e.workspace.up()
    record("engine_up_on_kept_data_seconds", round(again.seconds, 1))
    e2e.reload()
    e2e.timings = container_timings(api, e2e.deployment)
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
