"""The storage layer under mocks, with the real stack files."""

import json

import pulumi
import pytest
import yaml

from components.platform import Platform
from components.privileges import DROPPED_CAPABILITIES
from components.service import HealthCheck, Server, Service, ServiceArgs
from components.settings import load_settings
from components.storage import StorageLayer
from harness.offline import engine_config, run_function
from tests.secret_files import private_to
from tests.tools import registered_before_refusal

STORAGE_SERVICES = {"etcd-1", "etcd-2", "etcd-3", "patroni-1", "patroni-2", "haproxy", "minio", "nessie"}
CONTAINER = "docker:index/container:Container"


def upload(container, path: str) -> dict:
    return next(u for u in container.inputs["uploads"] if u["file"] == path)


def labels(container) -> dict:
    return {label["label"]: label["value"] for label in container.inputs["labels"]}


def test_dev_registers_the_storage_layer(dev):
    layer = dev.named("storage", "datalyptica:storage:StorageLayer")
    containers = dev.containers()
    assert set(containers) >= STORAGE_SERVICES
    for name in STORAGE_SERVICES:
        container = containers[name]
        chain = [r.type for r in dev.ancestors(container)]
        assert chain[:2] == ["datalyptica:platform:Service", "datalyptica:storage:StorageLayer"], name
        assert container.inputs["name"] == f"datalyptica-{name}"
        assert labels(container)["datalyptica.layer"] == "storage"
    assert dev.children(layer)


def test_storage_alone_registers_nothing_else(deploy):
    only_storage = deploy(layers=["storage"])
    layer = only_storage.named("storage", "datalyptica:storage:StorageLayer")
    for resource in only_storage.registered:
        if resource is not layer and resource.type != "pulumi:providers:docker":  # the stack's one, Platform.docker
            assert layer in list(only_storage.ancestors(resource)), f"{resource.type} {resource.name} outside storage"
    assert set(only_storage.containers()) == STORAGE_SERVICES


def test_every_container_follows_the_service_conventions(dev):
    for name, container in dev.containers().items():
        inputs = container.inputs
        if name in STORAGE_SERVICES:
            assert inputs["healthcheck"]["tests"][0] in ("CMD", "CMD-SHELL"), name
            assert inputs["restart"] == "unless-stopped", name
            assert inputs["wait"] is True and inputs["waitTimeout"] > 60, name
            assert inputs["memory"] > 0 and float(inputs["cpus"]) > 0, name
            assert inputs["image"].startswith("sha256:") or "@sha256:" in inputs["image"], name
        assert container.delete_before_replace, name
        assert "tmpfs" in container.replace_on_changes, name
        assert {network.get("aliases", [None])[0] for network in inputs["networksAdvanced"]} == {name}


def test_health_checks_use_tools_the_images_have(dev):
    checks = dev.health_checks()
    assert checks["minio"][1:] == ["mc", "ready", "local"]  # no curl in MinIO since 2023
    assert checks["etcd-1"][1:] == ["etcdctl", "endpoint", "health"]
    assert checks["patroni-1"][1] == "curl" and checks["patroni-1"][-1] == "http://localhost:8008/health"
    assert checks["nessie"][1] == "bash" and "/q/health/ready" in checks["nessie"][-1]
    assert checks["haproxy"][1] == "bash" and "/dev/tcp/127.0.0.1/7000" in checks["haproxy"][-1]


def test_networks_are_segmented(dev):
    networks = {r.inputs["name"]: r for r in dev.of_type("docker:index/network:Network")}
    assert networks["datalyptica-postgres-ha"].inputs["internal"] is True
    containers = dev.containers()

    def joined(name):
        return {n["name"] for n in containers[name].inputs["networksAdvanced"]}

    for backend in ("etcd-1", "patroni-1", "patroni-2"):
        assert joined(backend) == {"datalyptica-postgres-ha"}, backend
    assert {"datalyptica-postgres-ha", "datalyptica-storage"} <= joined("haproxy")
    assert "datalyptica-postgres-ha" not in joined("minio") | joined("nessie")


def test_dev_publishes_on_loopback_and_prod_on_every_interface(dev, prod):
    for name, container in dev.containers().items():
        for port in container.inputs.get("ports", []):
            assert port["ip"] == "127.0.0.1", name
    haproxy = prod.containers()["haproxy"].inputs["ports"]
    assert {(p["internal"], p["external"], p["ip"]) for p in haproxy} == {
        (5000, 5432, "0.0.0.0"),
        (5001, 5433, "0.0.0.0"),
        (7000, 7000, "0.0.0.0"),
    }


def test_data_volumes_are_protected_on_prod_only(dev, prod):
    for deployment, protected in ((dev, False), (prod, True)):
        volumes = deployment.of_type("docker:index/volume:Volume")
        assert {v.inputs["name"] for v in volumes} >= {
            "datalyptica-minio-data",
            "datalyptica-patroni-1-data",
            "datalyptica-etcd-1-data",
        }
        for volume in volumes:
            assert volume.protect is protected and volume.retain_on_delete is protected, volume.name
        for kind in ("postgresql:index/database:Database", "minio:index/s3Bucket:S3Bucket"):
            for resource in deployment.of_type(kind):
                assert resource.protect is protected, resource.name


def test_generated_secrets_are_protected_with_the_data_they_unlock(dev, prod):
    """`pulumi destroy --exclude-protected` keeps the data; a new password, Fernet key or Kafka
    cluster id on the next `pulumi up` would lock the platform out of it."""
    for deployment, protected in ((dev, False), (prod, True)):
        generated = [r for r in deployment.registered if r.type.startswith("random:")]
        assert {r.name for r in generated} >= {"kafka-cluster-id", "postgres-superuser-password"}
        for resource in generated:
            assert resource.protect is protected and resource.retain_on_delete is protected, resource.name


def test_patroni_runs_synchronous_replication_with_logical_wal(dev):
    config = yaml.safe_load(upload(dev.containers()["patroni-1"], "/etc/patroni/patroni.yml")["content"])
    dcs = config["bootstrap"]["dcs"]
    assert dcs["synchronous_mode"] is True
    assert dcs["postgresql"]["parameters"]["wal_level"] == "logical"
    assert config["etcd3"]["hosts"] == ["etcd-1:2379", "etcd-2:2379", "etcd-3:2379"]


def test_patroni_socket_directory_starts_empty_at_every_start(dev):
    """A stale socket lock file kept PostgreSQL from starting after a kill (see pgha.IMAGE_SOCKET_DIR)."""
    for node in ("patroni-1", "patroni-2"):
        config = yaml.safe_load(upload(dev.containers()[node], "/etc/patroni/patroni.yml")["content"])
        socket_dir = config["postgresql"]["parameters"]["unix_socket_directories"]
        assert dev.containers()[node].inputs["tmpfs"] == {socket_dir: "uid=999,gid=999,mode=3777"}


def test_haproxy_routes_by_patroni_rest_checks(dev):
    config = upload(dev.containers()["haproxy"], "/usr/local/etc/haproxy/haproxy.cfg")["content"]
    assert "/primary" in config and "/replica" in config
    assert "bind *:5000" in config or ":5000" in config
    assert "use-service prometheus-exporter if { path /metrics }" in config


def test_prometheus_scrapes_haproxy_on_its_stats_port(dev):
    haproxy = labels(dev.containers()["haproxy"])
    assert (haproxy["datalyptica.metrics.port"], haproxy["datalyptica.metrics.path"]) == ("7000", "/metrics")


def test_no_generated_credential_appears_in_plain_text_anywhere_in_the_stack(dev):
    assert dev.generated_secrets
    assert dev.plaintext_leaks() == []


def test_credentials_reach_containers_as_private_files_not_env(dev):
    containers = dev.containers()
    for name, path, owner in (
        ("minio", "/etc/minio/config.env", "0"),
        ("patroni-1", "/etc/patroni/patroni.yml", "999"),
        ("nessie", "/etc/nessie/application.properties", "10000"),
    ):
        assert private_to(containers[name], path, owner), name
        assert "uploads" in containers[name].secret_inputs(), name
    for name, container in containers.items():
        assert "envs" not in container.secret_inputs(), f"{name} has a secret in its environment"


def test_nessie_keeps_its_catalog_in_postgres_and_its_warehouse_on_minio(dev):
    properties = upload(dev.containers()["nessie"], "/etc/nessie/application.properties")["content"]
    assert "nessie.version.store.type=JDBC2" in properties
    assert "jdbc:postgresql://haproxy:5000/nessie" in properties
    assert "nessie.catalog.warehouses.warehouse.location=s3://warehouse/" in properties
    assert "default-options.endpoint=http://minio:9000/" in properties


def test_nessie_reads_its_s3_keys_from_a_secret_outside_its_own_config_mappings(dev):
    """Nessie refuses unknown keys under nessie.* at start (SRCFG00050): the secret it names by
    URN must be defined under a prefix of ours, and be the one the URN names."""
    properties = dict(
        line.split("=", 1)
        for line in upload(dev.containers()["nessie"], "/etc/nessie/application.properties")["content"].splitlines()
        if line and not line.startswith("#")
    )
    urn = properties["nessie.catalog.service.s3.default-options.access-key"]
    secret = urn.removeprefix("urn:nessie-secret:quarkus:")
    assert not secret.startswith("nessie.")
    assert {f"{secret}.name", f"{secret}.secret"} <= set(properties)
    assert not [key for key in properties if key.startswith("nessie.") and ".secrets." in key]


def test_nessie_gets_its_own_database_role_and_bucket_user(dev):
    role = dev.named("nessie-db-role", "postgresql:index/role:Role")
    database = dev.named("nessie-database", "postgresql:index/database:Database")
    assert role.inputs["login"] is True and role.inputs["name"] == "nessie"
    assert "password" in role.secret_inputs()
    assert database.inputs["owner"] == "nessie"
    revoke = dev.named("nessie-database-revoke-public", "postgresql:index/grant:Grant")
    assert revoke.inputs["role"] == "public" and revoke.inputs["privileges"] == []
    user = dev.named("nessie-s3-user", "minio:index/iamUser:IamUser")
    assert "secret" in user.secret_inputs()
    policy = json.loads(dev.named("nessie-s3-policy", "minio:index/iamPolicy:IamPolicy").inputs["policy"])
    resources = {r for statement in policy["Statement"] for r in statement["Resource"]}
    assert resources == {"arn:aws:s3:::warehouse", "arn:aws:s3:::warehouse/*"}


def test_lake_buckets_exist(dev):
    buckets = {b.inputs["bucket"] for b in dev.of_type("minio:index/s3Bucket:S3Bucket")}
    assert {"warehouse", "landing"} <= buckets


def test_admin_providers_connect_through_the_published_ports(dev):
    postgres = dev.of_type("pulumi:providers:postgresql")[0]
    assert (postgres.inputs["host"], postgres.inputs["port"]) == ("localhost", "5432")
    assert "password" in postgres.secret_inputs()
    haproxy = dev.containers()["haproxy"]
    assert haproxy.urn in postgres.dependencies
    minio_provider = dev.of_type("pulumi:providers:minio")[0]
    assert minio_provider.inputs["minioServer"] == "localhost:9000"


def test_stack_outputs_give_endpoints_and_secret_admin_credentials(dev):
    assert dev.outputs["postgres_primary_url"] == "postgresql://localhost:5432"
    assert dev.outputs["minio_console_url"] == "http://localhost:9001"
    assert dev.outputs["nessie_url"] == "http://localhost:19120/api/v2"
    assert dev.not_secret_or_empty("minio_root_user", "minio_root_password", "postgres_superuser_password") == []


# ---- a made-up consumer, to show how every later layer uses the provisioning ---------------


class Consumer(pulumi.ComponentResource):
    def __init__(self, name: str, platform: Platform, storage: StorageLayer):
        super().__init__("datalyptica:test:Consumer", name)
        database = storage.database(name, parent=self)
        buckets = storage.buckets(name, [f"{name}-files"], parent=self)
        self.service = Service(
            name,
            ServiceArgs(
                spec=platform.settings.service("redis"),
                lifecycle=Server(HealthCheck.command("true")),
                uses=[database, buckets],
            ),
            platform,
            opts=pulumi.ResourceOptions(parent=self),
        )


@pytest.fixture
def two_consumers():
    def program():
        platform = Platform(load_settings({"layers": ["storage", "analytics"], "protectData": False}))
        storage = StorageLayer(platform)
        storage.open_lake()
        Consumer("alpha", platform, storage)
        Consumer("beta", platform, storage)

    return run_function(program, engine_config({}))


def test_a_consumer_depends_on_its_own_database_and_buckets_not_the_layer(two_consumers):
    deployment = two_consumers
    alpha = next(c for c in deployment.of_type(CONTAINER) if c.inputs["hostname"] == "alpha")
    own = {
        deployment.named(n).urn
        for n in (
            "alpha-db-role",
            "alpha-database",
            "alpha-database-revoke-public",
            "alpha-s3-user",
            "alpha-s3-policy",
            "alpha-files-bucket",
        )
    }
    assert own <= set(alpha.dependencies)
    others = {deployment.named(n).urn for n in ("beta-database", "nessie-database", "storage")}
    assert not others & set(alpha.dependencies)
    assert all(deployment.by_urn(urn).type != "datalyptica:storage:StorageLayer" for urn in alpha.dependencies)


def test_consumer_provisioning_lives_under_the_consumer(two_consumers):
    consumer = two_consumers.named("alpha", "datalyptica:test:Consumer")
    kinds = {r.type for r in two_consumers.children(consumer)}
    assert {
        "postgresql:index/role:Role",
        "postgresql:index/database:Database",
        "minio:index/iamUser:IamUser",
        "minio:index/iamPolicy:IamPolicy",
        "minio:index/s3Bucket:S3Bucket",
    } <= kinds


# ---- refusals happen before anything is registered -----------------------------------------


@pytest.mark.parametrize(
    "config,key",
    [
        ({"layers": ["storage", "lakehouse"]}, "datalyptica:layers"),
        ({"layers": ["analytics"]}, "datalyptica:layers"),
        ({"ports": {"grafana": 9000}}, "datalyptica:ports"),
        ({"services": {"minio": {"memory": "lots"}}}, "datalyptica:services.minio.memory"),
        ({"services": {"kafka": {"replicas": -2}}}, "datalyptica:services.kafka.replicas"),
        ({"ports": {"postgres-primary": None}}, "datalyptica:ports.postgres-primary"),
        ({"ports": {"minio": None}}, "datalyptica:ports.minio"),
        ({"ports": {"keycloak": None}}, "datalyptica:ports.keycloak"),
    ],
)
def test_bad_config_stops_the_program_before_any_resource(config, key):
    assert registered_before_refusal(config, key.replace(".", r"\.")) == []


def test_every_container_gives_up_on_an_unknown_name_within_seconds(dev):
    """A crashed peer's name vanishes from Docker's DNS; glibc's defaults then wait 20 s for the
    host's resolvers (no route from an internal network): see DNS_OPTIONS in components/service.py."""
    from components.service import DNS_OPTIONS

    for name, container in dev.containers().items():
        assert container.inputs["dnsOpts"] == list(DNS_OPTIONS), name
    assert "timeout:1" in DNS_OPTIONS


def test_every_container_runs_with_no_new_privileges_and_without_unused_capabilities(dev, prod):
    for deployment in (dev, prod):
        for name, container in deployment.containers().items():
            assert container.inputs["securityOpts"] == ["no-new-privileges:true"], name
            assert container.inputs["capabilities"] == {"drops": list(DROPPED_CAPABILITIES)}, name
    assert {"CAP_NET_RAW", "CAP_MKNOD", "CAP_SYS_CHROOT"} <= set(DROPPED_CAPABILITIES)
    # What the images that start as root need to hand over their data and switch to their user.
    assert not {"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FOWNER", "CAP_SETGID", "CAP_SETUID"} & set(DROPPED_CAPABILITIES)
