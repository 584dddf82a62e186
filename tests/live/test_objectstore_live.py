"""The e2e stack's object store (SeaweedFS) for real: per-consumer keys, refusals, data that stays.

A second consumer is provisioned as the program provisions Nessie: the job of Nessie's identity,
as the state holds it, given another consumer's name, bucket, key and policy (the program's own
functions render them), deployed as a probe stack through the same docker provider.
"""

from __future__ import annotations

import json
import secrets
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import botocore.exceptions
import docker
import pytest

from components.objectstore import PROVISION_DIR, SEAWEEDFS_S3_PORT, seaweedfs_access_key, seaweedfs_identity_policy
from components.storage import NESSIE_PORT
from tests.integration.pgcluster import LOCALHOST, wait_for
from tests.live.deploy import LiveDeployment, Probe, replace
from tests.live.dockerd import TestDaemon
from tests.live.stack import container_name, containers, host_port, s3_client, wait_all_healthy


@pytest.fixture(scope="module")
def s3_url(e2e: LiveDeployment) -> str:
    return f"http://{LOCALHOST}:{host_port(containers(e2e)['seaweedfs'], SEAWEEDFS_S3_PORT)}"


def generated(live: LiveDeployment, name: str) -> str:
    return live.deployment.named(name, "random:index/randomPassword:RandomPassword").outputs["result"]


@pytest.fixture(scope="module")
def admin(e2e: LiveDeployment, s3_url: str):
    return s3_client(s3_url, e2e.outputs["seaweedfs_admin_access_key"], e2e.outputs["seaweedfs_admin_secret_key"])


@pytest.fixture(scope="module")
def nessie(e2e: LiveDeployment, s3_url: str):
    return s3_client(s3_url, seaweedfs_access_key("nessie"), generated(e2e, "nessie-s3-secret-key"))


@contextmanager
def add_consumer(
    live: LiveDeployment, daemon: TestDaemon, consumer: str, buckets: list[str]
) -> Iterator[tuple[str, str]]:
    """Provision `consumer` with the job the program registered for Nessie, re-rendered for it; its
    keys while the probe stack stands."""
    template = live.deployment.named("nessie-s3-identity-container", "docker:index/container:Container")
    secret_key = secrets.token_hex(20)
    inputs = json.loads(json.dumps(template.inputs))
    inputs["name"] = inputs["name"].replace("nessie-s3-identity", f"{consumer}-s3-identity")
    access_key = seaweedfs_access_key(consumer)
    inputs["command"] = [*inputs["command"][:3], ",".join(buckets), f"{consumer}-s3", access_key]
    for upload in inputs["uploads"]:
        if upload["file"] == f"{PROVISION_DIR}/secret-key":
            upload["content"] = secret_key
        if upload["file"] == f"{PROVISION_DIR}/policy.json":
            upload["content"] = seaweedfs_identity_policy(buckets)
    probe = Probe(live, daemon, f"probe-{consumer}")
    probe.like(template, name=f"{consumer}-s3-identity", inputs=inputs, outputs=("exitCode",), secret=("uploads",))
    with probe.deployed() as outputs:
        exit_code = outputs[f"{consumer}-s3-identity.exitCode"]
        assert exit_code == 0, f"the {consumer} identity job exited {exit_code}"
        yield access_key, secret_key


@pytest.fixture(scope="module")
def probe(e2e: LiveDeployment, daemon: TestDaemon, s3_url: str):
    with add_consumer(e2e, daemon, "probe", ["probe-bucket"]) as keys:
        yield s3_client(s3_url, *keys)


def denied(call, codes: tuple[str, ...] = ("AccessDenied",)) -> bool:
    """Whether S3 refused the call with one of these error codes."""
    try:
        call()
    except botocore.exceptions.ClientError as error:
        return error.response["Error"]["Code"] in codes
    return False


def test_each_consumers_keys_reach_its_own_buckets_and_no_other(nessie, probe):
    nessie.put_object(Bucket="warehouse", Key="nessie-own.txt", Body=b"nessie")
    assert nessie.get_object(Bucket="warehouse", Key="nessie-own.txt")["Body"].read() == b"nessie"
    probe.put_object(Bucket="probe-bucket", Key="probe-own.txt", Body=b"probe")
    assert probe.get_object(Bucket="probe-bucket", Key="probe-own.txt")["Body"].read() == b"probe"

    assert denied(lambda: nessie.put_object(Bucket="probe-bucket", Key="x", Body=b"x"))
    assert denied(lambda: nessie.get_object(Bucket="probe-bucket", Key="probe-own.txt"))
    assert denied(lambda: probe.get_object(Bucket="warehouse", Key="nessie-own.txt"))
    assert denied(lambda: probe.list_objects_v2(Bucket="warehouse"))
    assert denied(lambda: nessie.put_object(Bucket="landing", Key="x", Body=b"x"))


def test_unsigned_and_wrongly_signed_requests_are_refused(s3_url: str, e2e: LiveDeployment):
    for method, path in (("GET", "/warehouse/nessie-own.txt"), ("PUT", "/warehouse/anonymous.txt"), ("GET", "/")):
        request = urllib.request.Request(s3_url + path, method=method, data=b"x" if method == "PUT" else None)
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(request, timeout=10)
        assert refused.value.code == 403, (method, path)
    wrong = s3_client(s3_url, seaweedfs_access_key("nessie"), "not-the-secret-key-of-nessie-at-all-000000")
    assert denied(lambda: wrong.get_object(Bucket="warehouse", Key="nessie-own.txt"), ("SignatureDoesNotMatch",))


def _objects(admin) -> dict[tuple[str, str], bytes]:
    found = {}
    for bucket in ("warehouse", "landing", "probe-bucket"):
        for item in admin.list_objects_v2(Bucket=bucket).get("Contents", []):
            found[(bucket, item["Key"])] = admin.get_object(Bucket=bucket, Key=item["Key"])["Body"].read()
    return found


def test_adding_a_consumer_keeps_every_buckets_objects(
    e2e: LiveDeployment, daemon: TestDaemon, admin, probe, s3_url: str
):
    admin.put_object(Bucket="landing", Key="before-adding.csv", Body=b"a,b\n1,2\n")
    before = _objects(admin)
    with add_consumer(e2e, daemon, "later", ["landing"]) as keys:
        later = s3_client(s3_url, *keys)
        assert _objects(admin) == before
        assert later.get_object(Bucket="landing", Key="before-adding.csv")["Body"].read() == b"a,b\n1,2\n"
        assert denied(lambda: later.get_object(Bucket="warehouse", Key="nessie-own.txt"))


def test_objects_and_identities_survive_a_restart_and_a_replaced_container(
    e2e: LiveDeployment, api: docker.APIClient, admin, nessie, probe
):
    before = _objects(admin)
    store = containers(e2e)["seaweedfs"]
    api.restart(container_name(store), timeout=int(store.inputs["destroyGraceSeconds"]))
    wait_all_healthy(api, e2e)
    assert _objects(admin) == before

    replace(e2e, store)
    wait_all_healthy(api, e2e)
    assert _objects(admin) == before
    assert nessie.get_object(Bucket="warehouse", Key="nessie-own.txt")["Body"].read() == b"nessie"
    assert denied(lambda: probe.get_object(Bucket="warehouse", Key="nessie-own.txt"))


def test_nessie_writes_an_iceberg_tables_files_into_the_warehouse_bucket(e2e: LiveDeployment, admin):
    nessie_url = f"http://{LOCALHOST}:{host_port(containers(e2e)['nessie'], NESSIE_PORT)}/iceberg/v1/main"
    namespace = f"e2e_{uuid.uuid4().hex[:8]}"

    def post(path: str, body: dict) -> dict:
        request = urllib.request.Request(
            nessie_url + path,
            data=json.dumps(body).encode(),
            method="POST",
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=60) as response:
            return json.loads(response.read() or b"{}")

    post("/namespaces", {"namespace": [namespace]})
    schema = {
        "type": "struct",
        "schema-id": 0,
        "fields": [
            {"id": 1, "name": "id", "required": True, "type": "long"},
            {"id": 2, "name": "name", "required": False, "type": "string"},
        ],
    }
    created = post(f"/namespaces/{namespace}/tables", {"name": "orders", "schema": schema, "stage-create": False})
    location = created["metadata"]["location"]
    assert location.startswith("s3://warehouse/"), location
    prefix = location.removeprefix("s3://warehouse/")
    keys = wait_for(
        lambda: [item["Key"] for item in admin.list_objects_v2(Bucket="warehouse", Prefix=prefix).get("Contents", [])],
        timeout=30,
        what="the table's metadata in the warehouse bucket",
    )
    assert any(key.endswith(".metadata.json") for key in keys), keys
