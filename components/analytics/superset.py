"""Superset: dashboards on Trino, ClickHouse and the shared PostgreSQL database; an init job
migrates its metadata and creates the first admin before the web server starts."""

from typing import TYPE_CHECKING

import pulumi

from components import analytics_configs as configs
from components import secrets
from components.service import File, HealthCheck, InitJob, Port, Server, Service, ServiceArgs
from components.templates import static_config

if TYPE_CHECKING:
    from components.analytics import AnalyticsLayer

SUPERSET_PORT = 8088
SUPERSET_UID = "1000"  # checked at build time by images/superset/Dockerfile
SUPERSET_CONFIG = "/app/pythonpath/superset_config.py"
SUPERSET_INIT_DIR = "/app/datalyptica"  # the init job's scripts and the files they read
SUPERSET_TRINO_USER = "superset"  # Trino has no authentication here: the name labels Superset's queries
# Airflow's DAGs publish their datasets and charts as this user: Alpha makes and edits its own
# content on every data source, and administers nothing.
SUPERSET_AIRFLOW_USER = "airflow"
SUPERSET_TRINO_DATABASE = "Trino"  # the name of its connection to Trino
SUPERSET_AIRFLOW_ROLE = "Alpha"


def databases(layer: "AnalyticsLayer") -> pulumi.Output[dict[str, str]]:
    """Data sources Superset starts with: the enabled layers' Trino and ClickHouse, and PostgreSQL."""
    uses, shared = layer.uses, layer.shared_data
    uris: dict[str, pulumi.Input[str]] = {}
    if uses.trino:
        uris[SUPERSET_TRINO_DATABASE] = uses.trino.sqlalchemy_url(SUPERSET_TRINO_USER)
    if uses.clickhouse:
        uris["ClickHouse"] = uses.clickhouse.sqlalchemy_uri()
    uris["PostgreSQL"] = shared.url("postgresql+psycopg2")
    return pulumi.Output.all(**uris)


def services(layer: "AnalyticsLayer") -> tuple[Service, Service]:
    """The init job and the web server."""
    database, plain_database = layer.database("superset")
    config = pulumi.Output.all(
        secrets.hex_token("superset-secret-key", parent=layer),
        plain_database,
        layer.redis_server(),
        layer.oidc("superset"),
    ).apply(
        lambda v: configs.render_superset_config(
            configs.SupersetConfig(secret_key=v[0], database=v[1], redis=v[2], oidc=v[3])
        )
    )
    accounts = pulumi.Output.all(layer.superset_admin_password, layer.superset_airflow_password).apply(
        lambda v: configs.render_fab_accounts(
            layer.admin(v[0]), [configs.ServiceUser(SUPERSET_AIRFLOW_USER, v[1], SUPERSET_AIRFLOW_ROLE)]
        )
    )
    init_files = [
        *layer.fab_init_files("superset", SUPERSET_INIT_DIR, accounts, SUPERSET_UID),
        File(f"{SUPERSET_INIT_DIR}/databases.py", static_config("superset/databases.py"), owner=SUPERSET_UID),
        File(
            f"{SUPERSET_INIT_DIR}/databases.json",
            databases(layer).apply(configs.render_superset_databases),
            secret=True,
            owner=SUPERSET_UID,
        ),
    ]
    config_file = File(SUPERSET_CONFIG, config, secret=True, owner=SUPERSET_UID)
    uses = [database, *layer.uses.endpoints()]
    env = {"SUPERSET_CONFIG_PATH": SUPERSET_CONFIG}
    init = layer.service(
        "superset-init",
        ServiceArgs(
            spec=layer.spec("superset").init_job("superset-init"),
            lifecycle=InitJob(),
            networks=[layer.network],
            uses=[*uses, layer.shared_data, layer.redis],
            env=env,
            command=["bash", f"{SUPERSET_INIT_DIR}/init.sh"],
            files=[config_file, *init_files],
        ),
    )
    web = layer.service(
        "superset",
        ServiceArgs(
            spec=layer.spec("superset"),
            lifecycle=Server(HealthCheck.curl(f"http://localhost:{SUPERSET_PORT}/health", start_period="60s")),
            networks=[layer.network],
            uses=uses,
            env=env,
            files=[config_file],
            volumes={"home": "/app/superset_home"},
            ports=[Port("superset", SUPERSET_PORT)],
            after=[init],
        ),
    )
    return init, web
