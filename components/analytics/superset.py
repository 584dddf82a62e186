"""Superset: dashboards on Trino, ClickHouse and the shared PostgreSQL database; an init job
migrates its metadata and creates the first admin before the web server starts."""

from typing import TYPE_CHECKING

import pulumi

from components import analytics_configs as configs
from components import secrets
from components.service import File, HealthCheck, InitJob, Port, Server, Service, ServiceArgs

if TYPE_CHECKING:
    from components.analytics import AnalyticsLayer

SUPERSET_PORT = 8088
SUPERSET_UID = "1000"  # checked at build time by images/superset/Dockerfile
SUPERSET_CONFIG = "/app/pythonpath/superset_config.py"
SUPERSET_INIT = "/app/datalyptica/init.sh"
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
    init_script = pulumi.Output.all(
        layer.superset_admin_password, databases(layer), layer.superset_airflow_password
    ).apply(
        lambda v: configs.render_superset_init(
            layer.admin(v[0]), v[1], [configs.ServiceUser(SUPERSET_AIRFLOW_USER, v[2], SUPERSET_AIRFLOW_ROLE)]
        )
    )
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
            command=["bash", SUPERSET_INIT],
            files=[config_file, File(SUPERSET_INIT, init_script, secret=True, owner=SUPERSET_UID)],
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
