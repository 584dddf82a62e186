"""The config files of the Analytics & ML layer, rendered from plain values.

The AnalyticsLayer resolves its secret Outputs first (`Output.all(...).apply`) and calls these
functions inside the apply; nothing here imports Pulumi, so the config tests load exactly what a
deployment uploads with the programs that read it. Every rendered file holds secrets: deliver it
as a container upload with mode 0400, never as environment variables (visible to `docker inspect`).

    jupyterhub_config.py  render_jupyterhub_config(JupyterHubConfig)   -> /srv/jupyterhub/jupyterhub_config.py
    superset_config.py    render_superset_config(SupersetConfig)       -> SUPERSET_CONFIG_PATH
    airflow.cfg           render_airflow_config(AirflowConfig)         -> AIRFLOW_CONFIG
    webserver_config.py   render_airflow_webserver_config(AirflowConfig) -> AirflowConfig.webserver_config_path
    connections.json      render_airflow_connections({...})            -> AirflowConfig.connections_file
    sample DAG            render_airflow_sample_dag(landing_bucket)    -> dags/<SAMPLE_DAG_ID>.py
    init accounts         render_fab_accounts(admin, service_users)    -> the init jobs' accounts.json
    Superset's sources    render_superset_databases({name: uri})        -> superset-init's databases.json
    redis.conf            render_redis_config(password)
    .pgpass, AWS creds    render_pgpass(PostgresDatabase), render_aws_credentials(key, secret)

Values are quoted for the file's language here (Python literals via repr, `%` doubled for
Airflow's ConfigParser, URL parts percent-encoded), so any generated password is safe.
"""

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from urllib.parse import quote

from components.pgha import CLIENT_CONNECT_TIMEOUT_SECONDS, CLIENT_URL_QUERY
from components.privileges import DROPPED_CAPABILITIES, SECURITY_OPTIONS
from components.templates import render

# One Redis (the seed's `redis:6379`) serves Airflow's and Superset's Celery and Superset's caches.
# Two Celery apps on one database would take each other's tasks, so the databases are allotted here.
AIRFLOW_BROKER_DB = 0
SUPERSET_BROKER_DB = 1
SUPERSET_CELERY_RESULTS_DB = 2
SUPERSET_CACHE_DB = 3
SUPERSET_DATA_CACHE_DB = 4
SUPERSET_SQLLAB_RESULTS_DB = 5


@dataclass(frozen=True)
class PostgresDatabase:
    """A database and its owner's credentials, as reached through HAProxy (`haproxy:5000`)."""

    database: str
    user: str
    password: str
    host: str = "haproxy"
    port: int = 5000

    def url(self, scheme: str = "postgresql+psycopg2") -> str:
        """A SQLAlchemy URL (libpq's connect timeout as a query); user and password percent-encoded."""
        return (
            f"{scheme}://{quote(self.user, safe='')}:{quote(self.password, safe='')}"
            f"@{self.host}:{self.port}/{quote(self.database, safe='')}"
            f"{CLIENT_URL_QUERY}"
        )


@dataclass(frozen=True)
class RedisServer:
    """The layer's shared Redis; `password` None means Redis runs without AUTH (the seed's setup)."""

    host: str = "redis"
    port: int = 6379
    password: str | None = None

    def url(self, db: int) -> str:
        auth = f":{quote(self.password, safe='')}@" if self.password else ""
        return f"redis://{auth}{self.host}:{self.port}/{db}"


# The realm's groups (its `groups` claim, names not paths; components/security.py makes them):
# a member of the admins' group is each UI's admin, one of the users' group its normal user.
ADMINS_GROUP = "platform-admins"
USERS_GROUP = "platform-users"
GROUPS_CLAIM = "groups"  # the claim of userinfo holding them (Flask-AppBuilder reads this very name)

# What each Flask-AppBuilder UI makes of those groups at every login (AUTH_ROLES_MAPPING). A user in
# neither keeps the UI's registration role: Superset's Gamma, Airflow's Viewer.
SUPERSET_GROUP_ROLES = {ADMINS_GROUP: ("Admin",), USERS_GROUP: ("Alpha", "sql_lab")}
AIRFLOW_GROUP_ROLES = {ADMINS_GROUP: ("Admin",), USERS_GROUP: ("User",)}


@dataclass(frozen=True)
class OidcClient:
    """A Keycloak OIDC client a UI logs its users in with.

    `realm_url` is how the service's container reaches the realm (e.g.
    `http://keycloak:8080/realms/datalyptica`) for tokens, keys and user info;
    `browser_realm_url` is how a user's browser reaches it for the login page, when different.
    """

    realm_url: str
    client_id: str
    client_secret: str
    browser_realm_url: str | None = None

    def endpoint(self, name: str, *, for_browser: bool = False) -> str:
        """`auth`, `token`, `userinfo`, `certs` or `logout` under the realm's OIDC protocol path."""
        base = (self.browser_realm_url or self.realm_url) if for_browser else self.realm_url
        return f"{base.rstrip('/')}/protocol/openid-connect/{name}"


@dataclass(frozen=True)
class AdminUser:
    """A UI's first administrator, created by its init job with a generated password."""

    username: str
    password: str
    email: str
    first_name: str = "Platform"
    last_name: str = "Admin"


@dataclass(frozen=True)
class ServiceUser:
    """A login one product gives another (Superset's for Airflow's DAGs), its password generated."""

    username: str
    password: str
    role: str

    @property
    def email(self) -> str:
        return f"{self.username}@datalyptica.local"


@dataclass(frozen=True)
class JupyterHubConfig:
    """JupyterHub spawning one notebook container per user with DockerSpawner.

    `proxy_auth_token_file` and `cookie_secret_file` are paths inside the hub's container: the
    token file is uploaded separately (0400) and read when the config loads, so the token never
    appears in this file; the cookie secret file holds 64 hex characters (32 random bytes).
    Without `oidc`, users have local accounts (NativeAuthenticator); everyone who signs up waits
    for the admin's approval. With `admin_password_file` (a 0400 file holding the admin's
    password), the hub creates `admin_user`'s account with that password when it starts (and
    resets it to that password when it exists), so nobody can claim the admin name by signing up
    first. `active_server_limit` caps the notebooks running at once (0: no cap).
    """

    network_name: str
    notebook_image: str
    notebook_cpu_limit: float
    notebook_mem_limit: str  # Docker size, e.g. "4G"
    admin_user: str
    database: PostgresDatabase
    proxy_auth_token_file: str
    cookie_secret_file: str = "/data/jupyterhub_cookie_secret"
    hub_connect_host: str = "jupyterhub"  # the name spawned notebooks call the hub by
    hub_port: int = 8081
    # Each user's container is <prefix>-<username> and their volume <prefix>-home-<username>: the
    # stack's own prefix (Platform.container_name("jupyter")) keeps two stacks on one host apart.
    notebook_container_prefix: str = "jupyter"
    notebook_environment: Mapping[str, str] = field(default_factory=dict)
    oidc: OidcClient | None = None
    public_url: str | None = None  # https://host[:port] users browse to; needed with `oidc`
    admin_password_file: str | None = None
    active_server_limit: int = 0

    def __post_init__(self) -> None:
        if self.active_server_limit < 0:
            raise ValueError(f"active_server_limit must be 0 (no cap) or more, got {self.active_server_limit}")
        if self.notebook_cpu_limit <= 0:
            raise ValueError(f"notebook_cpu_limit must be positive, got {self.notebook_cpu_limit}")
        if self.oidc and not self.public_url:
            raise ValueError("JupyterHubConfig.public_url is required with oidc (the OAuth callback URL)")


@dataclass(frozen=True)
class SupersetConfig:
    """Superset's app and Celery workers: metadata in PostgreSQL, caches and Celery on Redis."""

    secret_key: str
    database: PostgresDatabase
    redis: RedisServer = RedisServer()
    oidc: OidcClient | None = None
    oidc_default_role: str = "Gamma"  # the role of an OIDC login in neither group
    oidc_group_roles: Mapping[str, tuple[str, ...]] = field(default_factory=lambda: dict(SUPERSET_GROUP_ROLES))


@dataclass(frozen=True)
class AirflowConfig:
    """Airflow 3 with the CeleryExecutor, shared by every Airflow container.

    `fernet_key` is 32 random bytes in URL-safe base64 (what `Fernet.generate_key()` returns);
    `jwt_secret` must be the same in every container, or workers fail token verification.
    `connections_file`: a JSON file of connections (render_airflow_connections) that Airflow's
    LocalFilesystemBackend serves, so no credential travels in an AIRFLOW_CONN_* variable.
    """

    fernet_key: str
    secret_key: str
    jwt_secret: str
    database: PostgresDatabase
    redis: RedisServer = RedisServer()
    execution_api_server_url: str = "http://airflow-apiserver:8080/execution/"
    api_port: int = 8080
    scheduler_health_port: int = 8974
    airflow_home: str = "/opt/airflow"
    webserver_config_path: str = "/opt/airflow/config/webserver_config.py"
    oidc: OidcClient | None = None
    oidc_default_role: str = "Viewer"  # the role of an OIDC login in neither group
    oidc_group_roles: Mapping[str, tuple[str, ...]] = field(default_factory=lambda: dict(AIRFLOW_GROUP_ROLES))
    connections_file: str | None = None
    # A task whose worker stops heartbeating (killed, out of memory) is failed, and so retried,
    # after this long. Airflow's 300 s suits workers on other machines; on one Docker host a
    # worker that missed 12 heartbeats (one per 5 s, sent by the task's supervisor process, not
    # the task's own code, so a busy task still sends them) is gone.
    task_heartbeat_timeout_seconds: int = 60
    worker_concurrency: int = 16  # tasks a Celery worker runs at once (Airflow's default)
    # How often the DAG processor looks for new files in the dags folder. Airflow's 300 s left a
    # team's new DAG out of the UI for up to five minutes; a listing of the folder costs little.
    dags_folder_scan_seconds: int = 20

    def __post_init__(self) -> None:
        # 32 bytes in URL-safe base64 are 43 characters and one '='; '+' or '/' mean plain base64.
        if self.worker_concurrency < 1:
            raise ValueError(f"AirflowConfig.worker_concurrency must be 1 or more, got {self.worker_concurrency}")
        if not re.fullmatch(r"[A-Za-z0-9_-]{43}=", self.fernet_key):
            raise ValueError("AirflowConfig.fernet_key must be 32 bytes in URL-safe base64 (Fernet.generate_key())")


def notebook_environment(
    *,
    postgres: PostgresDatabase | None = None,
    trino_url: str | None = None,
    s3_endpoint: str | None = None,
    s3_access_key: str | None = None,
    s3_secret_key: str | None = None,
    s3_region: str = "us-east-1",
    nessie_url: str | None = None,
    mlflow_tracking_uri: str | None = None,
    spark_master_url: str | None = None,
) -> dict[str, str]:
    """The variables a spawned notebook gets, in the names its client libraries read themselves.

    Pass only the services of enabled layers. They reach the notebook as container environment,
    so pass credentials meant for notebook users (their own database role and bucket user).
    """
    env: dict[str, str] = {}
    if postgres:  # libpq / psycopg
        env |= {
            "PGHOST": postgres.host,
            "PGPORT": str(postgres.port),
            "PGCONNECT_TIMEOUT": str(CLIENT_CONNECT_TIMEOUT_SECONDS),
            "PGDATABASE": postgres.database,
            "PGUSER": postgres.user,
            "PGPASSWORD": postgres.password,
        }
    if trino_url:
        env["TRINO_URL"] = trino_url
    if s3_endpoint:  # boto3, s3fs and pyiceberg read the AWS_* names
        env |= {"AWS_ENDPOINT_URL": s3_endpoint, "AWS_DEFAULT_REGION": s3_region, "AWS_REGION": s3_region}
        if s3_access_key and s3_secret_key:
            env |= {"AWS_ACCESS_KEY_ID": s3_access_key, "AWS_SECRET_ACCESS_KEY": s3_secret_key}
    if nessie_url:
        base = nessie_url.rstrip("/")
        env |= {
            "NESSIE_URI": f"{base}/api/v2",
            "PYICEBERG_CATALOG__NESSIE__TYPE": "rest",
            "PYICEBERG_CATALOG__NESSIE__URI": f"{base}/iceberg/main",
        }
    if mlflow_tracking_uri:
        env["MLFLOW_TRACKING_URI"] = mlflow_tracking_uri
    if spark_master_url:
        env["SPARK_MASTER"] = spark_master_url
    return env


def _airflow_cfg_value(value: object) -> str:
    """A value for airflow.cfg: one line, `%` doubled for ConfigParser's interpolation."""
    text = str(value)
    if "\n" in text or "\r" in text:
        raise ValueError("an airflow.cfg value cannot span lines")
    return text.replace("%", "%%")


def render_jupyterhub_config(cfg: JupyterHubConfig) -> str:
    return render(
        "jupyterhub/jupyterhub_config.py.j2",
        cfg=cfg,
        py=repr,
        admins_group=ADMINS_GROUP,
        users_group=USERS_GROUP,
        groups_claim=GROUPS_CLAIM,
        db_url=cfg.database.url(),
        notebook_environment=dict(cfg.notebook_environment),
        notebook_host_config={
            "security_opt": list(SECURITY_OPTIONS),
            "cap_drop": list(DROPPED_CAPABILITIES),
        },
    )


def render_superset_config(cfg: SupersetConfig) -> str:
    return render(
        "superset/superset_config.py.j2",
        cfg=cfg,
        py=repr,
        db_url=cfg.database.url(),
        broker_url=cfg.redis.url(SUPERSET_BROKER_DB),
        celery_results_url=cfg.redis.url(SUPERSET_CELERY_RESULTS_DB),
        cache_db=SUPERSET_CACHE_DB,
        data_cache_db=SUPERSET_DATA_CACHE_DB,
        sqllab_results_db=SUPERSET_SQLLAB_RESULTS_DB,
    )


def render_airflow_config(cfg: AirflowConfig) -> str:
    return render(
        "airflow/airflow.cfg.j2",
        cfg=cfg,
        ini=_airflow_cfg_value,
        db_url=cfg.database.url("postgresql+psycopg2"),
        result_backend=cfg.database.url("db+postgresql"),
        broker_url=cfg.redis.url(AIRFLOW_BROKER_DB),
        backend_kwargs=json.dumps({"connections_file_path": cfg.connections_file}),
    )


def render_airflow_connections(connections: Mapping[str, Mapping[str, object]]) -> str:
    """Connections by id, each as Airflow's Connection fields (conn_type, host, port, login,
    password, schema, extra), in the JSON that LocalFilesystemBackend reads."""
    for conn_id, fields in connections.items():
        if "conn_type" not in fields:
            raise ValueError(f"connection {conn_id!r} needs a conn_type")
    return (
        json.dumps({conn_id: dict(fields) for conn_id, fields in connections.items()}, indent=2, sort_keys=True) + "\n"
    )


SAMPLE_DAG_ID = "datalyptica_sample_etl"  # also its file's name under the dags folder
SAMPLE_DAG_TABLE = "sample_etl_readings"  # where the sample DAG loads, in the shared analytics database


def render_airflow_sample_dag(landing_bucket: str) -> str:
    """The ETL DAG the platform ships (dags/<SAMPLE_DAG_ID>.py): the landing bucket through
    `aws_default`, then the shared analytics database through `postgres_default`."""
    return render(
        "airflow/dags/sample_etl.py.j2",
        dag_id=SAMPLE_DAG_ID,
        landing_bucket=landing_bucket,
        table=SAMPLE_DAG_TABLE,
        py=repr,
    )


ML_DAG_ID = "datalyptica_ml_pipeline"  # also its file's name under the dags folder
ML_NAMESPACE = "ml"  # the Iceberg namespace (Trino: the schema) of its tables
ML_TABLES = {"readings": "energy_readings", "features": "energy_features", "predictions": "energy_predictions"}
ML_MODEL = "datalyptica_energy_model"  # the registered model, alias `champion`
ML_EXPERIMENT = "datalyptica_ml_pipeline"
ML_CHART = "Energy use: predicted and actual"  # the Superset chart the pipeline publishes


def render_airflow_ml_dag(*, trino_user: str, gx_python: str, superset_database: str) -> str:
    """The ML pipeline DAG the platform ships (dags/<ML_DAG_ID>.py): Spark through Spark Connect,
    MLflow through `mlflow_default`, Great Expectations through Trino (`trino_default`) in the
    image's own GX environment (`gx_python`), Superset's dataset and chart on its database
    `superset_database` (Trino) through `superset_default`."""
    return render(
        "airflow/dags/ml_pipeline.py.j2",
        dag_id=ML_DAG_ID,
        namespace=ML_NAMESPACE,
        tables=ML_TABLES,
        model=ML_MODEL,
        experiment=ML_EXPERIMENT,
        trino_user=trino_user,
        gx_python=gx_python,
        superset_database=superset_database,
        chart=ML_CHART,
        py=repr,
    )


BI_DAG_ID = "datalyptica_bi_dashboard"  # also its file's name under the dags folder, and its Kafka consumer group
BI_TOPIC = "datalyptica.bi.orders"  # the sample producer's topic
BI_SHOP_TABLE = "shop_orders"  # the sample shop's table in the database Debezium captures (schema public)
BI_RAW_TABLE = "bi_raw.order_events"  # Iceberg (Trino: schema.table), one row per event
BI_MART_TABLE = "bi_mart.mart_daily_orders"  # dbt's mart: orders and revenue per day and status
BI_DBT_PROJECT = "datalyptica_bi_dashboard_dbt"  # the dbt project's folder, beside the DAG
BI_DASHBOARD = "Orders"
BI_DASHBOARD_SLUG = "datalyptica-orders"
BI_CHARTS = ("Orders: revenue per day", "Orders: by status", "Orders: total")
BI_SAMPLE_ORDERS = 300  # produced to BI_TOPIC, order ids 1 ..
BI_SHOP_ORDERS = 40  # written to BI_SHOP_TABLE, order ids BI_SHOP_FIRST_ORDER ..
BI_SHOP_FIRST_ORDER = 100001


def render_airflow_bi_dag(*, trino_user: str, dbt: str, superset_database: str, shop_topic: str) -> str:
    """The BI dashboard DAG the platform ships (dags/<BI_DAG_ID>.py): Kafka through `kafka_default`,
    the shop's table in the captured database through `cdc_default` and its changes on
    `shop_topic`, decoded through `schema_registry_default`, Trino through `trino_default`, dbt (the
    executable `dbt`) on the project in dags/<BI_DBT_PROJECT>, Superset's dashboard on its database
    `superset_database` (Trino) through `superset_default`."""
    return render(
        "airflow/dags/bi_dashboard.py.j2",
        dag_id=BI_DAG_ID,
        topic=BI_TOPIC,
        shop_table=BI_SHOP_TABLE,
        shop_topic=shop_topic,
        shop_orders=BI_SHOP_ORDERS,
        shop_first_order=BI_SHOP_FIRST_ORDER,
        raw_table=BI_RAW_TABLE,
        mart_table=BI_MART_TABLE,
        dbt=dbt,
        dbt_project=BI_DBT_PROJECT,
        trino_user=trino_user,
        superset_database=superset_database,
        dashboard=BI_DASHBOARD,
        dashboard_slug=BI_DASHBOARD_SLUG,
        charts=BI_CHARTS,
        orders=BI_SAMPLE_ORDERS,
        py=repr,
    )


# The Flask-AppBuilder role of a UI's first administrator, in Superset and in Airflow alike.
FAB_ADMIN_ROLE = "Admin"


def render_fab_accounts(admin: AdminUser, service_users: Sequence[ServiceUser] = ()) -> str:
    """The accounts file configs/fab/accounts.py reads in the Superset and Airflow init jobs: the
    first admin and the service users, each created, or given its password and role again."""
    accounts = [
        {
            "username": admin.username,
            "first_name": admin.first_name,
            "last_name": admin.last_name,
            "email": admin.email,
            "role": FAB_ADMIN_ROLE,
            "password": admin.password,
        },
        *(
            {
                "username": user.username,
                "first_name": user.username,
                "last_name": "Service",
                "email": user.email,
                "role": user.role,
                "password": user.password,
            }
            for user in service_users
        ),
    ]
    return json.dumps({"accounts": accounts}, indent=2) + "\n"


def render_superset_databases(databases: Mapping[str, str]) -> str:
    """The file configs/superset/databases.py reads: connection name -> SQLAlchemy URI."""
    return json.dumps(dict(databases), indent=2) + "\n"


def render_redis_config(password: str) -> str:
    if not re.fullmatch(r"[A-Za-z0-9]+", password):
        raise ValueError("the Redis password must be letters and digits (it is written unquoted in redis.conf)")
    return render("redis/redis.conf.j2", password=password)


def _pgpass_field(value: object) -> str:
    return str(value).replace("\\", "\\\\").replace(":", "\\:")


def render_pgpass(database: PostgresDatabase) -> str:
    """A libpq password file (PGPASSFILE) for exactly this database and user."""
    fields = (database.host, database.port, database.database, database.user, database.password)
    return ":".join(_pgpass_field(value) for value in fields) + "\n"


def render_aws_credentials(access_key: str, secret_key: str) -> str:
    """A shared credentials file (AWS_SHARED_CREDENTIALS_FILE) that boto3 reads for its default profile."""
    for value in (access_key, secret_key):
        if not re.fullmatch(r"[A-Za-z0-9_.+/=-]+", value):
            raise ValueError("S3 keys must be one word of letters, digits and _.+/=-")
    return f"[default]\naws_access_key_id = {access_key}\naws_secret_access_key = {secret_key}\n"


def render_airflow_webserver_config(cfg: AirflowConfig) -> str:
    """The FAB auth manager's Flask config: Airflow's own user database, or Keycloak with `oidc`."""
    return render("airflow/webserver_config.py.j2", cfg=cfg, py=repr)
