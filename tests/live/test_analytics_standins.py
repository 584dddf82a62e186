"""The analytics layer's stand-ins keep the contracts their CONTRACT.md states (users, paths,
binaries, entrypoint behaviour), checked with `docker run` on the tests' own Docker Engine once
the `standins` fixture has built them.
"""

from __future__ import annotations

import json
import secrets
import tempfile
import time
import uuid
from pathlib import Path

import pytest

from tests.live.cli import docker
from tests.live.standins import STANDINS_DIR, read_tag

pytestmark = [pytest.mark.live, pytest.mark.usefixtures("standins")]


def image_of(name: str) -> str:
    """The upstream name a stand-in is tagged with, from its `tag` file."""
    return read_tag(STANDINS_DIR / name)


def standin(name: str) -> str:
    return image_of(name)


def run(image: str, *command: str, entrypoint: str | None = "", env: dict[str, str] | None = None) -> str:
    """stdout of `command` in a throw-away container (the image's entrypoint when entrypoint is None)."""
    args = ["run", "--rm"]
    if entrypoint is not None:
        args += ["--entrypoint", entrypoint]
    for key, value in (env or {}).items():
        args += ["-e", f"{key}={value}"]
    return docker(*args, image, *command).stdout.strip()


def sh(image: str, script: str) -> str:
    return run(image, "/bin/bash", "-c", script)


def config(image: str, key: str) -> object:
    return json.loads(docker("image", "inspect", "--format", "{{json .Config." + key + "}}", image).stdout)


# ---- redis --------------------------------------------------------------------------------------


def test_redis_runs_its_config_file_as_uid_999_in_data():
    image = standin("redis")
    assert sh(image, "id -u redis; id -g redis; stat -c %U /data; command -v redis-cli").splitlines() == [
        "999",
        "999",
        "redis",
        "/usr/bin/redis-cli",
    ]
    assert config(image, "WorkingDir") == "/data"
    name = f"h-ana-test-redis-{uuid.uuid4().hex[:8]}"
    # A *.conf first argument alone means redis-server (the entrypoint's rule), dropped to redis.
    # As the program does: the config uploaded into the created container, then started.
    docker("create", "--name", name, image, "/usr/local/etc/redis/redis.conf", "--appendonly", "yes")
    try:
        with tempfile.TemporaryDirectory() as folder:
            conf = Path(folder) / "redis.conf"
            conf.write_text("port 6380\ndir /data\n")
            conf.chmod(0o644)  # the folder and file readable by the redis user the server drops to
            Path(folder).chmod(0o755)
            docker("cp", folder + "/.", f"{name}:/usr/local/etc/redis")
        docker("start", name)
        for _ in range(30):
            if docker("exec", name, "redis-cli", "-p", "6380", "ping", check=False).stdout.strip() == "PONG":
                break
            time.sleep(1)
        status = docker("exec", name, "cat", "/proc/1/status").stdout
        assert "redis-server" in status.splitlines()[0]
        assert any(line.split()[1:3] == ["999", "999"] for line in status.splitlines() if line.startswith("Uid:"))
        assert docker("exec", name, "redis-cli", "-p", "6380", "config", "get", "appendonly").stdout.split() == [
            "appendonly",
            "yes",
        ]
    finally:
        docker("rm", "-f", "-v", name, check=False)  # with its anonymous /data volume


# ---- mlflow -------------------------------------------------------------------------------------


def test_mlflow_has_mlflow_python_and_pip_for_root():
    image = standin("mlflow")
    out = sh(
        image,
        "id -u; mlflow --version; python -c 'import sys; print(sys.version_info[:2])'; "
        "pip --version >/dev/null && echo pip; command -v useradd",
    ).splitlines()
    assert out == ["0", "mlflow, version 3.17.2", "(3, 11)", "pip", "/usr/sbin/useradd"]


# ---- superset -----------------------------------------------------------------------------------


def test_superset_runs_as_uid_1000_from_a_uv_venv():
    image = standin("superset")
    assert config(image, "User") == "superset"
    assert config(image, "Cmd") == ["/app/docker/entrypoints/run-server.sh"]
    env = dict(item.split("=", 1) for item in config(image, "Env"))
    assert env["SUPERSET_HOME"] == "/app/superset_home" and env["PYTHONPATH"] == "/app/pythonpath"
    assert env["PATH"].startswith("/app/.venv/bin:")
    out = sh(
        image,
        "id -u superset; command -v uv curl superset gunicorn; "
        "test -x /app/docker/entrypoints/run-server.sh && echo cmd; "
        "/app/.venv/bin/python -c 'import importlib.metadata as m; print(m.version(\"apache-superset\"))'; "
        "test -w /app/superset_home && echo home",
    ).splitlines()
    assert out == [
        "1000",
        "/usr/local/bin/uv",
        "/usr/bin/curl",
        "/app/.venv/bin/superset",
        "/app/.venv/bin/gunicorn",
        "cmd",
        "6.1.0",
        "home",
    ]


def test_superset_refuses_the_default_secret_key_like_upstream():
    image = standin("superset")
    result = docker("run", "--rm", image, "superset", "version", check=False)
    assert result.returncode != 0 and "SECRET_KEY" in result.stdout + result.stderr


# ---- airflow ------------------------------------------------------------------------------------


def test_airflow_user_home_and_venv():
    image = standin("airflow")
    assert config(image, "Entrypoint") == ["/usr/bin/dumb-init", "--", "/entrypoint"]
    assert config(image, "User") == "50000"
    out = sh(
        image,
        "id -u; id -g; echo $AIRFLOW_HOME $HOME; command -v airflow pip curl; "
        "stat -c '%u:%g' /opt/airflow/dags /opt/airflow/logs; "
        "test -w /home/airflow/.local/lib && echo writable",
    ).splitlines()
    assert out == [
        "50000",
        "0",
        "/opt/airflow /home/airflow",
        "/home/airflow/.local/bin/airflow",
        "/home/airflow/.local/bin/pip",
        "/usr/bin/curl",
        "50000:0",
        "50000:0",
        "writable",
    ]


def test_airflow_entrypoint_runs_subcommands_and_bash():
    image = standin("airflow")
    no_wait = {"CONNECTION_CHECK_MAX_COUNT": "0"}
    assert run(image, "version", entrypoint=None, env=no_wait) == "3.3.2"
    assert run(image, "airflow", "version", entrypoint=None, env=no_wait) == "3.3.2"
    assert run(image, "bash", "-c", "echo $0-bash", entrypoint=None, env=no_wait) == "bash-bash"
    # With the check on, the entrypoint checks the (here: default SQLite) metadata database first.
    assert run(image, "bash", "-c", "echo started", entrypoint=None).splitlines()[-1] == "started"


def test_airflow_entrypoint_installs_pip_additional_requirements():
    image = standin("airflow")
    # A requirement already met: pip runs and needs no index (the test containers have no network).
    result = docker(
        "run",
        "--rm",
        "-e",
        "CONNECTION_CHECK_MAX_COUNT=0",
        "-e",
        "_PIP_ADDITIONAL_REQUIREMENTS=uv",
        image,
        "python",
        "-c",
        "print('ran')",
    )
    assert "Requirement already satisfied: uv" in result.stdout
    assert result.stdout.strip().splitlines()[-1] == "ran"
    assert "_PIP_ADDITIONAL_REQUIREMENTS" in result.stderr


# ---- jupyterhub ---------------------------------------------------------------------------------


def test_jupyterhub_root_system_python_and_proxy():
    image = standin("jupyterhub")
    assert config(image, "Cmd") == ["jupyterhub"] and config(image, "WorkingDir") == "/srv/jupyterhub"
    out = sh(
        image,
        "id -u; jupyterhub --version; command -v configurable-http-proxy curl python; "
        "PIP_BREAK_SYSTEM_PACKAGES=1 python3 -m pip --version >/dev/null && echo pip",
    ).splitlines()
    assert out == ["0", "5.4.3", "/usr/bin/configurable-http-proxy", "/usr/bin/curl", "/usr/bin/python", "pip"]


# ---- pyspark-notebook ---------------------------------------------------------------------------


def test_notebook_user_environment_and_start_scripts():
    image = standin("pyspark-notebook")
    assert config(image, "Entrypoint") == ["tini", "-g", "--", "start.sh"]
    assert config(image, "Cmd") == ["start-notebook.py"]
    assert config(image, "User") == "1000"
    out = sh(
        image,
        "id -un; id -u; id -g; echo $CONDA_DIR $HOME; stat -c '%u:%g' /opt/conda /home/jovyan/work; "
        "command -v pip python fix-permissions start-notebook.py start-singleuser.py jupyterhub-singleuser; "
        "find /opt/conda ! -user 1000 | wc -l",
    ).splitlines()
    assert out == [
        "jovyan",
        "1000",
        "100",
        "/opt/conda /home/jovyan",
        "1000:100",
        "1000:100",
        "/opt/conda/bin/pip",
        "/opt/conda/bin/python",
        "/usr/local/bin/fix-permissions",
        "/usr/local/bin/start-notebook.py",
        "/usr/local/bin/start-singleuser.py",
        "/opt/conda/bin/jupyterhub-singleuser",
        "0",
    ]


def test_notebook_has_java_and_the_pinned_pyspark():
    image = standin("pyspark-notebook")
    out = sh(
        image,
        "java -version 2>&1 | head -1; python -c 'import pyspark; print(pyspark.__version__)'; "
        "test -x $SPARK_HOME/bin/spark-submit && ls $SPARK_HOME/jars | grep -c '^spark-core'",
    ).splitlines()
    assert out[0].startswith("openjdk version") and out[1:] == ["4.1.2", "1"]


def test_notebook_start_notebook_runs_the_single_user_server_under_the_hub():
    image = standin("pyspark-notebook")
    # Outside the hub: JupyterLab; with the hub's token: jupyterhub-singleuser (asked for --version).
    assert run(image, "start-notebook.py", "--version", entrypoint=None).splitlines()[-1].startswith("4.")
    assert run(
        image, "start-notebook.py", "--version", entrypoint=None, env={"JUPYTERHUB_API_TOKEN": secrets.token_hex(8)}
    ).splitlines()[-1] == run(image, "jupyterhub", "--version")
