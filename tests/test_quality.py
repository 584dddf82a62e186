"""The quality layer (Great Expectations) under mocks; GX itself loads the gx/ project."""

import functools
import json
import shutil
import subprocess
from pathlib import Path

import yaml

from components import quality, query
from harness.offline import ROOT, engine_config, run_program
from tests.required_tools import missing_tool
from tests.tools import GX_VENV

GX = ROOT / "gx"
TRINO_URL = "trino://great-expectations@trino:8080/iceberg"


@functools.cache
def _quality_without_olap():
    return run_program(engine_config({"layers": ["storage", "query", "quality"]}))


def job(deployment):
    return deployment.containers()["great-expectations"]


def envs(container) -> dict[str, str]:
    return dict(e.split("=", 1) for e in container.inputs["envs"])


def test_quality_needs_only_storage_and_query():
    deployment = _quality_without_olap()
    layers = {r.type for r in deployment.registered if r.type.endswith("Layer")}
    assert layers == {
        "datalyptica:storage:StorageLayer",
        "datalyptica:query:QueryLayer",
        "datalyptica:quality:QualityLayer",
    }
    assert "great-expectations" in deployment.containers()


def test_great_expectations_is_a_job_created_not_started(dev, prod):
    for deployment in (dev, prod):
        container = job(deployment)
        inputs = container.inputs
        assert inputs["name"] == "datalyptica-great-expectations"
        assert inputs["start"] is False and inputs["mustRun"] is False and inputs["restart"] == "no"
        assert "healthcheck" not in inputs and not inputs.get("ports")
        assert inputs["command"] == ["python", "/usr/app/gx/run_checkpoint.py", "stg_orders"]
        chain = [r.type for r in deployment.ancestors(container)]
        assert chain[:2] == ["datalyptica:platform:Service", "datalyptica:quality:QualityLayer"]
    assert job(dev).inputs["memory"] == 512 and job(prod).inputs["memory"] == 2048


def test_the_job_reaches_trino_only(dev):
    container = job(dev)
    assert [n["name"] for n in container.inputs["networksAdvanced"]] == ["datalyptica-query"]
    assert envs(container) == {"GX_TRINO_URL": TRINO_URL}
    assert dev.containers()["trino"].urn in container.dependencies


def test_the_job_runs_our_built_image(dev):
    image = dev.named("great-expectations-image", "docker:index/remoteImage:RemoteImage")
    assert image.inputs["name"] == "ghcr.io/datalyptica/datalyptica/great-expectations:1.0.0"
    assert image.inputs["build"]["context"] == "images/great-expectations"


def test_no_secret_reaches_the_job_in_plain_text(dev):
    container = job(dev)
    for secret in dev.generated_secrets:
        assert secret not in container.plaintext()


def test_the_project_is_uploaded_as_it_is_in_the_repo(dev):
    uploads = {u["file"]: u for u in job(dev).inputs["uploads"]}
    expected = {
        f"/usr/app/gx/{p.relative_to(GX).as_posix()}"
        for p in GX.rglob("*")
        if p.is_file() and not p.name.startswith(".") and "uncommitted" not in p.parts
    }
    assert set(uploads) == expected
    assert {
        "/usr/app/gx/great_expectations.yml",
        "/usr/app/gx/checkpoints/stg_orders.json",
        "/usr/app/gx/expectations/stg_orders.json",
        "/usr/app/gx/run_checkpoint.py",
    } <= set(uploads)
    for path, upload in uploads.items():
        assert upload["content"] == (GX / path.removeprefix("/usr/app/gx/")).read_text(), path
        assert upload["permissions"] == "0444", path


def project_config() -> dict:
    return yaml.safe_load((GX / "great_expectations.yml").read_text())


def test_the_datasource_reads_its_connection_from_the_environment():
    trino = project_config()["fluent_datasources"]["trino"]
    assert trino["type"] == "sql" and trino["connection_string"] == "${GX_TRINO_URL}"


def test_the_checked_table_is_the_one_dbt_builds():
    asset = project_config()["fluent_datasources"]["trino"]["assets"]["stg_orders"]
    dbt_project = yaml.safe_load((ROOT / "dbt" / "dbt_project.yml").read_text())
    staging_schema = dbt_project["models"]["datalyptica"]["staging"]["+schema"]
    assert (asset["type"], asset["table_name"]) == ("table", "stg_orders")
    assert asset["schema_name"] == f"{query.DBT_SCHEMA}_{staging_schema}"  # dbt's default schema naming
    model = (ROOT / "dbt" / "models" / "staging" / "stg_orders.sql").read_text()
    suite = json.loads((GX / "expectations" / "stg_orders.json").read_text())
    for expectation in suite["expectations"]:
        if "column" in expectation["kwargs"]:
            assert expectation["kwargs"]["column"] in model, expectation["type"]


def test_checkpoint_validation_definition_and_suite_refer_to_each_other():
    datasource = project_config()["fluent_datasources"]["trino"]
    asset = datasource["assets"]["stg_orders"]
    suite = json.loads((GX / "expectations" / "stg_orders.json").read_text())
    definition = json.loads((GX / "validation_definitions" / "stg_orders.json").read_text())
    checkpoint = json.loads((GX / "checkpoints" / f"{quality.CHECKPOINT}.json").read_text())
    assert checkpoint["validation_definitions"] == [{"id": definition["id"], "name": definition["name"]}]
    assert definition["suite"] == {"id": suite["id"], "name": suite["name"]}
    assert definition["data"]["datasource"] == {"id": datasource["id"], "name": "trino"}
    assert definition["data"]["asset"] == {"id": asset["id"], "name": "stg_orders"}
    batch_name, batch = next(iter(asset["batch_definitions"].items()))
    assert definition["data"]["batch_definition"] == {"id": batch["id"], "name": batch_name}


GX_LOADS_THE_PROJECT = """
import json, sys, warnings
warnings.simplefilter("ignore")
import great_expectations as gx
context = gx.get_context(context_root_dir=sys.argv[1])
checkpoint = context.checkpoints.get(sys.argv[2])
definition = checkpoint.validation_definitions[0]
engine = context.data_sources.get("trino").get_engine()  # builds the engine; connects to nothing
print(json.dumps({
    "context": type(context).__name__,
    "suite": definition.suite.name, "expectations": len(definition.suite.expectations),
    "asset": [definition.asset.schema_name, definition.asset.table_name],
    "batch_definition": definition.batch_definition.name,
    "url": engine.url.render_as_string(hide_password=False), "dialect": engine.dialect.name,
}))
"""


def test_great_expectations_loads_the_project_with_the_jobs_environment(dev, tmp_path):
    python = GX_VENV / "bin" / "python"
    if not python.is_file():
        missing_tool("Great Expectations not installed (run .ci/install.d/35-quality.sh)")
    project = tmp_path / "gx"
    shutil.copytree(GX, project, ignore=shutil.ignore_patterns("uncommitted", "plugins", "__pycache__"))
    result = subprocess.run(
        [str(python), "-c", GX_LOADS_THE_PROJECT, str(project), quality.CHECKPOINT],
        capture_output=True,
        text=True,
        timeout=180,
        cwd=tmp_path,
        env={"HOME": str(tmp_path), "GX_ANALYTICS_ENABLED": "false", **envs(job(dev))},
    )
    assert result.returncode == 0, result.stdout + result.stderr
    loaded = json.loads(result.stdout.strip().splitlines()[-1])
    suite = json.loads((GX / "expectations" / "stg_orders.json").read_text())
    assert loaded == {
        "context": "FileDataContext",
        "suite": "stg_orders",
        "expectations": len(suite["expectations"]),
        "asset": ["analytics_staging", "stg_orders"],
        "batch_definition": "whole table",
        "url": TRINO_URL,
        "dialect": "trino",
    }


GX_DOCKERFILE = ROOT / "images" / "great-expectations" / "Dockerfile"


def test_great_expectations_dockerfile_matches_the_program_and_the_checker():
    dockerfile = GX_DOCKERFILE.read_text()
    install = (ROOT / ".ci" / "install.d" / "35-quality.sh").read_text()
    assert "FROM python:3.12." in dockerfile and "-slim" in dockerfile
    for requirement in ("great_expectations>=1.11,<1.12", "trino[sqlalchemy]>=0.330,<1"):
        assert requirement in dockerfile and requirement in install
    assert quality.GX_PROJECT_DIR in dockerfile and "USER 1000" in dockerfile
    assert Path(quality.GX_PROJECT_DIR, "run_checkpoint.py").as_posix() in dockerfile
