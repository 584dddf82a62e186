"""AnalyticsLayer: Redis, JupyterHub (spawning the notebook image), MLflow, Superset and Airflow.

One module per product (redis, mlflow, jupyterhub, superset, airflow), each with its own
constants; this module is the layer that builds them in order. It sits on the storage layer:
each product gets its own database and role (`storage.database`), MLflow, the notebooks and
Airflow their own bucket users (`storage.buckets`). What it uses of other layers arrives as
`AnalyticsUses`: their endpoints, None for each layer the stack does not enable.

Every secret reaches its container as a file readable by the service only; the Superset and
Airflow init jobs (migrations, admin) run to completion before their servers start.
"""

from collections.abc import Mapping
from dataclasses import dataclass, field

import pulumi

from components import analytics_configs as configs
from components import secrets
from components.analytics import airflow, jupyterhub, mlflow, redis, superset
from components.endpoints import (
    ClickHouseEndpoint,
    DatabaseAccess,
    Endpoint,
    KafkaEndpoint,
    SparkConnectEndpoint,
    SparkEndpoint,
    TrinoEndpoint,
)
from components.layer import Layer
from components.platform import Platform
from components.service import File
from components.sso import OidcClient
from components.storage import StorageLayer
from components.templates import static_config

SSO_UIS = ("jupyterhub", "superset", "airflow")  # the UIs of this layer that log in through Keycloak
ADMIN_USER = "admin"
ADMIN_EMAIL = "admin@datalyptica.local"
SHARED_DATA_CONSUMER = "analytics-data"  # the database role notebooks, Superset and the sample DAG share


@dataclass(frozen=True)
class AnalyticsUses:
    """The other layers' endpoints this layer uses; None where that layer is not deployed.

    `sso` maps a UI (`jupyterhub`, `superset`, `airflow`) to its Keycloak client; a UI without one
    keeps its local admin login.
    """

    trino: TrinoEndpoint | None = None
    clickhouse: ClickHouseEndpoint | None = None
    spark: SparkEndpoint | None = None
    spark_connect: SparkConnectEndpoint | None = None  # Airflow's tasks run Spark through it
    kafka: KafkaEndpoint | None = None  # Airflow's tasks produce and consume
    sso: Mapping[str, OidcClient] = field(default_factory=dict)

    def endpoints(self) -> list[Endpoint]:
        """The query, OLAP and processing endpoints that are deployed, in that order."""
        return [endpoint for endpoint in (self.trino, self.clickhouse, self.spark) if endpoint is not None]


def login(access: DatabaseAccess) -> pulumi.Output[configs.PostgresDatabase]:
    """A database access as the config renderers take it (the password resolved: render inside)."""
    return access.password.apply(
        lambda pw: configs.PostgresDatabase(
            database=access.database, user=access.username, password=pw, host=access.host, port=access.port
        )
    )


class AnalyticsLayer(Layer):
    layer = "analytics"

    admin_user = ADMIN_USER  # each UI's first administrator

    def __init__(self, platform: Platform, storage: StorageLayer, uses: AnalyticsUses):
        super().__init__(platform)
        self.storage = storage
        self.uses = uses
        self.network = self.own_network("analytics")

        self.redis_password = secrets.password("redis-password", parent=self)
        self.redis = redis.server(self)
        self.watched.append(self.redis)  # Redis has no metrics of its own: an exporter serves them
        # Data the analytics tools share: notebooks write it, Superset charts it.
        self.shared_data = storage.database(SHARED_DATA_CONSUMER, parent=self, database="analytics")

        self.mlflow = mlflow.server(self)
        self.jupyterhub_admin_password = secrets.password("jupyterhub-admin-password", parent=self)
        self.jupyterhub = jupyterhub.hub(self)
        self.superset_admin_password = secrets.password("superset-admin-password", parent=self)
        self.superset_airflow_password = secrets.password("superset-airflow-password", parent=self)
        self.superset_init, self.superset = superset.services(self)
        self.airflow_admin_password = secrets.password("airflow-admin-password", parent=self)
        self.airflow_init, self.airflow = airflow.services(self)

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
        self.finish()

    # ---- what the products share ------------------------------------------------------------------

    def database(self, consumer: str) -> tuple[DatabaseAccess, pulumi.Output[configs.PostgresDatabase]]:
        """The consumer's own database, and its login as the config renderers take it."""
        access = self.storage.database(consumer, parent=self)
        return access, login(access)

    def redis_server(self) -> pulumi.Output[configs.RedisServer]:
        endpoint = self.redis
        return endpoint.password.apply(
            lambda pw: configs.RedisServer(host=endpoint.host, port=endpoint.port, password=pw)
        )

    def oidc(self, ui: str) -> pulumi.Output[configs.OidcClient | None]:
        client = self.uses.sso.get(ui)
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

    def admin(self, password: str) -> configs.AdminUser:
        """A UI's first administrator, as its init job creates it."""
        return configs.AdminUser(ADMIN_USER, password, ADMIN_EMAIL)

    def fab_init_files(self, app: str, directory: str, accounts: pulumi.Input[str], owner: str) -> list[File]:
        """The init job of a Flask-AppBuilder UI (Superset, Airflow): its script, configs/<app>/init.sh,
        and the accounts that script makes or sets again with configs/fab/accounts.py, which reads
        them from the 0400 accounts.json beside it (`render_fab_accounts`)."""
        return [
            File(f"{directory}/init.sh", static_config(f"{app}/init.sh"), owner=owner),
            File(f"{directory}/accounts.py", static_config("fab/accounts.py"), owner=owner),
            File(f"{directory}/accounts.json", accounts, secret=True, owner=owner),
        ]
