"""Airflow 3 with the Celery executor: an init job (migrations, first admin, the sample DAG), then
the API server, scheduler, DAG processor, triggerer and the Celery workers, all on one config."""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pulumi
import pulumi_docker as docker

from components import analytics_configs as configs
from components import secrets
from components.analytics.superset import SUPERSET_AIRFLOW_USER, SUPERSET_PORT, SUPERSET_TRINO_DATABASE
from components.endpoints import DatabaseAccess, Endpoint
from components.service import File, HealthCheck, InitJob, Lifecycle, Port, Server, Service, ServiceArgs, Timing
from components.settings import ServiceSettings
from components.templates import CONFIGS_DIR

if TYPE_CHECKING:
    from components.analytics import AnalyticsLayer, AnalyticsUses

AIRFLOW_API_PORT = 8080
AIRFLOW_SCHEDULER_HEALTH_PORT = 8974
AIRFLOW_UID = "50000"
AIRFLOW_HOME = "/opt/airflow"
AIRFLOW_CONFIG = f"{AIRFLOW_HOME}/config/airflow.cfg"
AIRFLOW_WEBSERVER_CONFIG = f"{AIRFLOW_HOME}/config/webserver_config.py"
AIRFLOW_CONNECTIONS = f"{AIRFLOW_HOME}/config/connections.json"
AIRFLOW_INIT_DIR = f"{AIRFLOW_HOME}/datalyptica"  # the init job's scripts and the files they read
AIRFLOW_DAGS_FOLDER = f"{AIRFLOW_HOME}/dags"  # a volume every Airflow container shares
AIRFLOW_SAMPLE_DAG = f"{AIRFLOW_DAGS_FOLDER}/{configs.SAMPLE_DAG_ID}.py"
AIRFLOW_ML_DAG = f"{AIRFLOW_DAGS_FOLDER}/{configs.ML_DAG_ID}.py"
AIRFLOW_BI_DAG = f"{AIRFLOW_DAGS_FOLDER}/{configs.BI_DAG_ID}.py"
AIRFLOW_BI_DBT_PROJECT = f"{AIRFLOW_DAGS_FOLDER}/{configs.BI_DBT_PROJECT}"
BI_DBT_PROJECT_SOURCE = CONFIGS_DIR / "airflow" / "bi_dashboard_dbt"
AIRFLOW_GX_PYTHON = "/home/airflow/gx-venv/bin/python"  # Great Expectations' own environment (images/airflow)
AIRFLOW_DBT = "/home/airflow/dbt-venv/bin/dbt"  # dbt's own environment (images/airflow)
AIRFLOW_TRINO_USER = "airflow"  # Trino has no authentication here: the name labels Airflow's queries
AIRFLOW_SPARK_USER = "airflow"  # Spark Connect's user id for Airflow's sessions (the token authenticates)
SPARK_CONNECT_CONNECTION = "spark_connect_default"
CDC_CONNECTION = "cdc_default"
SCHEMA_REGISTRY_CONNECTION = "schema_registry_default"
# A Celery worker of Airflow measured 521 MiB idle and 166 MiB more per running task (the sample
# DAG, on the stand-in): it runs as many tasks at once as its memory holds with that much each,
# where Airflow's default of 16 would be killed for memory below about 3.5 GiB.
AIRFLOW_WORKER_IDLE_MB = 544
AIRFLOW_TASK_MB = 192
# Each of these checks starts Airflow's CLI, which imports all of Airflow: 16 s measured at
# 0.25 CPU, past Docker's 5 s default timeout (the upstream compose file allows 10 s).
CLI_CHECK: Timing = {"interval": "30s", "timeout": "30s", "start_period": "60s"}
JOBS_CHECK = 'airflow jobs check --job-type {} --hostname "$HOSTNAME"'
CELERY_PING = 'celery --app airflow.providers.celery.executors.celery_executor.app inspect ping -d "celery@$HOSTNAME"'


def airflow_worker_concurrency(memory_mb: int) -> int:
    """Tasks one Celery worker with `memory_mb` runs at once (1 to Airflow's default of 16)."""
    return max(1, min(16, (memory_mb - AIRFLOW_WORKER_IDLE_MB) // AIRFLOW_TASK_MB))


def connections(layer: "AnalyticsLayer") -> tuple[pulumi.Output[str], tuple[pulumi.Resource, ...]]:
    """Connections Airflow's DAGs use (MLflow, S3 and the shared analytics database always,
    Trino, Spark and Kafka with their layers), and the resources they need: Airflow's own bucket user
    on the lake, and the shared database's role."""
    uses = layer.uses
    storage = layer.storage.endpoints
    shared = layer.shared_data
    bucket = layer.storage.buckets("airflow", [storage.warehouse_bucket, storage.landing_bucket], parent=layer)
    fixed: dict[str, dict[str, object]] = {
        "mlflow_default": {"conn_type": "http", "host": layer.mlflow.host, "port": layer.mlflow.port}
    }
    if uses.trino:
        fixed["trino_default"] = {
            "conn_type": "trino",
            "host": uses.trino.host,
            "port": uses.trino.port,
            "login": AIRFLOW_TRINO_USER,
            "schema": uses.trino.iceberg_catalog,
        }
    if uses.kafka:
        fixed["kafka_default"] = {"conn_type": "kafka", "extra": {"bootstrap.servers": uses.kafka.bootstrap_servers}}
        # Its own connection: an unknown key in kafka_default's extra would fail the Kafka provider's client.
        fixed[SCHEMA_REGISTRY_CONNECTION] = {"conn_type": "http", "extra": {"url": uses.kafka.schema_registry_url}}
    if uses.spark:
        fixed["spark_default"] = {"conn_type": "spark", "host": f"spark://{uses.spark.host}", "port": uses.spark.port}
    spark_connect_token = uses.spark_connect.token if uses.spark_connect else ""
    cdc = uses.kafka.cdc if uses.kafka else None
    rendered = pulumi.Output.all(
        bucket.access_key,
        bucket.secret_key,
        shared.password,
        spark_connect_token,
        layer.superset_airflow_password,
        cdc.database.password if cdc else "",
    ).apply(
        lambda keys: configs.render_airflow_connections(
            {
                **fixed,
                **spark_connect_connection(uses, keys[3]),
                **({CDC_CONNECTION: postgres_connection(cdc.database, keys[5])} if cdc else {}),
                "superset_default": {
                    "conn_type": "http",
                    "host": layer.superset.host,
                    "port": SUPERSET_PORT,
                    "login": SUPERSET_AIRFLOW_USER,
                    "password": keys[4],
                },
                "aws_default": {
                    "conn_type": "aws",
                    "login": keys[0],
                    "password": keys[1],
                    "extra": {
                        "endpoint_url": storage.s3_endpoint,
                        "region_name": storage.s3_region,
                        # Buckets by path: the object store's name has no per-bucket DNS names.
                        "config_kwargs": {"s3": {"addressing_style": "path"}},
                    },
                },
                "postgres_default": postgres_connection(shared, keys[2]),
            }
        )
    )
    return rendered, (*bucket.resources, *shared.resources, *(cdc.database.resources if cdc else ()))


def postgres_connection(database: DatabaseAccess, password: str) -> dict[str, object]:
    """A database as its owner logs in: `postgres_default` (the shared analytics database) and
    `cdc_default` (the database Debezium captures, where the BI dashboard's sample shop writes)."""
    return {
        "conn_type": "postgres",
        "host": database.host,
        "port": database.port,
        "login": database.username,
        "password": password,
        "schema": database.database,
    }


def spark_connect_connection(uses: "AnalyticsUses", token: str) -> dict[str, dict[str, object]]:
    """`spark_connect_default`, the token as its password. DAGs open a session with
    `datalyptica_spark.session()` (images/airflow), which sends the token over the server's plain
    gRPC; the Spark provider's own hook would put it in the URL, where pyspark demands TLS."""
    if not uses.spark_connect:
        return {}
    endpoint = uses.spark_connect
    return {
        SPARK_CONNECT_CONNECTION: {
            "conn_type": "spark_connect",
            "host": endpoint.host,
            "port": endpoint.port,
            "login": AIRFLOW_SPARK_USER,
            "password": token,
        }
    }


def config_files(
    layer: "AnalyticsLayer", database: pulumi.Output[configs.PostgresDatabase]
) -> tuple[list[File], tuple[pulumi.Resource, ...]]:
    """One config, one JWT secret, one Fernet key for every Airflow container, and the
    connections file; with the resources the connections need."""
    values = pulumi.Output.all(
        secrets.fernet_key("airflow-fernet-key", parent=layer),
        secrets.hex_token("airflow-secret-key", parent=layer),
        secrets.hex_token("airflow-jwt-secret", parent=layer),
        database,
        layer.redis_server(),
        layer.oidc("airflow"),
    )
    cfg = values.apply(
        lambda v: configs.AirflowConfig(
            fernet_key=v[0],
            secret_key=v[1],
            jwt_secret=v[2],
            database=v[3],
            redis=v[4],
            oidc=v[5],
            api_port=AIRFLOW_API_PORT,
            scheduler_health_port=AIRFLOW_SCHEDULER_HEALTH_PORT,
            execution_api_server_url=f"http://airflow-apiserver:{AIRFLOW_API_PORT}/execution/",
            airflow_home=AIRFLOW_HOME,
            webserver_config_path=AIRFLOW_WEBSERVER_CONFIG,
            connections_file=AIRFLOW_CONNECTIONS,
            worker_concurrency=airflow_worker_concurrency(layer.spec("airflow-worker").memory_mb),
        )
    )
    rendered_connections, connection_resources = connections(layer)
    files = [
        File(AIRFLOW_CONFIG, cfg.apply(configs.render_airflow_config), secret=True, owner=AIRFLOW_UID),
        File(
            AIRFLOW_WEBSERVER_CONFIG, cfg.apply(configs.render_airflow_webserver_config), secret=True, owner=AIRFLOW_UID
        ),
        File(AIRFLOW_CONNECTIONS, rendered_connections, secret=True, owner=AIRFLOW_UID),
    ]
    return files, connection_resources


@dataclass(frozen=True)
class Airflow:
    """What every Airflow container shares: its files, the dags/logs/plugins volumes, the endpoints it uses."""

    layer: "AnalyticsLayer"
    files: Sequence[File]
    shared_volumes: Mapping[str, docker.Volume]
    uses: Sequence[Endpoint]

    def service(
        self,
        name: str,
        spec: ServiceSettings,
        lifecycle: Lifecycle,
        command: Sequence[str],
        *,
        extra_files: Sequence[File] = (),
        env: Mapping[str, str] | None = None,
        ports: Sequence[Port] = (),
        after: Sequence[Service] = (),
        depends_on: Sequence[pulumi.Resource] = (),
    ) -> Service:
        return self.layer.service(
            name,
            ServiceArgs(
                spec=spec,
                lifecycle=lifecycle,
                networks=[self.layer.network],
                uses=self.uses,
                command=command,
                env={"AIRFLOW_CONFIG": AIRFLOW_CONFIG, **(env or {})},
                files=[*self.files, *extra_files],
                shared_volumes=self.shared_volumes,
                ports=ports,
                after=after,
                depends_on=depends_on,
            ),
        )


def services(layer: "AnalyticsLayer") -> tuple[Service, list[Service]]:
    """The init job, and the long-running components after it."""
    database, plain_database = layer.database("airflow")
    files, connection_resources = config_files(layer, plain_database)
    shared_volumes = {
        f"{AIRFLOW_HOME}/{folder}": layer.platform.volume(f"airflow-{folder}", parent=layer)
        for folder in ("dags", "logs", "plugins")
    }
    only_airflow = [endpoint for endpoint in (layer.uses.spark_connect, layer.uses.kafka) if endpoint is not None]
    airflow = Airflow(layer, files, shared_volumes, [database, *layer.uses.endpoints(), *only_airflow])
    init = init_job(airflow, depends_on=[*connection_resources, *layer.redis.resources])
    return init, servers(airflow, init)


def init_job(airflow: Airflow, *, depends_on: Sequence[pulumi.Resource]) -> Service:
    """Migrations, the first admin, and the sample DAG: the init job writes it into the shared
    dags volume (a changed DAG replaces the job, which writes it again); the DAGs users add beside
    it are theirs."""
    layer = airflow.layer
    accounts = layer.airflow_admin_password.apply(lambda pw: configs.render_fab_accounts(layer.admin(pw)))
    sample_dag = File(
        AIRFLOW_SAMPLE_DAG, configs.render_airflow_sample_dag(layer.storage.endpoints.landing_bucket), owner=AIRFLOW_UID
    )
    return airflow.service(
        "airflow-init",
        layer.spec("airflow-apiserver").init_job("airflow-init"),
        InitJob(),
        ["bash", f"{AIRFLOW_INIT_DIR}/init.sh"],
        extra_files=[
            *layer.fab_init_files("airflow", AIRFLOW_INIT_DIR, accounts, AIRFLOW_UID),
            sample_dag,
            *workflow_dags(layer),
        ],
        depends_on=depends_on,
    )


def workflow_dags(layer: "AnalyticsLayer") -> list[File]:
    """The seed's workflows, each shipped when the layers it runs through are deployed: the ML
    pipeline needs Spark (through Spark Connect) and Trino, the BI dashboard Kafka with its CDC
    database and Trino (its dbt project ships beside it)."""
    uses = layer.uses
    shipped: list[File] = []
    if uses.spark_connect and uses.trino:
        ml_dag = configs.render_airflow_ml_dag(
            trino_user=AIRFLOW_TRINO_USER, gx_python=AIRFLOW_GX_PYTHON, superset_database=SUPERSET_TRINO_DATABASE
        )
        shipped.append(File(AIRFLOW_ML_DAG, ml_dag, owner=AIRFLOW_UID))
    if uses.kafka and uses.kafka.cdc and uses.trino:
        bi_dag = configs.render_airflow_bi_dag(
            trino_user=AIRFLOW_TRINO_USER,
            dbt=AIRFLOW_DBT,
            superset_database=SUPERSET_TRINO_DATABASE,
            shop_topic=uses.kafka.cdc.change_topic(configs.BI_SHOP_TABLE),
        )
        shipped.append(File(AIRFLOW_BI_DAG, bi_dag, owner=AIRFLOW_UID))
        shipped.extend(File.tree(BI_DBT_PROJECT_SOURCE, AIRFLOW_BI_DBT_PROJECT))
    return shipped


def servers(airflow: Airflow, init: Service) -> list[Service]:
    """The API server, scheduler, DAG processor, triggerer and the Celery workers, after `init`."""
    spec = airflow.layer.spec

    def server(name: str, check: HealthCheck, command: list[str], ports: Sequence[Port] = ()) -> Service:
        return airflow.service(name, spec(name), Server(check), command, ports=ports, after=[init])

    components = [
        server(
            "airflow-apiserver",
            HealthCheck.curl(f"http://localhost:{AIRFLOW_API_PORT}/api/v2/version"),
            ["api-server"],
            ports=[Port("airflow", AIRFLOW_API_PORT)],
        ),
        server(
            "airflow-scheduler",
            HealthCheck.curl(f"http://localhost:{AIRFLOW_SCHEDULER_HEALTH_PORT}/health"),
            ["scheduler"],
        ),
        server(
            "airflow-dag-processor",
            HealthCheck.shell(JOBS_CHECK.format("DagProcessorJob"), **CLI_CHECK),
            ["dag-processor"],
        ),
        server("airflow-triggerer", HealthCheck.shell(JOBS_CHECK.format("TriggererJob"), **CLI_CHECK), ["triggerer"]),
    ]
    worker = spec("airflow-worker")
    components += [
        airflow.service(
            f"airflow-worker-{i}",
            worker,
            Server(HealthCheck.shell(CELERY_PING, **CLI_CHECK)),
            ["celery", "worker"],
            env={"DUMB_INIT_SETSID": "0"},
            after=[init],
        )
        for i in range(1, worker.replicas + 1)
    ]
    return components
