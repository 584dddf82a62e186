"""Reads airflow.cfg through Airflow's own config parser (AIRFLOW_CONFIG set by the caller) and
prints what it resolved as JSON; the Fernet key, the auth manager and the FAB config file are
put to use the way Airflow uses them.

Run with the Python of a venv holding apache-airflow and its FAB provider.
"""

import json
import warnings

from flask import Config
from sqlalchemy.engine import make_url

with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    import airflow
    from airflow.configuration import conf
    from airflow.models.crypto import get_fernet

fernet = get_fernet()
# The connections the configured secrets backend serves, as Airflow resolves them.
secrets_backend = conf.get("secrets", "backend", fallback="")
connections = {}
if secrets_backend:
    backend = conf.getimport("secrets", "backend")(**json.loads(conf.get("secrets", "backend_kwargs")))
    for conn_id in backend._local_connections:
        found = backend.get_connection(conn_id)
        connections[conn_id] = {
            "conn_type": found.conn_type,
            "host": found.host,
            "port": found.port,
            "schema": found.schema,
            "login": found.login,
            "password": found.password,
            "extra": found.extra_dejson,
        }
webserver_config = Config(root_path="/")
webserver_config.from_pyfile(conf.get("fab", "config_file"))

print(
    json.dumps(
        {
            "airflow_version": airflow.__version__,
            "deprecation_warnings": [str(w.message) for w in caught if "deprecat" in str(w.message).lower()],
            "db_password": make_url(conf.get("database", "sql_alchemy_conn")).password,
            "executor": conf.get("core", "executor"),
            "auth_manager": conf.get("core", "auth_manager"),
            "auth_manager_class": conf.getimport("core", "auth_manager").__name__,
            "fernet_round_trip": fernet.decrypt(fernet.encrypt(b"ok")).decode(),
            "fernet_key": conf.get("core", "fernet_key"),
            "execution_api_server_url": conf.get("core", "execution_api_server_url"),
            "load_examples": conf.getboolean("core", "load_examples"),
            "sql_alchemy_conn": conf.get("database", "sql_alchemy_conn"),
            "broker_url": conf.get("celery", "broker_url"),
            "worker_concurrency": conf.getint("celery", "worker_concurrency"),
            "result_backend": conf.get("celery", "result_backend"),
            "api_secret_key": conf.get("api", "secret_key"),
            "api_port": conf.getint("api", "port"),
            "jwt_secret": conf.get("api_auth", "jwt_secret"),
            "scheduler_health_check": conf.getboolean("scheduler", "enable_health_check"),
            "scheduler_health_port": conf.getint("scheduler", "scheduler_health_check_server_port"),
            "task_heartbeat_timeout": conf.getint("scheduler", "task_instance_heartbeat_timeout"),
            "dags_folder_scan_seconds": conf.getint("dag_processor", "refresh_interval"),
            "secrets_backend": secrets_backend,
            "connections": connections,
            "fab_auth_type": webserver_config["AUTH_TYPE"],
            "fab_oauth_providers": webserver_config.get("OAUTH_PROVIDERS"),
            "fab_login_roles": {
                key: webserver_config.get(key)
                for key in ("AUTH_ROLES_MAPPING", "AUTH_USER_REGISTRATION_ROLE", "AUTH_ROLES_SYNC_AT_LOGIN")
            },
        }
    )
)
