"""The query layer (Trino, dbt) under mocks, with the real stack files; dbt checks its own files."""

import functools
import json
import re
import subprocess
import sys
from pathlib import Path

import pulumi
import pytest
import yaml

from components import query
from harness.offline import ROOT, engine_config, run_program
from tests.secret_files import private_to
from tests.tools import dbt_list, find_dbt, parse_properties

CATALOG_DIR = "/etc/trino/catalog"


def uploads(container) -> dict[str, dict]:
    return {u["file"]: u for u in container.inputs["uploads"]}


def catalog(container, name: str) -> dict[str, str]:
    return parse_properties(uploads(container)[f"{CATALOG_DIR}/{name}.properties"]["content"])


def joined(container) -> set[str]:
    return {n["name"] for n in container.inputs["networksAdvanced"]}


@functools.cache
def _without_olap():
    return run_program(engine_config({"layers": ["storage", "query"]}))


@pytest.fixture
def without_olap():
    return _without_olap()


# ---- Trino ----------------------------------------------------------------------------------


def test_trino_follows_the_service_conventions(dev, prod):
    for deployment, memory_mb in ((dev, 2048), (prod, 12288)):
        trino = deployment.containers()["trino"]
        assert trino.inputs["name"] == "datalyptica-trino" and trino.inputs["memory"] == memory_mb
        assert trino.inputs["restart"] == "unless-stopped" and trino.inputs["wait"] is True
        chain = [r.type for r in deployment.ancestors(trino)]
        assert chain[:2] == ["datalyptica:platform:Service", "datalyptica:query:QueryLayer"]
    image = dev.named("trino-image", "docker:index/remoteImage:RemoteImage")
    assert image.inputs["name"] == "trinodb/trino:479"


def test_trino_health_check_is_the_images_own_script(dev):
    assert dev.containers()["trino"].inputs["healthcheck"]["tests"] == ["CMD", "/usr/lib/trino/bin/health-check"]


def test_trino_declares_its_metrics_and_publishes_its_port(dev, prod):
    trino = dev.containers()["trino"]
    labels = {label["label"]: label["value"] for label in trino.inputs["labels"]}
    assert (labels["datalyptica.metrics.port"], labels["datalyptica.metrics.path"]) == ("8080", "/metrics")
    assert [(p["internal"], p["external"], p["ip"]) for p in trino.inputs["ports"]] == [(8080, 8080, "127.0.0.1")]
    assert [p["ip"] for p in prod.containers()["trino"].inputs["ports"]] == ["0.0.0.0"]
    assert dev.outputs["trino_url"] == "http://localhost:8080"


def test_trino_runs_as_one_node_that_schedules_on_itself(dev):
    config = parse_properties(uploads(dev.containers()["trino"])["/etc/trino/config.properties"]["content"])
    assert config == {
        "coordinator": "true",
        "node-scheduler.include-coordinator": "true",
        "http-server.http.port": "8080",
        "discovery.uri": "http://localhost:8080",
    }


def test_iceberg_catalog_uses_nessie_and_trinos_own_minio_user(dev):
    trino = dev.containers()["trino"]
    iceberg = catalog(trino, "iceberg")
    user = dev.named("trino-s3-user", "minio:index/iamUser:IamUser")
    assert iceberg == {
        "connector.name": "iceberg",
        "iceberg.catalog.type": "nessie",
        "iceberg.nessie-catalog.uri": "http://nessie:19120/api/v2",
        "iceberg.nessie-catalog.ref": "main",
        "iceberg.nessie-catalog.default-warehouse-dir": "s3://warehouse",
        "fs.native-s3.enabled": "true",  # trinodb/trino:479; renamed fs.s3.enabled in 481
        "s3.endpoint": "http://minio:9000",
        "s3.region": "us-east-1",
        "s3.path-style-access": "true",
        "s3.aws-access-key": user.inputs["name"],
        "s3.aws-secret-key": user.inputs["secret"],
    }
    policy = json.loads(dev.named("trino-s3-policy", "minio:index/iamPolicy:IamPolicy").inputs["policy"])
    assert {r for s in policy["Statement"] for r in s["Resource"]} == {
        "arn:aws:s3:::warehouse",
        "arn:aws:s3:::warehouse/*",
        "arn:aws:s3:::landing",
        "arn:aws:s3:::landing/*",
    }


def test_postgresql_catalog_uses_trinos_own_database(dev):
    postgresql = catalog(dev.containers()["trino"], "postgresql")
    role = dev.named("trino-db-role", "postgresql:index/role:Role")
    assert dev.named("trino-database", "postgresql:index/database:Database").inputs["owner"] == "trino"
    assert postgresql == {
        "connector.name": "postgresql",
        "connection-url": "jdbc:postgresql://haproxy:5000/trino",
        "connection-user": "trino",
        "connection-password": role.inputs["password"],
    }


def test_clickhouse_catalog_only_with_the_olap_layer(dev, without_olap):
    trino = dev.containers()["trino"]
    assert catalog(trino, "clickhouse") == {
        "connector.name": "clickhouse",
        "connection-url": "jdbc:clickhouse://clickhouse:8123/",
        "connection-user": dev.outputs["clickhouse_user"],
        "connection-password": dev.outputs["clickhouse_password"],
    }
    assert "datalyptica-olap" in joined(trino)
    assert dev.containers()["clickhouse"].urn in trino.dependencies

    alone = without_olap.containers()["trino"]
    assert f"{CATALOG_DIR}/clickhouse.properties" not in uploads(alone)
    assert joined(alone) == {"datalyptica-query", "datalyptica-storage"}
    assert not without_olap.of_type("datalyptica:olap:OlapLayer")


def test_query_without_olap_registers_only_storage_and_query(without_olap):
    layers = {r.type for r in without_olap.registered if r.type.endswith("Layer")}
    assert layers == {"datalyptica:storage:StorageLayer", "datalyptica:query:QueryLayer"}
    assert {"trino", "dbt"} <= set(without_olap.containers())


def test_catalog_files_with_credentials_are_private_to_trino(dev):
    trino = dev.containers()["trino"]
    files = uploads(trino)
    for name in ("iceberg", "postgresql", "clickhouse"):
        assert f"{CATALOG_DIR}/{name}.properties" in files
        assert private_to(trino, f"{CATALOG_DIR}/{name}.properties", "1000"), name
    assert "uploads" in trino.secret_inputs() and "envs" not in trino.secret_inputs()
    for secret in dev.generated_secrets:
        assert secret not in trino.plaintext()


def test_trino_waits_for_its_own_buckets_and_database_not_whole_layers(dev):
    trino = dev.containers()["trino"]
    own = {
        dev.named(n).urn
        for n in (
            "trino-s3-user",
            "trino-s3-policy",
            "trino-s3-policy-attachment",
            "trino-db-role",
            "trino-database",
            "trino-database-revoke-public",
        )
    }
    assert own <= set(trino.dependencies)
    assert not any(dev.by_urn(urn).type.endswith("Layer") for urn in trino.dependencies)
    provisioned = [dev.named(n) for n in ("trino-s3-user", "trino-database")]
    query_layer = dev.named("query", "datalyptica:query:QueryLayer")
    assert all(query_layer in list(dev.ancestors(r)) for r in provisioned)


@pytest.mark.parametrize(
    "image,switch",
    [
        ("trinodb/trino:479", "fs.native-s3.enabled"),
        ("trinodb/trino:480", "fs.native-s3.enabled"),
        ("trinodb/trino:481", "fs.s3.enabled"),
        ("registry.local:5000/trinodb/trino:483", "fs.s3.enabled"),
    ],
)
def test_s3_switch_follows_the_pinned_release(image, switch):
    assert query.s3_switch(image) == switch


def test_an_unnumbered_trino_image_is_refused():
    with pytest.raises(pulumi.RunError, match=re.escape("services.trino.image")):
        query.s3_switch("trinodb/trino:latest")


def test_trino_image_override_changes_the_switch(deploy):
    deployment = deploy(layers=["storage", "query"], services={"trino": {"image": "trinodb/trino:481"}})
    iceberg = catalog(deployment.containers()["trino"], "iceberg")
    assert iceberg["fs.s3.enabled"] == "true" and "fs.native-s3.enabled" not in iceberg


# ---- dbt ------------------------------------------------------------------------------------


def test_dbt_is_a_job_created_not_started(dev, prod):
    for deployment in (dev, prod):
        dbt = deployment.containers()["dbt"]
        assert dbt.inputs["start"] is False and dbt.inputs["mustRun"] is False
        assert dbt.inputs["restart"] == "no" and "healthcheck" not in dbt.inputs
        assert dbt.inputs["command"] == ["dbt", "build", "--project-dir", "/usr/app/dbt", "--profiles-dir", "/etc/dbt"]
        assert joined(dbt) == {"datalyptica-query"}
    image = dev.named("dbt-image", "docker:index/remoteImage:RemoteImage")
    assert image.inputs["name"] == "ghcr.io/datalyptica/datalyptica/dbt:1.0.0"
    assert image.inputs["build"]["context"] == "images/dbt"
    assert dev.containers()["dbt"].inputs["image"] == image.outputs["imageId"]


def dbt_profile_from(deployment) -> str:
    return uploads(deployment.containers()["dbt"])["/etc/dbt/profiles.yml"]["content"]


def test_dbt_profile_points_at_trinos_iceberg_catalog(dev):
    profile = yaml.safe_load(dbt_profile_from(dev))
    project = yaml.safe_load((ROOT / "dbt" / "dbt_project.yml").read_text())
    assert set(profile) == {project["profile"]}
    chosen = profile[project["profile"]]
    assert chosen["outputs"][chosen["target"]] == {
        "type": "trino",
        "method": "none",
        "user": "dbt",
        "host": "trino",
        "port": 8080,
        "http_scheme": "http",
        "database": "iceberg",
        "schema": "analytics",
        "threads": 4,
    }


def test_dbt_project_is_uploaded_without_build_output(dev):
    files = uploads(dev.containers()["dbt"])
    project = {path for path in files if path.startswith("/usr/app/dbt/")}
    assert {
        "/usr/app/dbt/dbt_project.yml",
        "/usr/app/dbt/models/staging/stg_orders.sql",
        "/usr/app/dbt/models/staging/stg_orders.yml",
        "/usr/app/dbt/seeds/raw_orders.csv",
    } <= project
    assert not any(part in path for path in project for part in ("/target/", "/logs/", "/.gitignore"))
    assert (
        files["/usr/app/dbt/models/staging/stg_orders.sql"]["content"]
        == (ROOT / "dbt/models/staging/stg_orders.sql").read_text()
    )


def test_dbt_models_are_tables_because_nessie_stores_no_views():
    project = yaml.safe_load((ROOT / "dbt" / "dbt_project.yml").read_text())
    assert project["models"]["datalyptica"]["staging"]["+materialized"] == "table"


@pytest.fixture
def rendered_profile_dir(tmp_path) -> Path:
    (tmp_path / "profiles.yml").write_text(query.dbt_profile())
    return tmp_path


def test_dbt_parses_the_project_with_the_rendered_profile(rendered_profile_dir, tmp_path):
    nodes = dbt_list(find_dbt(), ROOT / "dbt", rendered_profile_dir, tmp_path)
    assert nodes["stg_orders"]["resource_type"] == "model" and nodes["stg_orders"]["config"]["materialized"] == "table"
    assert nodes["stg_orders"]["database"] == "iceberg" and nodes["stg_orders"]["schema"] == "analytics_staging"
    assert nodes["raw_orders"]["resource_type"] == "seed"
    tests = [n for n in nodes.values() if n["resource_type"] == "test"]
    assert {"unique_stg_orders_order_id", "not_null_stg_orders_order_id"} <= {t["name"] for t in tests}


PROFILE_AS_DBT_READS_IT = """
import json, sys
from argparse import Namespace
from dbt.config.profile import Profile, read_profile
from dbt.config.renderer import ProfileRenderer
from dbt.flags import set_from_args
set_from_args(Namespace(), None)
profile = Profile.from_raw_profiles(read_profile(sys.argv[1]), sys.argv[2], ProfileRenderer({}))
c = profile.credentials
print(json.dumps({"type": c.type, "host": c.host, "port": c.port, "database": c.database, "schema": c.schema,
                  "user": c.user, "method": str(c.method), "scheme": c.http_scheme.value, "threads": profile.threads}))
"""


def test_dbt_trino_accepts_the_rendered_profile(rendered_profile_dir, tmp_path):
    python = Path(find_dbt()).parent / "python"
    result = subprocess.run(
        [
            str(python if python.is_file() else sys.executable),
            "-c",
            PROFILE_AS_DBT_READS_IT,
            str(rendered_profile_dir),
            query.DBT_PROFILE,
        ],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
        env={"HOME": str(tmp_path)},
    )
    assert result.returncode == 0, result.stdout + result.stderr
    credentials = json.loads(result.stdout.strip().splitlines()[-1])
    assert credentials == {
        "type": "trino",
        "host": "trino",
        "port": 8080,
        "database": "iceberg",
        "schema": "analytics",
        "user": "dbt",
        "method": "none",
        "scheme": "http",
        "threads": 4,
    }


DBT_DOCKERFILE = ROOT / "images" / "dbt" / "Dockerfile"


def test_dbt_dockerfile_matches_the_program_and_the_checker():
    dockerfile = DBT_DOCKERFILE.read_text()
    assert "FROM python:3.12." in dockerfile and "-slim" in dockerfile
    install = (ROOT / ".ci" / "install.d" / "30-query.sh").read_text()
    for requirement in ("dbt-core>=1.11,<1.12", "dbt-trino>=1.11,<1.12"):
        assert requirement in dockerfile and requirement in install
    assert query.DBT_PROJECT_DIR in dockerfile and query.DBT_PROFILES_DIR in dockerfile
    assert "USER 1000" in dockerfile
