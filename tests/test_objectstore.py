"""The object store choice (`datalyptica:objectStore`) under mocks: MinIO or SeaweedFS, one contract.

Every consumer gets its own key pair whose permissions name only its buckets, whichever store
the stack runs; SeaweedFS's are made by one-shot jobs (components/objectstore.py).
"""

import functools
import json

import pytest
import yaml

from components import catalog
from components.objectstore import (
    SEAWEEDFS_BUCKET_ACTIONS,
    bucket_policy,
    seaweedfs_admin_identities,
    seaweedfs_identity_policy,
)
from components.settings import SettingsError, config_from_engine, load_settings
from harness.offline import Deployment, engine_config, run_program, stack_config
from scripts import plan as plan_command
from tests.secret_files import private_to
from tests.tools import registered_before_refusal

CONTAINER = "docker:index/container:Container"
PROVISION = "/etc/datalyptica-s3"
# The buckets each consumer of the dev stack asks for (components/*.py).
CONSUMER_BUCKETS = {
    "nessie": {"warehouse"},
    "spark": {"warehouse", "landing"},
    "flink": {"flink"},
    "trino": {"warehouse", "landing"},
    "mlflow": {"mlflow-artifacts"},
    "notebooks": {"warehouse", "landing"},
    "airflow": {"warehouse", "landing"},
}


def with_store(stack: str, store: str, **config) -> dict[str, str]:
    return {**stack_config(stack), **engine_config({"objectStore": store, **config})}


@functools.cache
def _deployment(stack: str, store: str) -> Deployment:
    return run_program(with_store(stack, store), stack=stack)


@pytest.fixture
def seaweed_dev() -> Deployment:
    return _deployment("dev", "seaweedfs")


@pytest.fixture
def seaweed_prod() -> Deployment:
    return _deployment("prod", "seaweedfs")


def upload(container, path: str) -> dict:
    return next(u for u in container.inputs["uploads"] if u["file"] == path)


def identity_jobs(deployment: Deployment) -> dict[str, object]:
    """The identity job of each consumer, by consumer."""
    return {
        name.removesuffix("-s3-identity"): c
        for name, c in deployment.containers().items()
        if name.endswith("-s3-identity")
    }


def job_buckets(job) -> set[str]:
    return set(job.inputs["command"][3].split(","))


# ---- the setting --------------------------------------------------------------------------------


def test_minio_is_the_default():
    assert load_settings({}).object_store == "minio"
    assert stack_config("dev").get("datalyptica:objectStore") is None  # the stack files keep the seed's choice


@pytest.mark.parametrize("value", ["ceph", "MinIO", "", "s3"])
def test_an_unknown_object_store_is_refused_naming_key_value_and_choices(value):
    with pytest.raises(SettingsError) as refused:
        load_settings({"objectStore": value})
    message = str(refused.value)
    assert "datalyptica:objectStore" in message and repr(value) in message
    assert "minio" in message and "seaweedfs" in message


def test_an_unknown_object_store_stops_the_program_before_any_resource():
    assert registered_before_refusal({"objectStore": "ceph"}, "datalyptica:objectStore") == []


def test_only_the_chosen_store_counts_for_ports_and_capacity():
    minio = load_settings({"layers": ["storage"]})
    seaweed = load_settings({"layers": ["storage"], "objectStore": "seaweedfs"})
    assert "minio" in minio.memory_demand() and "seaweedfs" not in minio.memory_demand()
    assert "seaweedfs" in seaweed.memory_demand() and "minio" not in seaweed.memory_demand()
    assert seaweed.host_ports()["seaweedfs"] == 9000 and "minio" not in seaweed.host_ports()
    assert "minio-console" not in seaweed.host_ports()
    # MinIO's ports are not required without MinIO; SeaweedFS's is not required at all.
    load_settings({"objectStore": "seaweedfs", "ports": {"minio": None, "seaweedfs": None}})
    with pytest.raises(SettingsError, match=r"datalyptica:ports\.minio"):
        load_settings({"ports": {"minio": None}})


def test_two_stores_may_share_a_host_port_because_only_one_runs():
    settings = load_settings({"objectStore": "seaweedfs", "ports": {"minio": 9500, "seaweedfs": 9500}})
    assert settings.host_port("seaweedfs") == 9500


# ---- SeaweedFS: what is registered --------------------------------------------------------------


def test_seaweedfs_stack_registers_no_minio_at_all(seaweed_dev):
    assert not [r for r in seaweed_dev.registered if r.type.startswith(("minio:", "pulumi:providers:minio"))]
    containers = seaweed_dev.containers()
    assert "minio" not in containers and "seaweedfs" in containers
    realm = json.loads(upload(containers["keycloak-realm"], "/opt/keycloak/data/realm-job/clients.json")["content"])
    client_ids = {client["clientId"] for client in realm["clients"]}
    assert "minio-console" not in client_ids and "grafana" in client_ids
    assert not [n for n in seaweed_dev.of_type("docker:index/network:Network") if "minio" in n.inputs["name"]]
    assert not [name for name in seaweed_dev.outputs if "minio" in name]


def test_minio_stack_registers_no_seaweedfs(dev):
    assert not [name for name in dev.containers() if "seaweedfs" in name or name.endswith("-s3-identity")]


def test_seaweedfs_container_runs_the_server_with_internal_ports_on_loopback(seaweed_dev):
    seaweedfs = seaweed_dev.containers()["seaweedfs"].inputs
    command = seaweedfs["command"]
    assert command[0] == "server" and {"-filer", "-s3"} <= set(command)
    # Master, volume and filer answer only inside the container; S3 and metrics on every address.
    assert {
        "-ip=127.0.0.1",
        "-ip.bind=127.0.0.1",
        "-s3.ip.bind=0.0.0.0",
        "-metricsIp=0.0.0.0",
        "-s3.port=8333",
        "-metricsPort=9324",
        "-s3.config=/etc/seaweedfs/s3.json",
        "-s3.iam.readOnly=false",
        "-master.telemetry=false",
    } <= set(command)
    assert [(p["internal"], p["external"], p["ip"]) for p in seaweedfs["ports"]] == [(8333, 9000, "127.0.0.1")]
    assert seaweedfs["healthcheck"]["tests"] == [
        "CMD",
        "curl",
        "--fail",
        "--silent",
        "--show-error",
        "--output",
        "/dev/null",
        "http://localhost:8333/healthz",
    ]
    assert seaweedfs["volumes"] == [{"containerPath": "/data", "volumeName": "datalyptica-seaweedfs-data"}]


def test_an_admin_identity_always_exists_so_unsigned_requests_are_refused(seaweed_dev):
    identities = upload(seaweed_dev.containers()["seaweedfs"], "/etc/seaweedfs/s3.json")
    assert private_to(seaweed_dev.containers()["seaweedfs"], "/etc/seaweedfs/s3.json", "1000")
    assert identities["owner"] == "1000"  # SeaweedFS starts as root and drops to uid 1000: handed over
    [admin] = json.loads(identities["content"])["identities"]
    assert "Admin" in admin["actions"] and len(admin["credentials"]) == 1
    assert admin["credentials"][0]["accessKey"] == seaweed_dev.outputs["seaweedfs_admin_access_key"]
    assert admin["credentials"][0]["secretKey"] == seaweed_dev.outputs["seaweedfs_admin_secret_key"]


def test_every_consumer_gets_its_own_identity_job_naming_only_its_buckets(seaweed_dev):
    jobs = identity_jobs(seaweed_dev)
    assert set(jobs) == set(CONSUMER_BUCKETS)
    for consumer, job in jobs.items():
        inputs = job.inputs
        assert inputs["entrypoints"] == ["/bin/sh"] and inputs["attach"] is True and inputs["restart"] == "no"
        endpoint, region, _, user, access_key = inputs["command"][1:]
        assert (endpoint, region, user) == ("http://seaweedfs:8333", "us-east-1", f"{consumer}-s3")
        assert access_key.isalnum() and 4 <= len(access_key) <= 128  # what SeaweedFS's IAM accepts
        assert job_buckets(job) == CONSUMER_BUCKETS[consumer], consumer
        policy = json.loads(upload(job, f"{PROVISION}/policy.json")["content"])
        [statement] = policy["Statement"]
        # Flink's presto file system sends an ACL with each upload: only its identity may, on its own bucket.
        acls = ["s3:PutObjectAcl"] if consumer == "flink" else []
        assert statement["Effect"] == "Allow" and statement["Action"] == [*SEAWEEDFS_BUCKET_ACTIONS, *acls]
        assert set(statement["Resource"]) == {
            arn
            for bucket in CONSUMER_BUCKETS[consumer]
            for arn in (f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*")
        }
        assert "*" not in "".join(statement["Action"])  # SeaweedFS's IAM knows exact action names only


def test_the_lake_buckets_are_made_without_any_identity(seaweed_dev):
    job = seaweed_dev.containers()["seaweedfs-buckets"]
    assert job.inputs["command"][1:] == ["http://seaweedfs:8333", "us-east-1", "warehouse,landing"]
    assert {u["file"] for u in job.inputs["uploads"]} == {f"{PROVISION}/provision.sh", f"{PROVISION}/admin.curlrc"}


def test_per_consumer_credentials_are_distinct_and_reach_the_job_as_files(seaweed_dev):
    access_keys, secret_keys = set(), set()
    for job in identity_jobs(seaweed_dev).values():
        access_keys.add(job.inputs["command"][-1])
        secret = upload(job, f"{PROVISION}/secret-key")
        assert private_to(job, f"{PROVISION}/secret-key", "1000") and job.inputs["user"] == "1000"
        secret_keys.add(secret["content"])
        admin = upload(job, f"{PROVISION}/admin.curlrc")
        assert private_to(job, f"{PROVISION}/admin.curlrc", "1000")
        assert admin["content"] == (
            f'user = "{seaweed_dev.outputs["seaweedfs_admin_access_key"]}:'
            f'{seaweed_dev.outputs["seaweedfs_admin_secret_key"]}"\n'
        )
        assert "uploads" in job.secret_inputs() and not {"command", "envs", "entrypoints"} & job.secret_inputs()
        assert secret["content"] not in json.dumps(job.inputs["command"])
    assert len(access_keys) == len(secret_keys) == len(CONSUMER_BUCKETS)
    assert seaweed_dev.outputs["seaweedfs_admin_access_key"] not in access_keys


def test_no_generated_credential_appears_in_plain_text(seaweed_dev, seaweed_prod):
    for deployment in (seaweed_dev, seaweed_prod):
        assert deployment.generated_secrets
        assert deployment.plaintext_leaks() == []
        for name, container in deployment.containers().items():
            assert "envs" not in container.secret_inputs(), name


def test_the_provisioning_script_is_the_configs_one(seaweed_dev):
    from components.templates import CONFIGS_DIR

    script = (CONFIGS_DIR / "seaweedfs/provision.sh").read_text()
    for job in [*identity_jobs(seaweed_dev).values(), seaweed_dev.containers()["seaweedfs-buckets"]]:
        uploaded = upload(job, f"{PROVISION}/provision.sh")
        assert uploaded["content"] == script and uploaded["permissions"] == "0555"


# ---- SeaweedFS: consumers work unchanged ----------------------------------------------------------


def test_consumers_wait_for_their_own_identity_job_and_use_its_key_pair(seaweed_dev):
    containers = seaweed_dev.containers()
    jobs = identity_jobs(seaweed_dev)
    for consumer, service in (
        ("nessie", "nessie"),
        ("trino", "trino"),
        ("spark", "spark-master"),
        ("flink", "flink-jobmanager"),
        ("mlflow", "mlflow"),
        ("airflow", "airflow-init"),
    ):
        depends = set(containers[service].dependencies)
        assert jobs[consumer].urn in depends, service
        assert not {job.urn for other, job in jobs.items() if other != consumer} & depends, service
    assert containers["seaweedfs"].urn in jobs["nessie"].dependencies


def test_consumers_reach_seaweedfs_by_its_service_name(seaweed_dev):
    containers = seaweed_dev.containers()
    nessie = upload(containers["nessie"], "/etc/nessie/application.properties")["content"]
    assert "default-options.endpoint=http://seaweedfs:8333/" in nessie
    trino = upload(containers["trino"], "/etc/trino/catalog/iceberg.properties")["content"]
    assert "s3.endpoint=http://seaweedfs:8333" in trino
    secret_of_trino = upload(identity_jobs(seaweed_dev)["trino"], f"{PROVISION}/secret-key")["content"]
    assert f"s3.aws-secret-key={secret_of_trino}" in trino
    mlflow = dict(env.split("=", 1) for env in containers["mlflow"].inputs["envs"])
    assert mlflow["MLFLOW_S3_ENDPOINT_URL"] == "http://seaweedfs:8333"
    notebooks = {n["name"] for n in containers["seaweedfs"].inputs["networksAdvanced"]}
    assert "datalyptica-notebooks" in notebooks


def test_prometheus_scrapes_seaweedfs(seaweed_dev):
    prometheus = seaweed_dev.containers()["prometheus"]
    config = yaml.safe_load(upload(prometheus, "/etc/prometheus/prometheus.yml")["content"])
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    assert jobs["seaweedfs"]["static_configs"][0]["targets"] == ["seaweedfs:9324"]
    assert jobs["seaweedfs"]["metrics_path"] == "/metrics" and "minio" not in jobs


@pytest.mark.parametrize("stack,protected", [("dev", False), ("prod", True)])
def test_the_data_volume_follows_protect_data(stack, protected):
    deployment = _deployment(stack, "seaweedfs")
    [volume] = [
        v for v in deployment.of_type("docker:index/volume:Volume") if v.inputs["name"] == "datalyptica-seaweedfs-data"
    ]
    assert volume.protect is protected and volume.retain_on_delete is protected


def test_stack_outputs_give_the_endpoint_and_secret_admin_credentials(seaweed_dev):
    assert seaweed_dev.outputs["seaweedfs_s3_url"] == "http://localhost:9000"
    assert seaweed_dev.not_secret_or_empty("seaweedfs_admin_access_key", "seaweedfs_admin_secret_key") == []


def test_two_evaluations_register_identical_inputs():
    config = with_store("dev", "seaweedfs", layers=["storage", "query"])
    first, second = (run_program(config, stack="dev") for _ in range(2))
    # Registration order follows the async runtime; what is registered must not.
    assert {r.urn: r.inputs for r in first.registered} == {r.urn: r.inputs for r in second.registered}


def test_the_plan_shows_seaweedfs_and_who_waits_for_it(seaweed_dev):
    settings = load_settings(config_from_engine(with_store("dev", "seaweedfs")))
    markdown = plan_command.render(plan_command.read_plan("dev", settings, seaweed_dev))
    assert "| storage | seaweedfs | `chrislusf/seaweedfs:4.53` |" in markdown
    assert "object store: seaweedfs" in markdown
    lines = markdown.splitlines()
    assert "  svc_nessie --> svc_nessie_s3_identity" in lines
    assert "  svc_nessie_s3_identity --> svc_seaweedfs" in lines
    assert "`datalyptica-seaweedfs-data:/data`" in markdown
    assert "| minio |" not in markdown and "svc_minio" not in markdown


# ---- the helpers' own contract -------------------------------------------------------------------


@pytest.mark.parametrize("policy_for", [bucket_policy, seaweedfs_identity_policy], ids=["minio", "seaweedfs"])
def test_either_stores_bucket_policy_names_only_its_buckets(policy_for):
    policy = json.loads(policy_for(["a", "b"]))
    assert {r for s in policy["Statement"] for r in s["Resource"]} == {
        "arn:aws:s3:::a",
        "arn:aws:s3:::a/*",
        "arn:aws:s3:::b",
        "arn:aws:s3:::b/*",
    }


def test_admin_identities_hold_exactly_one_admin():
    [admin] = json.loads(seaweedfs_admin_identities("KEY1", "SECRET1"))["identities"]
    assert admin["credentials"] == [{"accessKey": "KEY1", "secretKey": "SECRET1"}]
    assert "Admin" in admin["actions"]


def test_the_catalog_pins_the_official_image():
    image = catalog.SERVICES["seaweedfs"].image
    assert image.startswith("chrislusf/seaweedfs:") and image.rsplit(":", 1)[1][0].isdigit()


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_the_seaweedfs_stacks_pass_every_policy(stack):
    from pulumi.runtime import config as pulumi_config

    from tests.test_policies import all_violations

    saved = dict(pulumi_config.CONFIG.get())
    pulumi_config.set_all_config(with_store(stack, "seaweedfs"))  # the pack reads the stack's config
    try:
        assert all_violations(_deployment(stack, "seaweedfs")) == []
    finally:
        pulumi_config.set_all_config(saved)


def test_adding_a_consumer_leaves_the_store_and_the_other_identities_unchanged():
    alone = run_program(with_store("dev", "seaweedfs", layers=["storage"]), stack="dev")
    more = run_program(with_store("dev", "seaweedfs", layers=["storage", "processing"]), stack="dev")
    assert set(identity_jobs(more)) - set(identity_jobs(alone)) == {"spark", "flink"}
    for name in ("seaweedfs", "seaweedfs-buckets", "nessie-s3-identity"):
        assert alone.containers()[name].inputs == more.containers()[name].inputs, name
