"""AnalyticsLayer: Redis, JupyterHub (spawning the notebook image), MLflow, Superset and Airflow.

It sits on the storage layer: each service gets its own database and role (`storage.database`),
MLflow its own bucket user (`storage.buckets`). What it uses of the other layers arrives as
`AnalyticsLinks` (`AnalyticsLinks.from_layers`), None for each layer the stack does not enable.

Every secret reaches its container as a 0400 file owned by the user the image runs as; the
Superset and Airflow init jobs (migrations, admin) run to completion before their servers start.
"""

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import pulumi
import pulumi_docker as docker

from components import analytics_configs as configs
from components import pgha, secrets
from components.service import File, HealthCheck, Metrics, Platform, Port, Service, Timing
from components.settings import ServiceSettings
from components.sso import OidcClient
from components.storage import DatabaseAccess, StorageLayer

if TYPE_CHECKING:  # the layers this one links to, by type only (they import nothing of it)
    from components.olap import OlapLayer
    from components.processing import ProcessingLayer
    from components.query import QueryLayer
    from components.sso import SsoClients

REDIS_PORT = 6379
JUPYTERHUB_PORT = 8000
JUPYTERHUB_HUB_PORT = 8081
MLFLOW_PORT = 5000
DOCKER_SOCKET_IN_CONTAINER = "/var/run/docker.sock"  # where DockerSpawner looks for it
MLFLOW_WORKERS = 2  # gunicorn/uvicorn workers of `mlflow server` (see _mlflow)
# A Celery worker of Airflow measured 521 MiB idle and 166 MiB more per running task (the sample
# DAG, on the stand-in): it runs as many tasks at once as its memory holds with that much each,
# where Airflow's default of 16 would be killed for memory below about 3.5 GiB.
AIRFLOW_WORKER_IDLE_MB = 544
AIRFLOW_TASK_MB = 192
SUPERSET_PORT = 8088
AIRFLOW_API_PORT = 8080
AIRFLOW_SCHEDULER_HEALTH_PORT = 8974
MLFLOW_ARTIFACTS_BUCKET = "mlflow-artifacts"
ADMIN_USER = "admin"
ADMIN_EMAIL = "admin@datalyptica.local"

# Who each image runs as (images/*/Dockerfile): the owners of their secret files.
REDIS_UID = "999"  # redis:7.2-bookworm's redis user
JUPYTERHUB_UID = "0"  # the hub drives the Docker socket, root-equivalent anyway
MLFLOW_UID = "10001"
SUPERSET_UID = "1000"  # checked at build time by images/superset/Dockerfile
AIRFLOW_UID = "50000"

REDIS_CONFIG = "/usr/local/etc/redis/redis.conf"
HUB_DIR = "/srv/jupyterhub"
MLFLOW_DIR = "/etc/mlflow"
SUPERSET_CONFIG = "/app/pythonpath/superset_config.py"
SUPERSET_INIT = "/app/datalyptica/init.sh"
AIRFLOW_HOME = "/opt/airflow"
AIRFLOW_CONFIG = f"{AIRFLOW_HOME}/config/airflow.cfg"
AIRFLOW_WEBSERVER_CONFIG = f"{AIRFLOW_HOME}/config/webserver_config.py"
AIRFLOW_CONNECTIONS = f"{AIRFLOW_HOME}/config/connections.json"
AIRFLOW_INIT = f"{AIRFLOW_HOME}/datalyptica/init.sh"
AIRFLOW_SAMPLE_DAG = f"{AIRFLOW_HOME}/dags/{configs.SAMPLE_DAG_ID}.py"


def airflow_worker_concurrency(memory_mb: int) -> int:
    """Tasks one Celery worker with `memory_mb` runs at once (1 to Airflow's default of 16)."""
    return max(1, min(16, (memory_mb - AIRFLOW_WORKER_IDLE_MB) // AIRFLOW_TASK_MB))


# ---- what this layer uses of other layers ------------------------------------------------------


SSO_UIS = ("jupyterhub", "superset", "airflow")  # the UIs of this layer that log in through Keycloak


@dataclass(frozen=True)
class TrinoLink:
    """Trino as containers reach it; queries run as `user` (Trino without authentication)."""

    host: str = "trino"
    port: int = 8080
    catalog: str = "iceberg"
    network: docker.Network | None = None  # the query layer's network, for Superset and Airflow

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def sqlalchemy_uri(self, user: str) -> str:
        return f"trino://{user}@{self.host}:{self.port}/{self.catalog}"


@dataclass(frozen=True)
class ClickHouseLink:
    """ClickHouse's HTTP interface and the login Superset queries it with."""

    host: str = "clickhouse"
    port: int = 8123
    username: pulumi.Input[str] = "default"  # secret when generated
    password: pulumi.Input[str] | None = None  # secret
    database: str = "default"
    network: docker.Network | None = None

    def sqlalchemy_uri(self) -> pulumi.Output[str]:
        """clickhouse-connect's SQLAlchemy URI (secret: it carries the password)."""

        def uri(login: list[str]) -> str:
            username, password = login
            auth = quote(username, safe="") + (f":{quote(password, safe='')}" if password else "")
            return f"clickhousedb://{auth}@{self.host}:{self.port}/{self.database}"

        return pulumi.Output.secret(pulumi.Output.all(self.username, self.password or "").apply(uri))


@dataclass(frozen=True)
class SparkLink:
    master_url: str = "spark://spark-master:7077"
    network: docker.Network | None = None


@dataclass(frozen=True)
class AnalyticsLinks:
    """The other layers' endpoints this layer uses; None where that layer is not deployed.

    `sso` maps a UI (`jupyterhub`, `superset`, `airflow`) to its Keycloak client; a UI without one
    keeps its local admin login.
    """

    trino: TrinoLink | None = None
    clickhouse: ClickHouseLink | None = None
    spark: SparkLink | None = None
    sso: Mapping[str, OidcClient] | None = None

    @classmethod
    def from_layers(
        cls,
        *,
        query: "QueryLayer | None" = None,
        olap: "OlapLayer | None" = None,
        processing: "ProcessingLayer | None" = None,
        sso: "SsoClients | None" = None,
    ) -> "AnalyticsLinks":
        """What this layer uses of the QueryLayer, OlapLayer, ProcessingLayer and SsoClients that
        are deployed (pass None for those that are not)."""
        return cls(
            trino=TrinoLink(
                host=query.endpoint.host,
                port=query.endpoint.port,
                catalog=query.endpoint.iceberg_catalog,
                network=query.endpoint.network,
            )
            if query
            else None,
            clickhouse=ClickHouseLink(
                host=olap.endpoint.host,
                port=olap.endpoint.http_port,
                username=olap.endpoint.user,
                password=olap.endpoint.password,
                network=olap.endpoint.network,
            )
            if olap
            else None,
            spark=SparkLink(network=processing.network) if processing else None,
            sso={ui: client for ui in SSO_UIS if (client := sso.client(ui))} if sso else None,
        )

    def networks(self) -> list[docker.Network]:
        return [link.network for link in (self.trino, self.clickhouse, self.spark) if link and link.network]


# ---- the layer ----------------------------------------------------------------------------------


class AnalyticsLayer(pulumi.ComponentResource):
    def __init__(
        self,
        platform: Platform,
        storage: StorageLayer,
        links: AnalyticsLinks,
        opts: pulumi.ResourceOptions | None = None,
    ):
        super().__init__("datalyptica:analytics:AnalyticsLayer", "analytics", None, opts)
        self._platform = platform
        self._storage = storage
        self._links = links
        self._sso = dict(self._links.sso or {})
        self.network = platform.network("analytics", parent=self)

        self.redis_password = secrets.password("redis-password", parent=self)
        self.redis = self._redis()
        # Data the analytics tools share: notebooks write it, Superset charts it.
        self.shared_data = storage.database("analytics-data", parent=self, database="analytics")

        self.mlflow = self._mlflow()
        self.jupyterhub_admin_password = secrets.password("jupyterhub-admin-password", parent=self)
        self.jupyterhub = self._jupyterhub()
        self.superset_admin_password = secrets.password("superset-admin-password", parent=self)
        self.superset_init, self.superset = self._superset()
        self.airflow_admin_password = secrets.password("airflow-admin-password", parent=self)
        self.airflow_init, self.airflow = self._airflow()

        self.urls = {
            "jupyterhub": platform.url("jupyterhub"),
            "mlflow": platform.url("mlflow"),
            "superset": platform.url("superset"),
            "airflow": platform.url("airflow"),
            "redis": platform.url("redis", "redis"),
        }
        admin = pulumi.Output.secret(ADMIN_USER)
        self.credentials = {
            "jupyterhub_admin_user": admin,
            "jupyterhub_admin_password": self.jupyterhub_admin_password,
            "superset_admin_user": admin,
            "superset_admin_password": self.superset_admin_password,
            "airflow_admin_user": admin,
            "airflow_admin_password": self.airflow_admin_password,
            "redis_password": self.redis_password,
        }
        self.register_outputs({**{name: url for name, url in self.urls.items() if url}, **self.credentials})

    # ---- helpers ---------------------------------------------------------------------------------

    def _spec(self, service: str, name: str | None = None) -> ServiceSettings:
        spec = self._platform.settings.service(service)
        return dataclasses.replace(spec, name=name) if name else spec

    def _database(self, consumer: str) -> tuple[DatabaseAccess, pulumi.Output[configs.PostgresDatabase]]:
        access = self._storage.database(consumer, parent=self)
        plain = access.password.apply(
            lambda pw: configs.PostgresDatabase(
                database=access.database, user=access.username, password=pw, host=access.host, port=access.port
            )
        )
        return access, plain

    def _redis_server(self) -> pulumi.Output[configs.RedisServer]:
        return self.redis_password.apply(lambda pw: configs.RedisServer(host="redis", port=REDIS_PORT, password=pw))

    def _oidc(self, ui: str) -> pulumi.Output[configs.OidcClient | None]:
        client = self._sso.get(ui)
        if client is None:
            return pulumi.Output.from_input(None)
        return pulumi.Output.from_input(client.client_secret).apply(
            lambda secret: configs.OidcClient(
                realm_url=client.internal_issuer_url,
                browser_realm_url=client.issuer_url,
                client_id=client.client_id,
                client_secret=secret,
            )
        )

    def _service(self, name: str, **kwargs: Any) -> Service:
        if "spec" not in kwargs:
            kwargs["spec"] = self._spec(name)
        return Service(name, platform=self._platform, opts=pulumi.ResourceOptions(parent=self), **kwargs)

    # ---- services --------------------------------------------------------------------------------

    def _redis(self) -> Service:
        auth_then_ping = (
            f"REDISCLI_AUTH=\"$(sed -n 's/^requirepass //p' {REDIS_CONFIG})\" redis-cli ping | grep -q PONG"
        )
        return self._service(
            "redis",
            networks=[self.network],
            command=["redis-server", REDIS_CONFIG, "--appendonly", "yes"],
            files=[
                File(REDIS_CONFIG, self.redis_password.apply(configs.render_redis_config), secret=True, owner=REDIS_UID)
            ],
            volumes={"data": "/data"},
            ports=[Port("redis", REDIS_PORT)],
            healthcheck=HealthCheck.shell(auth_then_ping, start_period="10s"),
        )

    def _mlflow(self) -> Service:
        """Metadata in PostgreSQL, artifacts proxied to S3: credentials as libpq's and boto3's own files."""
        database, plain_database = self._database("mlflow")
        bucket = self._storage.buckets("mlflow", [MLFLOW_ARTIFACTS_BUCKET], parent=self)
        aws_credentials = pulumi.Output.all(bucket.access_key, bucket.secret_key).apply(
            lambda keys: configs.render_aws_credentials(*keys)
        )
        # MLflow >= 3.5 answers only requests whose Host it knows: its name on the networks, its own
        # health check, and the address users browse to.
        allowed_hosts = ["mlflow", f"mlflow:{MLFLOW_PORT}", "localhost", f"localhost:{MLFLOW_PORT}"]
        if (host_port := self._platform.settings.host_port("mlflow")) is not None:
            allowed_hosts.append(f"{self._platform.settings.endpoint_host}:{host_port}")
        return self._service(
            "mlflow",
            networks=[self.network, self._storage.endpoints.network],
            command=[
                "mlflow",
                "server",
                "--host",
                "0.0.0.0",
                "--port",
                str(MLFLOW_PORT),
                # No password here: libpq reads it from PGPASSFILE.
                "--backend-store-uri",
                f"postgresql://{database.username}@{database.host}:{database.port}/{database.database}"
                f"{pgha.CLIENT_URL_QUERY}",
                "--serve-artifacts",
                "--artifacts-destination",
                f"s3://{MLFLOW_ARTIFACTS_BUCKET}",
                "--allowed-hosts",
                ",".join(dict.fromkeys(allowed_hosts)),
                # Each worker holds about 180 MiB at idle: 4 (MLflow's default) measured 921 MiB on
                # the stand-in, past dev's 768m; 2 measured 546 MiB.
                "--workers",
                str(MLFLOW_WORKERS),
            ],
            env={
                "PGPASSFILE": f"{MLFLOW_DIR}/pgpass",
                "AWS_SHARED_CREDENTIALS_FILE": f"{MLFLOW_DIR}/aws-credentials",
                "MLFLOW_S3_ENDPOINT_URL": bucket.endpoint,
                "AWS_DEFAULT_REGION": bucket.region,
            },
            files=[
                File(
                    f"{MLFLOW_DIR}/pgpass", plain_database.apply(configs.render_pgpass), secret=True, owner=MLFLOW_UID
                ),
                File(f"{MLFLOW_DIR}/aws-credentials", aws_credentials, secret=True, owner=MLFLOW_UID),
            ],
            ports=[Port("mlflow", MLFLOW_PORT)],
            healthcheck=HealthCheck.command(
                "python",
                "-c",
                f"import urllib.request; urllib.request.urlopen('http://localhost:{MLFLOW_PORT}/health')",
            ),
            depends_on=[*database.resources, *bucket.resources],
        )

    def _notebook_environment(self) -> tuple[pulumi.Output[dict[str, str]], tuple[pulumi.Resource, ...]]:
        """What notebooks use, by the names their client libraries read (only enabled layers), and
        the resources it needs: notebooks get the shared database and their own bucket user on the lake."""
        storage = self._storage.endpoints
        bucket = self._storage.buckets("notebooks", [storage.warehouse_bucket, storage.landing_bucket], parent=self)
        links = self._links
        env = pulumi.Output.all(self.shared_data.password, bucket.access_key, bucket.secret_key).apply(
            lambda values: configs.notebook_environment(
                postgres=configs.PostgresDatabase(
                    database=self.shared_data.database,
                    user=self.shared_data.username,
                    password=values[0],
                    host=self.shared_data.host,
                    port=self.shared_data.port,
                ),
                trino_url=links.trino.url if links.trino else None,
                s3_endpoint=storage.s3_endpoint,
                s3_access_key=values[1],
                s3_secret_key=values[2],
                s3_region=storage.s3_region,
                nessie_url=storage.nessie_uri.removesuffix("/api/v2"),
                mlflow_tracking_uri=f"http://mlflow:{MLFLOW_PORT}",
                spark_master_url=links.spark.master_url if links.spark else None,
            )
        )
        return env, (*self.shared_data.resources, *bucket.resources)

    def _jupyterhub(self) -> Service:
        platform = self._platform
        notebook = platform.settings.service("notebook")
        # Built from images/jupyterlab-notebook, unless the stack pins another image for notebooks.
        notebook_image_name = (
            platform.built_image_name(notebook.built_image) if notebook.built_image else notebook.image
        )
        notebook_image = platform.image(notebook, parent=self)  # built here, run by DockerSpawner
        database, plain_database = self._database("jupyterhub")
        token_file, cookie_file, admin_file = (
            f"{HUB_DIR}/secrets/{n}" for n in ("proxy_auth_token", "cookie_secret", "admin_password")
        )
        public_url = platform.url("jupyterhub")
        notebook_env, notebook_resources = self._notebook_environment()
        config = pulumi.Output.all(plain_database, notebook_env, self._oidc("jupyterhub")).apply(
            lambda values: configs.render_jupyterhub_config(
                configs.JupyterHubConfig(
                    network_name=platform.container_name("notebooks"),
                    notebook_container_prefix=platform.container_name("jupyter"),
                    notebook_image=notebook_image_name,
                    notebook_cpu_limit=notebook.cpus,
                    notebook_mem_limit=f"{notebook.memory_mb}M",
                    admin_user=ADMIN_USER,
                    database=values[0],
                    proxy_auth_token_file=token_file,
                    cookie_secret_file=cookie_file,
                    hub_connect_host="jupyterhub",
                    hub_port=JUPYTERHUB_HUB_PORT,
                    notebook_environment=values[1],
                    oidc=values[2] if public_url else None,
                    public_url=public_url,
                    admin_password_file=admin_file,
                    active_server_limit=notebook.replicas,
                )
            )
        )
        return self._service(
            "jupyterhub",
            # The notebooks network comes with the catalog's shared networks (catalog.SHARED_NETWORKS).
            networks=[self.network, self._storage.endpoints.network],
            env={"NOTEBOOK_IMAGE_ID": notebook_image},  # a rebuilt notebook image restarts the hub on it
            files=[
                File(f"{HUB_DIR}/jupyterhub_config.py", config, secret=True, owner=JUPYTERHUB_UID),
                File(
                    token_file,
                    secrets.hex_token("jupyterhub-proxy-auth-token", parent=self),
                    secret=True,
                    owner=JUPYTERHUB_UID,
                ),
                File(
                    cookie_file,
                    secrets.hex_token("jupyterhub-cookie-secret", parent=self),
                    secret=True,
                    owner=JUPYTERHUB_UID,
                ),
                File(admin_file, self.jupyterhub_admin_password, secret=True, owner=JUPYTERHUB_UID),
            ],
            # DockerSpawner starts each user's notebook (and its volume, which Pulumi does not manage).
            host_paths={platform.settings.docker_socket: DOCKER_SOCKET_IN_CONTAINER},
            ports=[Port("jupyterhub", JUPYTERHUB_PORT)],
            healthcheck=HealthCheck.curl(f"http://localhost:{JUPYTERHUB_PORT}/hub/health"),
            metrics=Metrics(JUPYTERHUB_PORT, "/hub/metrics"),
            depends_on=[*database.resources, *notebook_resources, self.mlflow.container],
        )

    def _superset_databases(self) -> pulumi.Output[dict[str, str]]:
        """Data sources Superset starts with: the enabled layers' Trino and ClickHouse, and PostgreSQL."""
        links, shared = self._links, self.shared_data
        uris: dict[str, pulumi.Input[str]] = {}
        if links.trino:
            uris["Trino"] = links.trino.sqlalchemy_uri("superset")
        if links.clickhouse:
            uris["ClickHouse"] = links.clickhouse.sqlalchemy_uri()
        uris["PostgreSQL"] = shared.url("postgresql+psycopg2")
        return pulumi.Output.all(**uris)

    def _superset(self) -> tuple[Service, Service]:
        database, plain_database = self._database("superset")
        config = pulumi.Output.all(
            secrets.hex_token("superset-secret-key", parent=self),
            plain_database,
            self._redis_server(),
            self._oidc("superset"),
        ).apply(
            lambda v: configs.render_superset_config(
                configs.SupersetConfig(secret_key=v[0], database=v[1], redis=v[2], oidc=v[3])
            )
        )
        init_script = pulumi.Output.all(self.superset_admin_password, self._superset_databases()).apply(
            lambda v: configs.render_superset_init(configs.AdminUser(ADMIN_USER, v[0], ADMIN_EMAIL), v[1])
        )
        config_file = File(SUPERSET_CONFIG, config, secret=True, owner=SUPERSET_UID)
        networks = [self.network, self._storage.endpoints.network, *self._links.networks()]
        env = {"SUPERSET_CONFIG_PATH": SUPERSET_CONFIG}
        init = self._service(
            "superset-init",
            spec=self._spec("superset", "superset-init"),
            run_once=True,
            healthcheck=None,
            networks=networks,
            env=env,
            command=["bash", SUPERSET_INIT],
            files=[config_file, File(SUPERSET_INIT, init_script, secret=True, owner=SUPERSET_UID)],
            depends_on=[*database.resources, *self.shared_data.resources, self.redis.container],
        )
        web = self._service(
            "superset",
            networks=networks,
            env=env,
            files=[config_file],
            volumes={"home": "/app/superset_home"},
            ports=[Port("superset", SUPERSET_PORT)],
            healthcheck=HealthCheck.curl(f"http://localhost:{SUPERSET_PORT}/health", start_period="60s"),
            after=[init],
        )
        return init, web

    def _airflow_connections(self) -> tuple[pulumi.Output[str], tuple[pulumi.Resource, ...]]:
        """Connections Airflow's DAGs use (MLflow, S3 and the shared analytics database always,
        Trino and Spark with their layers), and the resources they need: Airflow's own bucket user
        on the lake, and the shared database's role."""
        links = self._links
        storage = self._storage.endpoints
        shared = self.shared_data
        bucket = self._storage.buckets("airflow", [storage.warehouse_bucket, storage.landing_bucket], parent=self)
        fixed: dict[str, dict] = {"mlflow_default": {"conn_type": "http", "host": "mlflow", "port": MLFLOW_PORT}}
        if links.trino:
            fixed["trino_default"] = {
                "conn_type": "trino",
                "host": links.trino.host,
                "port": links.trino.port,
                "login": "airflow",
                "schema": links.trino.catalog,
            }
        if links.spark:
            host, _, port = links.spark.master_url.rpartition(":")
            fixed["spark_default"] = {"conn_type": "spark", "host": host, "port": int(port)}
        connections = pulumi.Output.all(bucket.access_key, bucket.secret_key, shared.password).apply(
            lambda keys: configs.render_airflow_connections(
                {
                    **fixed,
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
                    "postgres_default": {
                        "conn_type": "postgres",
                        "host": shared.host,
                        "port": shared.port,
                        "login": shared.username,
                        "password": keys[2],
                        "schema": shared.database,
                    },
                }
            )
        )
        return connections, (*bucket.resources, *shared.resources)

    def _airflow(self) -> tuple[Service, list[Service]]:
        database, plain_database = self._database("airflow")
        values = pulumi.Output.all(
            secrets.fernet_key("airflow-fernet-key", parent=self),
            secrets.hex_token("airflow-secret-key", parent=self),
            secrets.hex_token("airflow-jwt-secret", parent=self),
            plain_database,
            self._redis_server(),
            self._oidc("airflow"),
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
                worker_concurrency=airflow_worker_concurrency(self._spec("airflow-worker").memory_mb),
            )
        )
        connections, connection_resources = self._airflow_connections()
        # One config, one JWT secret, one Fernet key for every Airflow container.
        files = [
            File(AIRFLOW_CONFIG, cfg.apply(configs.render_airflow_config), secret=True, owner=AIRFLOW_UID),
            File(
                AIRFLOW_WEBSERVER_CONFIG,
                cfg.apply(configs.render_airflow_webserver_config),
                secret=True,
                owner=AIRFLOW_UID,
            ),
            File(AIRFLOW_CONNECTIONS, connections, secret=True, owner=AIRFLOW_UID),
        ]
        shared_volumes = {
            f"{AIRFLOW_HOME}/{folder}": self._platform.volume(f"airflow-{folder}", parent=self)
            for folder in ("dags", "logs", "plugins")
        }
        networks = [self.network, self._storage.endpoints.network, *self._links.networks()]
        common: dict[str, Any] = {
            "networks": networks,
            "env": {"AIRFLOW_CONFIG": AIRFLOW_CONFIG},
            "files": files,
            "shared_volumes": shared_volumes,
        }
        init_script = self.airflow_admin_password.apply(
            lambda pw: configs.render_airflow_init(configs.AdminUser(ADMIN_USER, pw, ADMIN_EMAIL))
        )
        # The init job writes the sample DAG into the shared dags volume (a changed DAG replaces
        # the job, which writes it again); the DAGs users add beside it are theirs.
        sample_dag = File(
            AIRFLOW_SAMPLE_DAG,
            configs.render_airflow_sample_dag(self._storage.endpoints.landing_bucket),
            owner=AIRFLOW_UID,
        )
        init = self._service(
            "airflow-init",
            spec=self._spec("airflow-apiserver", "airflow-init"),
            run_once=True,
            healthcheck=None,
            command=["bash", AIRFLOW_INIT],
            **{
                **common,
                "files": [*files, File(AIRFLOW_INIT, init_script, secret=True, owner=AIRFLOW_UID), sample_dag],
            },
            depends_on=[*database.resources, *connection_resources, self.redis.container],
        )
        jobs_check = 'airflow jobs check --job-type {} --hostname "$HOSTNAME"'
        # Each of these checks starts Airflow's CLI, which imports all of Airflow: 16 s measured at
        # 0.25 CPU, past Docker's 5 s default timeout (the upstream compose file allows 10 s).
        cli_check: Timing = {"interval": "30s", "timeout": "30s", "start_period": "60s"}
        components = [
            self._service(
                "airflow-apiserver",
                command=["api-server"],
                ports=[Port("airflow", AIRFLOW_API_PORT)],
                healthcheck=HealthCheck.curl(f"http://localhost:{AIRFLOW_API_PORT}/api/v2/version"),
                after=[init],
                **common,
            ),
            self._service(
                "airflow-scheduler",
                command=["scheduler"],
                after=[init],
                **common,
                healthcheck=HealthCheck.curl(f"http://localhost:{AIRFLOW_SCHEDULER_HEALTH_PORT}/health"),
            ),
            self._service(
                "airflow-dag-processor",
                command=["dag-processor"],
                after=[init],
                **common,
                healthcheck=HealthCheck.shell(jobs_check.format("DagProcessorJob"), **cli_check),
            ),
            self._service(
                "airflow-triggerer",
                command=["triggerer"],
                after=[init],
                **common,
                healthcheck=HealthCheck.shell(jobs_check.format("TriggererJob"), **cli_check),
            ),
        ]
        worker = self._spec("airflow-worker")
        ping = 'celery --app airflow.providers.celery.executors.celery_executor.app inspect ping -d "celery@$HOSTNAME"'
        components += [
            self._service(
                f"airflow-worker-{i}",
                spec=worker,
                command=["celery", "worker"],
                after=[init],
                healthcheck=HealthCheck.shell(ping, **cli_check),
                **{**common, "env": {**common["env"], "DUMB_INIT_SETSID": "0"}},
            )
            for i in range(1, worker.replicas + 1)
        ]
        return init, components
