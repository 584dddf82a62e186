"""The Analytics & ML layer's config files, rendered and then loaded by the programs that read them.

JupyterHub, Superset and Airflow each live in their own venv under /opt (see
.ci/install.d/40-analytics.sh); a loader script in tests/config_loaders runs there and prints
what the program resolved from the rendered file. A test whose venv is missing skips, or fails
when DATALYPTICA_REQUIRE_TOOLS=1.
"""

import base64
import json
import os
import secrets
import shutil
import subprocess
from pathlib import Path
from urllib.parse import quote

import pytest

import components.analytics_configs as analytics_configs
from components.analytics_configs import (
    AIRFLOW_BROKER_DB,
    AdminUser,
    AirflowConfig,
    JupyterHubConfig,
    OidcClient,
    PostgresDatabase,
    RedisServer,
    ServiceUser,
    SupersetConfig,
    notebook_environment,
    render_airflow_config,
    render_airflow_connections,
    render_airflow_webserver_config,
    render_aws_credentials,
    render_fab_accounts,
    render_jupyterhub_config,
    render_pgpass,
    render_redis_config,
    render_superset_config,
    render_superset_databases,
)
from dockerfiles import image_version

LOADERS = Path(__file__).resolve().parent / "config_loaders"
CONFIGS = Path(__file__).resolve().parents[1] / "configs"
REQUIRE_TOOLS = os.environ.get("DATALYPTICA_REQUIRE_TOOLS") == "1"
JUPYTERHUB_VENV = Path("/opt/jupyterhub-venv")
SUPERSET_VENV = Path("/opt/superset-venv")
AIRFLOW_VENV = Path("/opt/airflow-venv")


def hostile_password() -> str:
    """A password carrying every character that breaks naive quoting, led by a dash that a
    command-line parser would take for an option (token_urlsafe starts with one now and then)."""
    return "-" + secrets.token_urlsafe(16) + "%@:/#?'\"\\ $"


def fernet_key() -> str:
    """What cryptography's Fernet.generate_key() returns: 32 random bytes, URL-safe base64."""
    return base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()


def database(name: str) -> PostgresDatabase:
    return PostgresDatabase(database=name, user=name, password=hostile_password())


def keycloak_client(client_id: str) -> OidcClient:
    return OidcClient(
        realm_url="http://keycloak:8080/realms/datalyptica",
        browser_realm_url="http://localhost:8180/realms/datalyptica",
        client_id=client_id,
        client_secret=secrets.token_urlsafe(32),
    )


def require_venv(venv: Path) -> Path:
    """The venv's Python; the test skips without it, or fails when DATALYPTICA_REQUIRE_TOOLS=1."""
    python = venv / "bin" / "python"
    if not python.exists():
        message = f"{venv} is not installed (.ci/install.d/40-analytics.sh installs it)"
        if REQUIRE_TOOLS:
            pytest.fail(message)
        pytest.skip(message)
    return python


def load_with(venv: Path, loader: str, *args: str, env: dict[str, str] | None = None) -> dict:
    """Runs tests/config_loaders/<loader> with the venv's Python and returns its JSON."""
    python = require_venv(venv)
    result = subprocess.run(
        [str(python), str(LOADERS / loader), *args],
        capture_output=True,
        text=True,
        timeout=300,
        env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), **(env or {})},
    )
    assert result.returncode == 0, result.stderr[-4000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def write_secret_file(path: Path, text: str) -> Path:
    """Writes a file the way the layer delivers it: readable by its owner only."""
    path.write_text(text)
    path.chmod(0o400)
    return path


# -- JupyterHub ------------------------------------------------------------------------------


def jupyterhub_config(tmp_path: Path, **overrides) -> JupyterHubConfig:
    token_file = write_secret_file(tmp_path / "proxy_auth_token", secrets.token_hex(32) + "\n")
    values = {
        "network_name": "datalyptica-notebooks",
        "notebook_image": "datalyptica/jupyterlab-notebook:dev",
        "notebook_cpu_limit": 1.5,
        "notebook_mem_limit": "3G",
        "admin_user": "platform-admin",
        "database": database("jupyterhub"),
        "proxy_auth_token_file": str(token_file),
        "notebook_environment": notebook_environment(
            trino_url="http://trino:8080",
            s3_endpoint="http://minio:9000",
            s3_access_key=secrets.token_hex(8),
            s3_secret_key=hostile_password(),
            mlflow_tracking_uri="http://mlflow:5000",
        ),
    }
    return JupyterHubConfig(**(values | overrides))


def load_jupyterhub(tmp_path: Path, cfg: JupyterHubConfig, *admin_password: str) -> dict:
    config_file = write_secret_file(tmp_path / "jupyterhub_config.py", render_jupyterhub_config(cfg))
    return load_with(JUPYTERHUB_VENV, "load_jupyterhub_config.py", str(config_file), *admin_password)


def test_jupyterhub_loads_dockerspawner_with_local_accounts(tmp_path):
    cfg = jupyterhub_config(tmp_path)
    loaded = load_jupyterhub(tmp_path, cfg)

    assert loaded["jupyterhub_version"] == image_version("jupyterhub", "JUPYTERHUB_VERSION")
    assert loaded["unrecognized"] == []
    assert loaded["spawner_class"] == "dockerspawner.dockerspawner.DockerSpawner"
    assert loaded["authenticator_class"] == "builtins.LocalAccounts"  # NativeAuthenticator's, with a 403 login
    # A refused login answers 403 as JupyterHub's own form does (live: test_analytics_live.py).
    assert loaded["login_handler"] == ["builtins.RefusingLoginHandler", "nativeauthenticator.handlers.LoginHandler"]
    assert loaded["admin_users"] == ["platform-admin"]
    assert loaded["network_name"] == "datalyptica-notebooks"
    assert loaded["use_internal_ip"] is True
    assert loaded["image"] == cfg.notebook_image
    assert loaded["volume_binds"] == {"jupyter-home-alice": {"bind": "/home/jovyan/work", "mode": "rw"}}
    assert loaded["container_name"] == "jupyter-alice"
    assert loaded["mem_limit"] == 3 * 1024**3
    assert loaded["cpu_limit"] == 1.5
    assert loaded["environment"] == dict(cfg.notebook_environment)
    assert loaded["hub_ip"] == "0.0.0.0"
    assert (loaded["hub_connect_ip"], loaded["hub_port"]) == ("jupyterhub", 8081)
    assert loaded["cookie_secret_file"] == "/data/jupyterhub_cookie_secret"
    assert loaded["db"] == {
        "drivername": "postgresql+psycopg2",
        "host": "haproxy",
        "port": 5000,
        "database": "jupyterhub",
        "username": "jupyterhub",
        "password": cfg.database.password,
    }


def test_jupyterhub_reads_the_proxy_token_from_its_file_only(tmp_path):
    cfg = jupyterhub_config(tmp_path)
    token = Path(cfg.proxy_auth_token_file).read_text().strip()

    assert token not in render_jupyterhub_config(cfg)
    assert load_jupyterhub(tmp_path, cfg)["proxy_auth_token"] == token


def test_jupyterhub_logs_in_with_keycloak_when_given_a_client(tmp_path):
    client = keycloak_client("jupyterhub")
    cfg = jupyterhub_config(tmp_path, oidc=client, public_url="https://notebooks.example.org/")
    loaded = load_jupyterhub(tmp_path, cfg)

    assert loaded["unrecognized"] == []
    assert loaded["authenticator_class"] == "oauthenticator.generic.GenericOAuthenticator"
    assert loaded["login_handler"] is None  # Keycloak's page, not a form of the hub's
    assert loaded["oauth_callback_url"] == "https://notebooks.example.org/hub/oauth_callback"
    assert loaded["token_url"] == client.endpoint("token")
    assert loaded["admin_users"] == ["platform-admin"]
    # The realm's groups decide, through oauthenticator's own steps: admins administer, users
    # may log in, anyone else in the realm may not.
    assert loaded["group_logins"] == {
        "admins": {"admin": True, "allowed": True},
        "users": {"admin": False, "allowed": True},
        "neither": {"admin": False, "allowed": False},
        "none": {"admin": False, "allowed": False},
    }


def test_jupyterhub_creates_the_admin_with_its_generated_password_and_caps_notebooks(tmp_path):
    password = secrets.token_urlsafe(24)
    password_file = write_secret_file(tmp_path / "admin_password", password + "\n")
    cfg = jupyterhub_config(tmp_path, admin_password_file=str(password_file), active_server_limit=5)

    loaded = load_jupyterhub(tmp_path, cfg, password)
    assert loaded["unrecognized"] == []
    assert loaded["authenticator_class"].endswith("AdminSeededLocalAccounts")
    assert loaded["admin_login"] == "platform-admin"
    assert loaded["active_server_limit"] == 5
    assert password not in render_jupyterhub_config(cfg)
    assert load_jupyterhub(tmp_path, cfg, "not-" + password)["admin_login"] is None


def test_jupyterhub_with_keycloak_needs_the_public_url(tmp_path):
    with pytest.raises(ValueError, match="public_url"):
        jupyterhub_config(tmp_path, oidc=keycloak_client("jupyterhub"))


def test_notebook_environment_names_only_the_services_given():
    env = notebook_environment(mlflow_tracking_uri="http://mlflow:5000", nessie_url="http://nessie:19120/")

    assert env == {
        "MLFLOW_TRACKING_URI": "http://mlflow:5000",
        "NESSIE_URI": "http://nessie:19120/api/v2",
        "PYICEBERG_CATALOG__NESSIE__TYPE": "rest",
        "PYICEBERG_CATALOG__NESSIE__URI": "http://nessie:19120/iceberg/main",
    }


# -- Superset --------------------------------------------------------------------------------


def load_superset(tmp_path: Path, cfg: SupersetConfig) -> dict:
    config_file = write_secret_file(tmp_path / "superset_config.py", render_superset_config(cfg))
    return load_with(
        SUPERSET_VENV,
        "load_superset_config.py",
        env={"SUPERSET_CONFIG_PATH": str(config_file), "SUPERSET_HOME": str(tmp_path)},
    )


def test_superset_loads_metadata_db_redis_caches_and_celery(tmp_path):
    redis = RedisServer(password=hostile_password())
    cfg = SupersetConfig(secret_key=secrets.token_urlsafe(42), database=database("superset"), redis=redis)
    loaded = load_superset(tmp_path, cfg)

    assert loaded["superset_version"].split(".")[0] == image_version("superset", "SUPERSET_VERSION").split(".")[0]
    assert loaded["secret_key"] == cfg.secret_key
    assert loaded["db"]["password"] == cfg.database.password
    assert (loaded["db"]["host"], loaded["db"]["port"], loaded["db"]["database"]) == ("haproxy", 5000, "superset")
    assert loaded["caches"] == {
        "CACHE_CONFIG": {"backend": "RedisCache", "db": analytics_configs.SUPERSET_CACHE_DB},
        "DATA_CACHE_CONFIG": {"backend": "RedisCache", "db": analytics_configs.SUPERSET_DATA_CACHE_DB},
    }
    assert loaded["results_backend"] == "RedisCache"
    assert loaded["celery"]["broker_url"] == redis.url(analytics_configs.SUPERSET_BROKER_DB)
    assert loaded["celery"]["result_backend"] == redis.url(analytics_configs.SUPERSET_CELERY_RESULTS_DB)
    assert "superset.sql_lab" in loaded["celery"]["imports"]
    assert loaded["auth_type"] == 1  # flask_appbuilder.const.AUTH_DB: Superset's own users
    assert loaded["oauth_providers"] is None


def test_superset_logs_in_with_keycloak_when_given_a_client(tmp_path):
    client = keycloak_client("superset")
    cfg = SupersetConfig(secret_key=secrets.token_urlsafe(42), database=database("superset"), oidc=client)
    loaded = load_superset(tmp_path, cfg)

    assert loaded["auth_type"] == 4  # flask_appbuilder.const.AUTH_OAUTH
    [provider] = loaded["oauth_providers"]
    assert provider["name"] == "keycloak"
    assert provider["remote_app"]["client_secret"] == client.client_secret
    assert provider["remote_app"]["authorize_url"].startswith("http://localhost:8180/realms/datalyptica/")
    assert provider["remote_app"]["access_token_url"] == client.endpoint("token")


def fab_login_roles(venv: Path, settings: dict) -> dict[str, list[str]]:
    """The roles Flask-AppBuilder itself gives a login in each of the realm's groups, under the
    AUTH_* settings a rendered config resolved to."""
    cases = {"admins": ["platform-admins"], "users": ["platform-users"], "neither": ["someone-else"]}
    loaded = load_with(venv, "fab_login_roles.py", json.dumps({**settings, "cases": cases}))
    assert loaded["sync_at_login"] is True  # leaving a group takes its role away at the next login
    return loaded["roles"]


def test_superset_makes_the_realms_admins_admin_and_its_users_alpha(tmp_path):
    cfg = SupersetConfig(
        secret_key=secrets.token_urlsafe(42), database=database("superset"), oidc=keycloak_client("superset")
    )
    roles = fab_login_roles(SUPERSET_VENV, load_superset(tmp_path, cfg)["fab_login_roles"])
    assert roles == {"admins": ["Admin", "Gamma"], "users": ["Alpha", "Gamma", "sql_lab"], "neither": ["Gamma"]}


def test_airflow_makes_the_realms_admins_admin_and_its_users_user(tmp_path):
    loaded = load_airflow(tmp_path, airflow_config(tmp_path, oidc=keycloak_client("airflow")))
    roles = fab_login_roles(AIRFLOW_VENV, loaded["fab_login_roles"])
    assert roles == {"admins": ["Admin", "Viewer"], "users": ["User", "Viewer"], "neither": ["Viewer"]}


def test_superset_and_airflow_celery_never_share_a_redis_database():
    superset_dbs = {
        analytics_configs.SUPERSET_BROKER_DB,
        analytics_configs.SUPERSET_CELERY_RESULTS_DB,
        analytics_configs.SUPERSET_CACHE_DB,
        analytics_configs.SUPERSET_DATA_CACHE_DB,
        analytics_configs.SUPERSET_SQLLAB_RESULTS_DB,
    }
    assert len(superset_dbs) == 5
    assert AIRFLOW_BROKER_DB not in superset_dbs


# -- Airflow ---------------------------------------------------------------------------------


def airflow_config(tmp_path: Path, **overrides) -> AirflowConfig:
    values = {
        "fernet_key": fernet_key(),
        "secret_key": hostile_password(),
        "jwt_secret": hostile_password(),
        "database": database("airflow"),
        "webserver_config_path": str(tmp_path / "webserver_config.py"),
    }
    return AirflowConfig(**(values | overrides))


def load_airflow(tmp_path: Path, cfg: AirflowConfig) -> dict:
    write_secret_file(Path(cfg.webserver_config_path), render_airflow_webserver_config(cfg))
    config_file = write_secret_file(tmp_path / "airflow.cfg", render_airflow_config(cfg))
    home = tmp_path / "airflow-home"
    home.mkdir()
    return load_with(
        AIRFLOW_VENV, "load_airflow_config.py", env={"AIRFLOW_CONFIG": str(config_file), "AIRFLOW_HOME": str(home)}
    )


def test_airflow_reads_celery_postgres_and_its_secrets(tmp_path):
    cfg = airflow_config(tmp_path)
    loaded = load_airflow(tmp_path, cfg)

    assert loaded["airflow_version"] == image_version("airflow", "AIRFLOW_VERSION")
    assert loaded["executor"] == "CeleryExecutor"
    assert loaded["auth_manager_class"] == "FabAuthManager"
    assert loaded["fernet_key"] == cfg.fernet_key
    assert loaded["fernet_round_trip"] == "ok"
    # ConfigParser gives back exactly what was meant, '%' included.
    assert loaded["sql_alchemy_conn"] == cfg.database.url("postgresql+psycopg2")
    assert loaded["db_password"] == cfg.database.password
    assert loaded["result_backend"] == cfg.database.url("db+postgresql")
    assert loaded["broker_url"] == "redis://redis:6379/0"
    assert loaded["api_secret_key"] == cfg.secret_key
    assert loaded["jwt_secret"] == cfg.jwt_secret
    assert loaded["execution_api_server_url"] == "http://airflow-apiserver:8080/execution/"
    assert loaded["api_port"] == 8080
    assert loaded["scheduler_health_check"] is True
    assert loaded["scheduler_health_port"] == 8974
    assert loaded["dags_folder_scan_seconds"] == 20  # a new DAG file shows up within 30 s
    assert loaded["load_examples"] is False
    assert loaded["fab_auth_type"] == 1  # AUTH_DB: Airflow's own users
    assert loaded["deprecation_warnings"] == []


def test_airflow_logs_in_with_keycloak_when_given_a_client(tmp_path):
    client = keycloak_client("airflow")
    loaded = load_airflow(tmp_path, airflow_config(tmp_path, oidc=client))

    assert loaded["fab_auth_type"] == 4  # AUTH_OAUTH
    [provider] = loaded["fab_oauth_providers"]
    assert provider["remote_app"]["client_id"] == "airflow"
    assert provider["remote_app"]["client_secret"] == client.client_secret


def test_airflow_serves_connections_from_its_secrets_file(tmp_path):
    access_key, secret_key = secrets.token_hex(8), hostile_password()
    connections_file = write_secret_file(
        tmp_path / "connections.json",
        render_airflow_connections(
            {
                "aws_default": {
                    "conn_type": "aws",
                    "login": access_key,
                    "password": secret_key,
                    "extra": {"endpoint_url": "http://minio:9000", "region_name": "us-east-1"},
                },
                "spark_default": {"conn_type": "spark", "host": "spark://spark-master", "port": 7077},
            }
        ),
    )
    loaded = load_airflow(tmp_path, airflow_config(tmp_path, connections_file=str(connections_file)))

    assert loaded["secrets_backend"] == "airflow.secrets.local_filesystem.LocalFilesystemBackend"
    assert loaded["connections"]["aws_default"] == {
        "conn_type": "aws",
        "host": None,
        "port": None,
        "schema": None,
        "login": access_key,
        "password": secret_key,
        "extra": {"endpoint_url": "http://minio:9000", "region_name": "us-east-1"},
    }
    assert loaded["connections"]["spark_default"]["port"] == 7077
    assert secret_key not in render_airflow_config(airflow_config(tmp_path, connections_file=str(connections_file)))


# The init jobs, run for real: each app's own CLI and security manager on a SQLite metadata
# database, with the scripts and files the layer uploads (configs/<app>/init.sh, configs/fab).


def init_directory(tmp_path: Path, app: str, accounts: str, **secret_files: str) -> Path:
    """The init job's directory as the layer uploads it: the app's init.sh, the accounts script,
    and the 0400 files they read."""
    directory = tmp_path / "init"
    directory.mkdir()
    (directory / "init.sh").write_text((CONFIGS / app / "init.sh").read_text())
    shutil.copy(CONFIGS / "fab" / "accounts.py", directory / "accounts.py")
    if app == "superset":
        shutil.copy(CONFIGS / "superset" / "databases.py", directory / "databases.py")
    for name, text in {"accounts.json": accounts, **secret_files}.items():
        write_secret_file(directory / name, text)
    return directory


def run_in(venv: Path, argv: list[str], env: dict[str, str]) -> None:
    """Runs a command of an app's init with the venv's programs first on PATH, as in its image."""
    require_venv(venv)
    path = f"{venv / 'bin'}:{os.environ.get('PATH', '/usr/bin:/bin')}"
    result = subprocess.run(argv, capture_output=True, text=True, timeout=600, env={"PATH": path, **env})
    assert result.returncode == 0, (result.stdout[-2000:], result.stderr[-4000:])


def rotated(admin: AdminUser) -> AdminUser:
    return AdminUser(admin.username, hostile_password(), admin.email)


def logins(venv: Path, app: str, accounts: Path, env: dict[str, str]) -> dict:
    return load_with(venv, "fab_logins.py", app, str(CONFIGS / "fab" / "accounts.py"), str(accounts), env=env)


def test_superset_init_makes_the_logins_and_sources_it_is_given_and_sets_them_again(tmp_path):
    admin = AdminUser("admin", hostile_password(), "admin@example.org")
    airflow = ServiceUser("airflow", hostile_password(), "Alpha")
    password = hostile_password()
    uri = f"postgresql+psycopg2://analytics:{quote(password, safe='')}@haproxy:5000/analytics"
    directory = init_directory(
        tmp_path,
        "superset",
        render_fab_accounts(admin, [airflow]),
        **{"databases.json": render_superset_databases({"PostgreSQL": uri})},
    )
    config = tmp_path / "superset_config.py"
    config.write_text(
        f"SECRET_KEY = {secrets.token_urlsafe(42)!r}\nSQLALCHEMY_DATABASE_URI = 'sqlite:///{tmp_path}/s.db'\n"
    )
    env = {"SUPERSET_CONFIG_PATH": str(config), "SUPERSET_HOME": str(tmp_path)}
    run_in(SUPERSET_VENV, ["bash", str(directory / "init.sh")], env)
    # A redeploy with a rotated admin password runs the accounts step again on the same database.
    accounts = write_secret_file(tmp_path / "rotated.json", render_fab_accounts(rotated(admin), [airflow]))
    run_in(SUPERSET_VENV, ["python", str(directory / "accounts.py"), "superset", str(accounts)], env)

    answered = logins(SUPERSET_VENV, "superset", accounts, env)
    assert answered["logins"] == {"admin": ["Admin"], "airflow": ["Alpha"]}
    assert answered["wrong_password"] == []
    assert answered["databases"] == {
        "PostgreSQL": {
            "drivername": "postgresql+psycopg2",
            "host": "haproxy",
            "port": 5000,
            "database": "analytics",
            "username": "analytics",
            "password": password,
        }
    }


def test_airflow_init_makes_the_admin_and_sets_its_password_again(tmp_path):
    admin = AdminUser("admin", hostile_password(), "admin@example.org")
    directory = init_directory(tmp_path, "airflow", render_fab_accounts(admin))
    (tmp_path / "webserver_config.py").write_text("from flask_appbuilder.const import AUTH_DB\nAUTH_TYPE = AUTH_DB\n")
    config = tmp_path / "airflow.cfg"
    config.write_text(
        "[core]\nauth_manager = airflow.providers.fab.auth_manager.fab_auth_manager.FabAuthManager\n"
        f"[database]\nsql_alchemy_conn = sqlite:///{tmp_path}/a.db\n"
        f"[fab]\nconfig_file = {tmp_path}/webserver_config.py\n"
    )
    (tmp_path / "home").mkdir()
    env = {"AIRFLOW_CONFIG": str(config), "AIRFLOW_HOME": str(tmp_path / "home")}
    run_in(AIRFLOW_VENV, ["bash", str(directory / "init.sh")], env)
    accounts = write_secret_file(tmp_path / "rotated.json", render_fab_accounts(rotated(admin)))
    run_in(AIRFLOW_VENV, ["python", str(directory / "accounts.py"), "airflow", str(accounts)], env)

    answered = logins(AIRFLOW_VENV, "airflow", accounts, env)
    assert answered["logins"] == {"admin": ["Admin"]}
    assert answered["wrong_password"] == []


def test_redis_config_holds_a_password_it_can_write_unquoted():
    assert "requirepass Abc123\n" in render_redis_config("Abc123")
    with pytest.raises(ValueError, match="letters and digits"):
        render_redis_config("two words")


def test_pgpass_escapes_its_separators():
    line = render_pgpass(PostgresDatabase(database="mlflow", user="mlflow", password="a:b\\c"))
    assert line == "haproxy:5000:mlflow:mlflow:a\\:b\\\\c\n"


def test_aws_credentials_file_names_the_default_profile():
    assert render_aws_credentials("key", "secret") == (
        "[default]\naws_access_key_id = key\naws_secret_access_key = secret\n"
    )
    with pytest.raises(ValueError):
        render_aws_credentials("key", "two words")


@pytest.mark.parametrize("bad_key", ["", "too-short", base64.b64encode(b"\xfb" * 32).decode()])
def test_airflow_rejects_a_key_fernet_cannot_use(tmp_path, bad_key):
    with pytest.raises(ValueError, match="fernet_key"):
        airflow_config(tmp_path, fernet_key=bad_key)


def test_airflow_cfg_values_cannot_break_out_of_their_line(tmp_path):
    with pytest.raises(ValueError, match="span lines"):
        render_airflow_config(airflow_config(tmp_path, jwt_secret="one\n[core]\nexecutor = x"))
