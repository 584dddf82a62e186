"""The Analytics & ML layer under mocks, with the real stack files; its rendered files are then
loaded by the programs that read them (skipped when their venvs are missing, as in
test_analytics_configs.py)."""

import ast
import functools
import json
import re

import pulumi
import pytest
import yaml

from components.analytics import AnalyticsLayer, AnalyticsUses
from components.analytics.airflow import BI_DBT_PROJECT_SOURCE
from components.analytics_configs import BI_MART_TABLE, BI_RAW_TABLE
from components.endpoints import ClickHouseEndpoint, TrinoEndpoint
from components.platform import Platform
from components.service import require_success
from components.settings import load_settings
from components.sso import OidcClient
from components.storage import StorageLayer
from components.templates import static_config
from harness.offline import engine_config, run_function, run_program
from test_analytics_configs import AIRFLOW_VENV, JUPYTERHUB_VENV, SUPERSET_VENV, load_with, write_secret_file
from tests.secret_files import private_to
from tests.tools import dbt_list, find_dbt

CONTAINER = "docker:index/container:Container"
AIRFLOW = {"airflow-apiserver", "airflow-scheduler", "airflow-dag-processor", "airflow-triggerer", "airflow-worker-1"}
SERVERS = {"redis", "jupyterhub", "mlflow", "superset"} | AIRFLOW
JOBS = {"superset-init", "airflow-init"}
ANALYTICS = SERVERS | JOBS
CONFIG_FILES = {  # service -> (path, owner) of every file holding secrets
    "redis": [("/usr/local/etc/redis/redis.conf", "999")],
    "jupyterhub": [
        (f"/srv/jupyterhub/{name}", "0")
        for name in (
            "jupyterhub_config.py",
            "secrets/proxy_auth_token",
            "secrets/cookie_secret",
            "secrets/admin_password",
        )
    ],
    "mlflow": [("/etc/mlflow/pgpass", "10001"), ("/etc/mlflow/aws-credentials", "10001")],
    "superset-init": [
        (path, "1000")
        for path in (
            "/app/pythonpath/superset_config.py",
            "/app/datalyptica/accounts.json",
            "/app/datalyptica/databases.json",
        )
    ],
    "superset": [("/app/pythonpath/superset_config.py", "1000")],
    "airflow-init": [("/opt/airflow/datalyptica/accounts.json", "50000")],
    **{
        name: [
            (f"/opt/airflow/config/{f}", "50000") for f in ("airflow.cfg", "webserver_config.py", "connections.json")
        ]
        for name in AIRFLOW | {"airflow-init"}
    },
}


def upload(container, path: str) -> str:
    return next(u for u in container.inputs["uploads"] if u["file"] == path)["content"]


def joined(container) -> set[str]:
    return {n["name"] for n in container.inputs["networksAdvanced"]}


def env(container) -> dict[str, str]:
    return dict(e.split("=", 1) for e in container.inputs.get("envs", []))


def label(container, name: str) -> str | None:
    return next((entry["value"] for entry in container.inputs["labels"] if entry["label"] == name), None)


def notebook_environment(deployment) -> dict:
    config = upload(deployment.containers()["jupyterhub"], "/srv/jupyterhub/jupyterhub_config.py")
    line = next(text for text in config.splitlines() if text.startswith("c.DockerSpawner.environment = "))
    return ast.literal_eval(line.partition(" = ")[2])


def superset_databases(deployment) -> dict[str, str]:
    return json.loads(upload(deployment.containers()["superset-init"], "/app/datalyptica/databases.json"))


def fab_accounts(deployment, job: str) -> dict[str, dict[str, str]]:
    """The accounts a Superset or Airflow init job makes (configs/fab/accounts.py), by username."""
    directory = {"superset-init": "/app/datalyptica", "airflow-init": "/opt/airflow/datalyptica"}[job]
    accounts = json.loads(upload(deployment.containers()[job], f"{directory}/accounts.json"))["accounts"]
    return {account["username"]: account for account in accounts}


def airflow_connections(deployment) -> dict:
    return json.loads(upload(deployment.containers()["airflow-scheduler"], "/opt/airflow/config/connections.json"))


@functools.cache
def _alone():
    return run_program(engine_config({"layers": ["storage", "analytics"], "protectData": False}))


@pytest.fixture
def alone():
    """Analytics with nothing but the storage layer it needs (evaluated once per session)."""
    return _alone()


# ---- services, images, sizes, ports -------------------------------------------------------------


def test_dev_registers_every_analytics_service_under_the_layer(dev):
    containers = dev.containers()
    assert set(containers) >= ANALYTICS
    for name in ANALYTICS:
        chain = [r.type for r in dev.ancestors(containers[name])]
        assert chain[:2] == ["datalyptica:platform:Service", "datalyptica:analytics:AnalyticsLayer"], name
        assert containers[name].inputs["name"] == f"datalyptica-{name}"
        assert label(containers[name], "datalyptica.layer") == "analytics"


def test_analytics_alone_with_storage(alone):
    assert (
        set(alone.containers()) - {"etcd-1", "etcd-2", "etcd-3", "patroni-1", "patroni-2", "haproxy", "minio", "nessie"}
        == ANALYTICS
    )
    layer = alone.named("analytics", "datalyptica:analytics:AnalyticsLayer")
    assert alone.children(layer)


def test_our_images_are_built_once_each_and_run_by_digest(dev):
    images = {r.inputs["name"]: r for r in dev.of_type("docker:index/remoteImage:RemoteImage") if r.inputs.get("build")}
    for name in ("jupyterhub", "jupyterlab-notebook", "mlflow", "superset", "airflow"):
        image = images[f"ghcr.io/datalyptica/datalyptica/{name}:1.0.0"]
        assert image.inputs["build"]["context"] == f"images/{name}"
    containers = dev.containers()
    for name in SERVERS - {"redis"} | JOBS:
        folder = "airflow" if name.startswith("airflow") else name.removesuffix("-init")
        image_id = images[f"ghcr.io/datalyptica/datalyptica/{folder}:1.0.0"].outputs["imageId"]
        assert containers[name].inputs["image"] == image_id
    assert containers["redis"].inputs["image"].startswith("sha256:")
    # The hub is replaced when the notebook image is rebuilt, since it spawns that image.
    notebook = images["ghcr.io/datalyptica/datalyptica/jupyterlab-notebook:1.0.0"]
    assert env(containers["jupyterhub"])["NOTEBOOK_IMAGE_ID"] == notebook.outputs["imageId"]


@pytest.mark.parametrize(
    "name,cpus,memory_mb",
    [
        ("redis", 1, 2048),
        ("jupyterhub", 2, 4096),
        ("mlflow", 2, 4096),
        ("superset", 4, 8192),
        ("airflow-apiserver", 2, 4096),
        ("airflow-scheduler", 2, 4096),
        ("airflow-worker-1", 4, 8192),
    ],
)
def test_prod_runs_the_seed_sizes(prod, name, cpus, memory_mb):
    container = prod.containers()[name]
    assert (float(container.inputs["cpus"]), container.inputs["memory"]) == (cpus, memory_mb)


def test_prod_publishes_the_seed_ports_and_hides_the_hub_api(prod):
    published = {
        name: {(p["internal"], p["external"]) for p in c.inputs.get("ports", [])}
        for name, c in prod.containers().items()
    }
    assert published["redis"] == {(6379, 6379)}
    assert published["jupyterhub"] == {(8000, 8000)}  # hub API 8081 stays inside
    assert published["mlflow"] == {(5000, 5000)}
    assert published["superset"] == {(8088, 8088)}
    assert published["airflow-apiserver"] == {(8080, 8090)}
    for name in ("airflow-scheduler", "airflow-worker-1", "superset-init", "airflow-init"):
        assert published[name] == set(), name


def test_airflow_workers_follow_the_replicas_setting(deploy):
    deployment = deploy(layers=["storage", "analytics"], services={"airflow-worker": {"replicas": 3}})
    assert {n for n in deployment.containers() if n.startswith("airflow-worker")} == {
        "airflow-worker-1",
        "airflow-worker-2",
        "airflow-worker-3",
    }


def test_health_checks_use_what_each_image_has(dev):
    checks = {name: c.inputs["healthcheck"]["tests"] for name, c in dev.containers().items() if name in SERVERS}
    assert checks["redis"][0] == "CMD-SHELL" and "REDISCLI_AUTH" in checks["redis"][1]
    assert "redis.conf" in checks["redis"][1] and "redis-cli ping" in checks["redis"][1]
    assert checks["mlflow"][1:3] == ["python", "-c"] and "urllib" in checks["mlflow"][3]  # no curl in MLflow
    assert checks["jupyterhub"][-1] == "http://localhost:8000/hub/health"
    assert checks["superset"][-1] == "http://localhost:8088/health"
    assert checks["airflow-apiserver"][-1] == "http://localhost:8080/api/v2/version"
    assert checks["airflow-scheduler"][-1] == "http://localhost:8974/health"
    assert "DagProcessorJob" in checks["airflow-dag-processor"][1]
    assert "TriggererJob" in checks["airflow-triggerer"][1]
    assert "inspect ping" in checks["airflow-worker-1"][1] and "celery@$HOSTNAME" in checks["airflow-worker-1"][1]


def test_redis_persists_with_a_password_from_its_config_file(dev):
    redis = dev.containers()["redis"]
    assert redis.inputs["command"] == ["redis-server", "/usr/local/etc/redis/redis.conf", "--appendonly", "yes"]
    assert {v["containerPath"] for v in redis.inputs["volumes"]} == {"/data"}
    conf = upload(redis, "/usr/local/etc/redis/redis.conf")
    assert f"requirepass {dev.outputs['redis_password']}\n" in conf


# ---- networks, the Docker socket ----------------------------------------------------------------


def test_notebooks_network_reaches_what_the_seed_lets_notebooks_use(dev):
    networks = {r.inputs["name"]: r for r in dev.of_type("docker:index/network:Network")}
    assert "datalyptica-notebooks" in networks
    containers = dev.containers()
    on_notebooks = {name for name, c in containers.items() if "datalyptica-notebooks" in joined(c)}
    # Trino and Spark join too once their layers deploy them (catalog.SHARED_NETWORKS).
    assert {"jupyterhub", "haproxy", "minio", "nessie", "mlflow"} <= on_notebooks
    assert not on_notebooks & {"redis", "superset", "patroni-1", "etcd-1", *AIRFLOW}
    assert "network_name = 'datalyptica-notebooks'" in upload(
        containers["jupyterhub"], "/srv/jupyterhub/jupyterhub_config.py"
    ).replace('"', "'")


def test_notebook_containers_and_volumes_carry_the_stacks_prefix(deploy):
    """Two stacks on one Docker host spawn `<prefix>-jupyter-<user>`, each with its own volumes."""
    config = upload(
        deploy(layers=["storage", "analytics"], prefix="team-b").containers()["jupyterhub"],
        "/srv/jupyterhub/jupyterhub_config.py",
    )
    assert "c.DockerSpawner.prefix = 'team-b-jupyter'" in config
    assert "c.DockerSpawner.volumes = {'team-b-jupyter-home-{username}': '/home/jovyan/work'}" in config


def test_no_notebooks_network_without_the_analytics_layer(deploy):
    storage_only = deploy(layers=["storage"])
    assert "datalyptica-notebooks" not in {
        r.inputs["name"] for r in storage_only.of_type("docker:index/network:Network")
    }
    assert "datalyptica-notebooks" not in joined(storage_only.containers()["haproxy"])


def test_only_jupyterhub_gets_the_docker_socket(dev):
    for name, container in dev.containers().items():
        binds = {v.get("hostPath") for v in container.inputs.get("volumes", [])} - {None}
        assert binds == ({"/var/run/docker.sock"} if name == "jupyterhub" else set()), name


# ---- databases, buckets, secrets ----------------------------------------------------------------


def test_each_service_has_its_own_database_and_role(dev):
    for name in ("jupyterhub", "mlflow", "superset", "airflow", "analytics"):
        role = next(r for r in dev.of_type("postgresql:index/role:Role") if r.inputs["name"] == name)
        database = next(d for d in dev.of_type("postgresql:index/database:Database") if d.inputs["name"] == name)
        assert database.inputs["owner"] == name and "password" in role.secret_inputs()


def test_mlflow_artifacts_bucket_with_mlflows_own_user(dev):
    assert "mlflow-artifacts" in {b.inputs["bucket"] for b in dev.of_type("minio:index/s3Bucket:S3Bucket")}
    policy = json.loads(dev.named("mlflow-s3-policy", "minio:index/iamPolicy:IamPolicy").inputs["policy"])
    assert {r for s in policy["Statement"] for r in s["Resource"]} == {
        "arn:aws:s3:::mlflow-artifacts",
        "arn:aws:s3:::mlflow-artifacts/*",
    }
    mlflow = dev.containers()["mlflow"]
    own = {dev.named(n).urn for n in ("mlflow-db-role", "mlflow-database", "mlflow-s3-user", "mlflow-artifacts-bucket")}
    assert own <= set(mlflow.dependencies)


def test_mlflow_command_proxies_artifacts_and_holds_no_password(dev):
    mlflow = dev.containers()["mlflow"]
    command = mlflow.inputs["command"]
    assert (
        command[command.index("--backend-store-uri") + 1]
        == "postgresql://mlflow@haproxy:5000/mlflow?connect_timeout=10"
    )
    assert "--serve-artifacts" in command
    assert command[command.index("--artifacts-destination") + 1] == "s3://mlflow-artifacts"
    allowed = command[command.index("--allowed-hosts") + 1].split(",")
    assert {"mlflow:5000", "localhost:5000"} <= set(allowed)
    variables = env(mlflow)
    assert variables["PGPASSFILE"] == "/etc/mlflow/pgpass"
    assert variables["AWS_SHARED_CREDENTIALS_FILE"] == "/etc/mlflow/aws-credentials"
    assert variables["MLFLOW_S3_ENDPOINT_URL"] == "http://minio:9000"
    assert upload(mlflow, "/etc/mlflow/pgpass").startswith("haproxy:5000:mlflow:mlflow:")


def test_no_generated_secret_appears_in_plain_text(prod, alone):
    for deployment in (prod, alone):
        assert deployment.generated_secrets
        assert deployment.plaintext_leaks() == []


def test_secrets_reach_containers_as_files_private_to_the_service_user(dev):
    containers = dev.containers()
    for name, files in CONFIG_FILES.items():
        for path, owner in files:
            assert private_to(containers[name], path, owner), (name, path)
        assert "uploads" in containers[name].secret_inputs(), name
        assert "envs" not in containers[name].secret_inputs(), f"{name} has a secret in its environment"


def test_airflow_containers_share_one_config_and_jwt_secret(dev):
    containers = dev.containers()
    configs = {upload(containers[name], "/opt/airflow/config/airflow.cfg") for name in AIRFLOW | {"airflow-init"}}
    assert len(configs) == 1
    [config] = configs
    assert "jwt_secret = " in config and "backend = airflow.secrets.local_filesystem.LocalFilesystemBackend" in config
    assert all(env(containers[name])["AIRFLOW_CONFIG"] == "/opt/airflow/config/airflow.cfg" for name in AIRFLOW)
    volumes = {
        name: {v["containerPath"]: v["volumeName"] for v in containers[name].inputs["volumes"]} for name in AIRFLOW
    }
    assert len({json.dumps(v, sort_keys=True) for v in volumes.values()}) == 1  # dags, logs, plugins shared
    assert set(volumes["airflow-scheduler"]) == {"/opt/airflow/dags", "/opt/airflow/logs", "/opt/airflow/plugins"}


def test_analytics_secrets_are_generated_with_the_strength_asked(dev):
    generated = {r.name: r.inputs for r in dev.of_type("random:index/randomPassword:RandomPassword")}
    for name in (
        "jupyterhub-proxy-auth-token",
        "jupyterhub-cookie-secret",
        "superset-secret-key",
        "airflow-secret-key",
        "airflow-jwt-secret",
    ):  # 32 bytes as hex: 64 characters of 0-9a-f
        assert generated[name]["length"] == 64 and generated[name]["overrideSpecial"] == "abcdef", name
        assert not generated[name]["upper"] and not generated[name]["lower"], name
    # A Fernet key: 42 characters of URL-safe base64 (252 bits), then "A=" (components/secrets.py).
    assert (
        generated["airflow-fernet-key"]["length"] == 42 and generated["airflow-fernet-key"]["overrideSpecial"] == "-_"
    )
    cookie = upload(dev.containers()["jupyterhub"], "/srv/jupyterhub/secrets/cookie_secret")
    assert len(cookie) == 64 and int(cookie, 16) >= 0


# ---- init before serve ------------------------------------------------------------------------


def test_init_jobs_run_to_completion_before_the_servers_are_created(dev):
    containers = dev.containers()
    for job in JOBS:
        inputs = containers[job].inputs
        assert (inputs["attach"], inputs["mustRun"], inputs["restart"]) == (True, False, "no"), job
        assert "healthcheck" not in inputs and inputs["command"][0] == "bash"
    assert containers["superset-init"].urn in containers["superset"].dependencies
    assert label(containers["superset"], "datalyptica.after.superset-init") == "0"
    for name in AIRFLOW:
        assert containers["airflow-init"].urn in containers[name].dependencies, name
        assert label(containers[name], "datalyptica.after.airflow-init") == "0", name
    superset_init = upload(containers["superset-init"], "/app/datalyptica/init.sh")
    accounts = 'python "$here/accounts.py"'
    assert (
        superset_init.index("\nsuperset db upgrade")
        < superset_init.index("\nsuperset init")
        < superset_init.index(accounts)
    )
    airflow_init = upload(containers["airflow-init"], "/opt/airflow/datalyptica/init.sh")
    assert airflow_init.index("\nairflow db migrate") < airflow_init.index(accounts)


def test_init_jobs_take_passwords_from_files_never_from_a_command_line(dev):
    """`ps` shows every process's arguments to the whole host: the scripts the init jobs run are
    the files under configs/ as they are, and the passwords reach them in 0400 JSON files."""
    containers = dev.containers()
    for job, directory in (("superset-init", "/app/datalyptica"), ("airflow-init", "/opt/airflow/datalyptica")):
        app = job.removesuffix("-init")
        assert upload(containers[job], f"{directory}/init.sh") == static_config(f"{app}/init.sh"), job
        assert upload(containers[job], f"{directory}/accounts.py") == static_config("fab/accounts.py"), job
        assert containers[job].inputs["command"] == ["bash", f"{directory}/init.sh"], job
    assert fab_accounts(dev, "superset-init")["admin"]["password"] == dev.outputs["superset_admin_password"]
    assert fab_accounts(dev, "airflow-init")["admin"]["password"] == dev.outputs["airflow_admin_password"]
    assert {a["role"] for a in fab_accounts(dev, "airflow-init").values()} == {"Admin"}


def test_a_failed_init_job_stops_the_deployment():
    with pytest.raises(Exception, match="datalyptica-superset-init exited with 3"):
        run_program(
            engine_config({"layers": ["storage", "analytics"]}), job_exit_codes={"datalyptica-superset-init": 3}
        )
    assert require_success("job", 0) == "0"
    with pytest.raises(RuntimeError, match="docker logs job"):
        require_success("job", None)


# ---- links to the other layers ------------------------------------------------------------------


def test_superset_registers_the_databases_of_enabled_layers_only(dev, alone):
    assert set(superset_databases(dev)) == {"Trino", "ClickHouse", "PostgreSQL"}
    assert superset_databases(dev)["Trino"] == "trino://superset@trino:8080/iceberg"
    clickhouse = superset_databases(dev)["ClickHouse"]  # the olap layer's generated admin login
    assert clickhouse.startswith("clickhousedb://admin-") and clickhouse.endswith("@clickhouse:8123/default")
    assert {"datalyptica-olap", "datalyptica-query"} <= joined(dev.containers()["superset"])
    assert set(superset_databases(alone)) == {"PostgreSQL"}
    assert superset_databases(alone)["PostgreSQL"].startswith("postgresql+psycopg2://analytics:")


def test_notebooks_get_the_services_of_enabled_layers_only(dev, alone):
    full, minimal = notebook_environment(dev), notebook_environment(alone)
    assert full["TRINO_URL"] == "http://trino:8080" and full["SPARK_MASTER"] == "spark://spark-master:7077"
    for variables in (full, minimal):
        assert variables["MLFLOW_TRACKING_URI"] == "http://mlflow:5000"
        assert variables["AWS_ENDPOINT_URL"] == "http://minio:9000"
        assert variables["NESSIE_URI"] == "http://nessie:19120/api/v2"
        assert (variables["PGHOST"], variables["PGPORT"], variables["PGDATABASE"]) == ("haproxy", "5000", "analytics")
    assert "TRINO_URL" not in minimal and "SPARK_MASTER" not in minimal
    policy = json.loads(alone.named("notebooks-s3-policy", "minio:index/iamPolicy:IamPolicy").inputs["policy"])
    assert {r for s in policy["Statement"] for r in s["Resource"]} >= {"arn:aws:s3:::warehouse", "arn:aws:s3:::landing"}


def test_airflow_connections_follow_the_enabled_layers(dev, alone):
    always = {"mlflow_default", "aws_default", "postgres_default", "superset_default"}
    with_layers = {"trino_default", "spark_default", "spark_connect_default", "kafka_default"}
    with_layers |= {"schema_registry_default", "cdc_default"}
    assert set(airflow_connections(dev)) == always | with_layers
    superset = airflow_connections(dev)["superset_default"]
    assert (superset["host"], superset["port"], superset["login"]) == ("superset", 8088, "airflow")
    airflow_login = fab_accounts(dev, "superset-init")["airflow"]
    assert (airflow_login["role"], airflow_login["password"]) == ("Alpha", superset["password"])
    assert set(airflow_connections(alone)) == always
    assert airflow_connections(dev)["spark_default"] == {
        "conn_type": "spark",
        "host": "spark://spark-master",
        "port": 7077,
    }


def test_airflow_dags_reach_the_shared_database_and_the_lake_by_path(alone):
    connections = airflow_connections(alone)
    shared = alone.named("analytics-data-db-role", "postgresql:index/role:Role").inputs
    assert connections["postgres_default"] == {
        "conn_type": "postgres",
        "host": "haproxy",
        "port": 5000,
        "login": shared["name"],
        "password": shared["password"],
        "schema": "analytics",
    }
    assert connections["aws_default"]["extra"]["config_kwargs"] == {"s3": {"addressing_style": "path"}}


def test_the_init_job_ships_the_sample_dag_into_the_shared_dags_volume(alone):
    containers = alone.containers()
    dag = upload(containers["airflow-init"], "/opt/airflow/dags/datalyptica_sample_etl.py")
    compile(dag, "datalyptica_sample_etl.py", "exec")  # Airflow's DAG processor parses it as Python
    assert "LANDING_BUCKET = 'landing'" in dag and 'postgres_conn_id="postgres_default"' in dag

    def dags_volume(name: str) -> str:
        [volume] = [
            v["volumeName"] for v in containers[name].inputs["volumes"] if v["containerPath"] == "/opt/airflow/dags"
        ]
        return volume

    for name in ("airflow-scheduler", "airflow-dag-processor", "airflow-worker-1"):
        assert dags_volume(name) == dags_volume("airflow-init")


def test_jupyterhub_limits_notebooks_by_the_notebook_settings(prod):
    config = upload(prod.containers()["jupyterhub"], "/srv/jupyterhub/jupyterhub_config.py")
    assert "c.DockerSpawner.cpu_limit = 2" in config
    assert "c.DockerSpawner.mem_limit = '4096M'" in config
    assert "c.JupyterHub.active_server_limit = 5" in config
    assert "c.DockerSpawner.image = 'ghcr.io/datalyptica/datalyptica/jupyterlab-notebook:1.0.0'" in config


@functools.cache
def _linked():
    def program():
        import pulumi_docker as docker

        platform = Platform(load_settings({"layers": ["storage", "query", "olap", "analytics"], "protectData": False}))
        storage = StorageLayer(platform)
        storage.open_lake()
        query = docker.Network("query-network", name="datalyptica-query")
        olap = docker.Network("olap-network", name="datalyptica-olap")
        sso = {
            ui: OidcClient(
                ui,
                pulumi.Output.secret(f"{ui}-client-secret"),
                "http://localhost:8280/realms/datalyptica",
                "http://keycloak:8080/realms/datalyptica",
            )
            for ui in ("jupyterhub", "superset", "airflow")
        }
        AnalyticsLayer(
            platform,
            storage,
            AnalyticsUses(
                trino=TrinoEndpoint("trino", 8080, (query,), (), iceberg_catalog="iceberg"),
                clickhouse=ClickHouseEndpoint(
                    "clickhouse",
                    8123,
                    (olap,),
                    (),
                    native_port=9000,
                    user=pulumi.Output.secret("default"),
                    password=pulumi.Output.secret("ch-password"),
                ),
                spark=None,
                sso=sso,
            ),
        )

    return run_function(program, engine_config({}))


@pytest.fixture
def linked():
    """The layer given real links: other layers' networks, a ClickHouse login and Keycloak clients."""
    return _linked()


def test_given_links_decide_networks_logins_and_sso(linked):
    containers = linked.containers()
    assert "datalyptica-query" in joined(containers["superset"]) and "datalyptica-query" in joined(
        containers["airflow-scheduler"]
    )
    assert "datalyptica-query" not in joined(containers["redis"])
    assert superset_databases(linked)["ClickHouse"] == "clickhousedb://default:ch-password@clickhouse:8123/default"
    assert "spark_default" not in airflow_connections(linked)
    hub = upload(containers["jupyterhub"], "/srv/jupyterhub/jupyterhub_config.py")
    assert "generic-oauth" in hub and "jupyterhub-client-secret" in hub
    assert "superset-client-secret" in upload(containers["superset"], "/app/pythonpath/superset_config.py")
    assert "airflow-client-secret" in upload(containers["airflow-apiserver"], "/opt/airflow/config/webserver_config.py")


# ---- stack outputs --------------------------------------------------------------------------------


def test_outputs_give_each_ui_and_its_secret_admin_login(dev):
    assert dev.outputs["jupyterhub_url"] == "http://localhost:8000"
    assert dev.outputs["mlflow_url"] == "http://localhost:5000"
    assert dev.outputs["superset_url"] == "http://localhost:8088"
    assert dev.outputs["airflow_url"] == "http://localhost:8090"
    logins = [f"{ui}_admin_{part}" for ui in ("jupyterhub", "superset", "airflow") for part in ("user", "password")]
    assert dev.not_secret_or_empty(*logins) == []
    assert "redis_password" in dev.secret_outputs


# ---- the files the layer renders, loaded by the programs that read them ---------------------------


def test_jupyterhub_loads_the_layers_config_and_its_admin_logs_in(alone, tmp_path):
    """Without the security layer the hub keeps local logins: its generated admin must get in."""
    hub = alone.containers()["jupyterhub"]
    for name in ("proxy_auth_token", "cookie_secret", "admin_password"):
        write_secret_file(tmp_path / name, upload(hub, f"/srv/jupyterhub/secrets/{name}"))
    config = upload(hub, "/srv/jupyterhub/jupyterhub_config.py").replace("/srv/jupyterhub/secrets/", f"{tmp_path}/")
    config_file = write_secret_file(tmp_path / "jupyterhub_config.py", config)
    loaded = load_with(
        JUPYTERHUB_VENV, "load_jupyterhub_config.py", str(config_file), alone.outputs["jupyterhub_admin_password"]
    )

    assert loaded["unrecognized"] == []
    assert loaded["admin_login"] == "admin"
    assert loaded["network_name"] == "datalyptica-notebooks"
    assert (loaded["hub_connect_ip"], loaded["hub_port"]) == ("jupyterhub", 8081)
    assert loaded["active_server_limit"] == 2 and loaded["cpu_limit"] == 1
    assert loaded["authenticate_prometheus"] is False  # Prometheus scrapes /hub/metrics
    assert loaded["db"]["database"] == "jupyterhub" and loaded["db"]["host"] == "haproxy"
    assert loaded["proxy_auth_token"] == upload(hub, "/srv/jupyterhub/secrets/proxy_auth_token")
    assert loaded["environment"] == notebook_environment(alone)


def test_superset_loads_the_layers_config(dev, tmp_path):
    init = dev.containers()["superset-init"]
    config_file = write_secret_file(tmp_path / "superset_config.py", upload(init, "/app/pythonpath/superset_config.py"))
    variables = {"SUPERSET_CONFIG_PATH": str(config_file), "SUPERSET_HOME": str(tmp_path)}
    loaded = load_with(SUPERSET_VENV, "load_superset_config.py", env=variables)
    assert (loaded["db"]["host"], loaded["db"]["database"]) == ("haproxy", "superset")
    assert loaded["celery"]["broker_url"].startswith("redis://:") and loaded["celery"]["broker_url"].endswith(
        "@redis:6379/1"
    )


def test_airflow_loads_the_layers_config(dev, tmp_path):
    init = dev.containers()["airflow-init"]
    for name in ("webserver_config.py", "connections.json"):
        write_secret_file(tmp_path / name, upload(init, f"/opt/airflow/config/{name}"))
    config = upload(init, "/opt/airflow/config/airflow.cfg").replace("/opt/airflow/config/", f"{tmp_path}/")
    config_file = write_secret_file(tmp_path / "airflow.cfg", config)
    (tmp_path / "home").mkdir()
    variables = {"AIRFLOW_CONFIG": str(config_file), "AIRFLOW_HOME": str(tmp_path / "home")}
    loaded = load_with(AIRFLOW_VENV, "load_airflow_config.py", env=variables)
    assert loaded["executor"] == "CeleryExecutor" and loaded["fernet_round_trip"] == "ok"
    assert loaded["broker_url"].endswith("@redis:6379/0")
    assert set(loaded["connections"]) == {
        "mlflow_default",
        "aws_default",
        "postgres_default",
        "trino_default",
        "spark_default",
        "spark_connect_default",
        "superset_default",
        "kafka_default",
        "schema_registry_default",
        "cdc_default",
    }
    assert loaded["connections"]["kafka_default"]["extra"] == {"bootstrap.servers": "kafka-1:19092"}
    assert loaded["connections"]["schema_registry_default"]["extra"] == {"url": "http://schema-registry:8081"}
    cdc = loaded["connections"]["cdc_default"]
    assert (cdc["host"], cdc["port"], cdc["schema"], cdc["login"]) == ("haproxy", 5000, "cdc", "cdc")
    spark_connect = loaded["connections"]["spark_connect_default"]
    assert (spark_connect["host"], spark_connect["port"], spark_connect["login"]) == ("spark-connect", 15002, "airflow")
    assert loaded["connections"]["aws_default"]["extra"]["endpoint_url"] == "http://minio:9000"
    assert loaded["task_heartbeat_timeout"] == 60
    assert loaded["worker_concurrency"] == 5  # dev's worker has 1536m


def test_airflow_parses_the_dags_the_platform_ships(dev, tmp_path):
    dags = tmp_path / "dags"
    dags.mkdir()
    for dag_id in ("datalyptica_sample_etl", "datalyptica_ml_pipeline", "datalyptica_bi_dashboard"):
        (dags / f"{dag_id}.py").write_text(upload(dev.containers()["airflow-init"], f"/opt/airflow/dags/{dag_id}.py"))
    (tmp_path / "home").mkdir()
    parsed = load_with(AIRFLOW_VENV, "load_airflow_dag.py", str(dags), env={"AIRFLOW_HOME": str(tmp_path / "home")})
    assert parsed["import_errors"] == {}
    dag = parsed["dags"]["datalyptica_sample_etl"]
    assert dag["schedule"] == "NullTimetable"  # runs only when triggered
    assert dag["params"] == {"rows": 24, "hold_seconds": 0}
    assert dag["tasks"] == {"extract": {"retries": 2, "downstream": ["load"]}, "load": {"retries": 2, "downstream": []}}
    ml = parsed["dags"]["datalyptica_ml_pipeline"]
    assert ml["schedule"] == "NullTimetable" and ml["params"] == {"inject_bad_row": False}
    assert ml["tasks"] == {
        "features": {"retries": 1, "downstream": ["train"]},
        "train": {"retries": 1, "downstream": ["predict"]},
        "predict": {"retries": 1, "downstream": ["publish", "validate"]},
        "validate": {"retries": 0, "downstream": ["publish"]},  # a failed validation fails the run at once
        "publish": {"retries": 1, "downstream": []},
    }
    bi = parsed["dags"]["datalyptica_bi_dashboard"]
    assert bi["schedule"] == "NullTimetable" and bi["params"] == {"orders": 300, "shop_orders": 40}
    assert bi["tasks"] == {
        "produce": {"retries": 1, "downstream": ["land"]},
        "shop": {"retries": 1, "downstream": ["land"]},
        "land": {"retries": 1, "downstream": ["transform"]},
        "transform": {"retries": 1, "downstream": ["publish"]},
        "publish": {"retries": 1, "downstream": []},
    }


def shipped_files(deploy, layers: list[str]) -> set[str]:
    init = deploy(layers=layers, protectData=False).containers()["airflow-init"]
    return {u["file"] for u in init.inputs["uploads"] if u["file"].startswith("/opt/airflow/dags/")}


def test_the_ml_pipeline_ships_only_with_spark_and_trino(deploy):
    def shipped(layers: list[str]) -> bool:
        return "/opt/airflow/dags/datalyptica_ml_pipeline.py" in shipped_files(deploy, layers)

    assert shipped(["storage", "processing", "query", "analytics"])
    assert not shipped(["storage", "query", "analytics"]) and not shipped(["storage", "processing", "analytics"])


def test_the_bi_dashboard_ships_with_its_dbt_project_only_with_kafka_and_trino(deploy):
    files = shipped_files(deploy, ["storage", "streaming", "query", "analytics"])
    project = "/opt/airflow/dags/datalyptica_bi_dashboard_dbt"
    assert {
        "/opt/airflow/dags/datalyptica_bi_dashboard.py",
        f"{project}/dbt_project.yml",
        f"{project}/models/sources.yml",
        f"{project}/models/staging/stg_order_events.sql",
        f"{project}/models/marts/mart_daily_orders.sql",
    } <= files
    for without in (["storage", "query", "analytics"], ["storage", "streaming", "analytics"]):
        assert not any("bi_dashboard" in path for path in shipped_files(deploy, without)), without


def test_the_bi_dashboards_dbt_project_parses_into_staging_and_mart_schemas(tmp_path):
    profile = {"type": "trino", "method": "none", "user": "airflow", "host": "trino", "port": 8080}
    profile |= {"database": "iceberg", "schema": "bi", "threads": 2}  # as the DAG's transform writes it
    outputs = {"datalyptica_bi_dashboard": {"target": "airflow", "outputs": {"airflow": profile}}}
    (tmp_path / "profiles.yml").write_text(yaml.safe_dump(outputs))
    nodes = dbt_list(find_dbt(), BI_DBT_PROJECT_SOURCE, tmp_path, tmp_path)
    # The tables the DAG lands in and Superset charts are the ones dbt reads and builds.
    raw_schema, raw_table = BI_RAW_TABLE.split(".")
    mart_schema, mart_table = BI_MART_TABLE.split(".")
    assert nodes[raw_table]["resource_type"] == "source" and nodes[raw_table]["schema"] == raw_schema
    assert nodes[mart_table]["resource_type"] == "model" and nodes[mart_table]["schema"] == mart_schema
    assert nodes["stg_order_events"]["schema"] == "bi_staging"
    assert {n["config"]["materialized"] for n in nodes.values() if n["resource_type"] == "model"} == {"table"}
    tests = {n["name"] for n in nodes.values() if n["resource_type"] == "test"}
    assert {"unique_stg_order_events_order_id", "source_unique_bi_raw_order_events_event_id"} <= tests


def test_a_celery_worker_runs_as_many_tasks_at_once_as_its_memory_holds(deploy):
    from components.analytics.airflow import airflow_worker_concurrency

    assert [airflow_worker_concurrency(mb) for mb in (512, 1024, 1152, 1536, 4096, 8192)] == [1, 2, 3, 5, 16, 16]
    config = upload(
        deploy(layers=["storage", "analytics"], services={"airflow-worker": {"memory": "2g"}}).containers()[
            "airflow-worker-1"
        ],
        "/opt/airflow/config/airflow.cfg",
    )
    assert "worker_concurrency = 7" in config


def test_mlflow_runs_as_many_workers_as_its_memory_holds(dev):
    """MLflow's default of 4 workers took 921 MiB at idle on the stand-in, past dev's limit."""
    from components.analytics.mlflow import MLFLOW_WORKERS

    command = dev.containers()["mlflow"].inputs["command"]
    assert command[command.index("--workers") + 1] == str(MLFLOW_WORKERS)
    assert dev.containers()["mlflow"].inputs["memory"] >= 300 * MLFLOW_WORKERS


def test_every_postgresql_client_gives_up_on_a_connection_after_a_timeout(dev):
    """A connection opened while the leader is killed must not wait for ever (components/pgha.py)."""
    containers = dev.containers()
    rendered = {
        "airflow": upload(containers["airflow-scheduler"], "/opt/airflow/config/airflow.cfg"),
        "superset": upload(containers["superset"], "/app/pythonpath/superset_config.py"),
        "jupyterhub": upload(containers["jupyterhub"], "/srv/jupyterhub/jupyterhub_config.py"),
        "mlflow": " ".join(containers["mlflow"].inputs["command"]),
    }
    for service, text in rendered.items():
        urls = re.findall(r"postgresql[+a-z0-9]*://\S+", text)
        assert urls and all("connect_timeout=10" in url for url in urls), (service, urls)
    assert notebook_environment(dev)["PGCONNECT_TIMEOUT"] == "10"
