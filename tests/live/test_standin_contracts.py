"""Each stand-in keeps the contract its CONTRACT.md states, checked on the built image.

On the tests' own Docker Engine, once the `standins` fixture has built (or found cached) them.
"""

import json
import tempfile
import time
import uuid
from pathlib import Path

import pytest

from components import pgha
from components.processing import FLINK_UID, SPARK_UID
from components.query import TRINO_ETC, TRINO_PORT, TRINO_UID
from components.service import HealthCheck
from harness.offline import engine_config, run_program, settings_of
from tests.live.cli import docker
from tests.live.standins import HASH_LABEL, STANDINS_DIR, build_standins, discover

# Every stand-in is built once, in one pass (the session's `standins`): building the checked ones
# first, then the rest, left the builder's three slots half idle between the two passes.
pytestmark = [pytest.mark.live, pytest.mark.usefixtures("standins")]
CHECKED = ("base", "postgres", "etcd", "haproxy", "trino", "python", "spark", "flink", "kafka", "apicurio-registry")
TAGS = {name: standin.tag for name, standin in discover().items()}


def run(
    name: str, *command: str, entrypoint: str | None = None, user: str | None = None, network: str | None = None
) -> str:
    """`docker run --rm` of the stand-in: what the command printed."""
    options = [
        *(["--entrypoint", entrypoint] if entrypoint is not None else []),
        *(["--user", user] if user else []),
        *(["--network", network] if network else []),
    ]
    return docker("run", "--rm", *options, TAGS[name], *command).stdout


def shell(name: str, script: str, user: str | None = None, network: str | None = None) -> str:
    return run(name, "-c", script, entrypoint="bash", user=user, network=network)


def config(name: str) -> dict:
    return json.loads(docker("image", "inspect", TAGS[name]).stdout)[0]["Config"]


def stat(name: str, *paths: str) -> dict[str, str]:
    lines = shell(name, f"stat -c '%n %U %G %a' {' '.join(paths)}").splitlines()
    return {path: f"{owner}:{group} {mode}" for path, owner, group, mode in (line.split() for line in lines)}


@pytest.fixture
def container():
    """container(name, *options, command=(), start=True): a stand-in's container, removed afterwards.

    It has no network but its loopback: the checks run inside it, and a name it cannot resolve
    fails at once instead of waiting on a name server it cannot reach.
    """
    made = []

    def make(name: str, *options: str, command: tuple[str, ...] = (), start: bool = True) -> str:
        container_name = f"datalyptica-standin-check-{name}-{uuid.uuid4().hex[:8]}"
        docker("create", "--name", container_name, "--network", "none", *options, TAGS[name], *command)
        made.append(container_name)
        if start:
            docker("start", container_name)
        return container_name

    yield make
    for container_name in made:
        docker("rm", "--force", "--volumes", container_name, check=False)


def wait_for(check, what: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"{what} not within {timeout} s"
        time.sleep(0.5)


def test_every_checked_stand_in_is_built_with_the_hash_of_its_inputs(standins, daemon):
    assert set(CHECKED) <= {build.name for build in standins}  # and what they are FROM (spark: pyspark-notebook)
    for build in standins:
        assert config(build.name)["Labels"][HASH_LABEL], build.name
    again = build_standins(CHECKED, docker_host=daemon.host)
    assert all(build.cached for build in again), "a second run builds nothing"


# base: tests/live/standins/base/CONTRACT.md


def test_base_is_debian_bookworm_with_upstreams_suites_path_and_cmd():
    assert shell("base", "cat /etc/debian_version").startswith("12.")
    sources = shell("base", "cat /etc/apt/sources.list.d/debian.sources")
    assert "bookworm bookworm-updates" in sources and "bookworm-security" in sources
    assert config("base")["Cmd"] == ["bash"]
    assert "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" in config("base")["Env"]


def test_base_trusts_the_building_machines_ca_certificates():
    host_cas = sorted(path.name for path in Path("/usr/local/share/ca-certificates").glob("*.crt"))
    assert shell("base", "ls /usr/local/share/ca-certificates").split() == host_cas
    bundle = shell("base", "cat /etc/ssl/certs/ca-certificates.crt")
    for name in host_cas:
        first_line_of_body = Path("/usr/local/share/ca-certificates", name).read_text().splitlines()[1]
        assert first_line_of_body in bundle, name


# postgres: tests/live/standins/postgres/CONTRACT.md


def test_postgres_user_is_uid_and_gid_999_with_its_home():
    assert shell("postgres", "getent passwd postgres").strip() == "postgres:x:999:999::/var/lib/postgresql:/bin/bash"
    assert shell("postgres", "getent group postgres").startswith("postgres:x:999:")


def test_postgres_directories_have_upstreams_owners_and_modes():
    assert stat("postgres", "/var/lib/postgresql", "/var/lib/postgresql/data", "/var/run/postgresql") == {
        "/var/lib/postgresql": "postgres:postgres 1777",
        "/var/lib/postgresql/data": "postgres:postgres 1777",
        "/var/run/postgresql": "postgres:postgres 3777",
    }


def test_postgres_server_binaries_of_major_15_are_where_the_program_looks():
    bin_dir = "/usr/lib/postgresql/15/bin"
    listing = shell("postgres", f"ls {bin_dir}").split()
    assert {"postgres", "initdb", "pg_ctl", "pg_basebackup", "pg_rewind", "pg_controldata"} <= set(listing)
    assert run("postgres", "postgres", "--version", user="999:999").startswith("postgres (PostgreSQL) 15.")
    assert shell("postgres", "ls /etc/postgresql 2>/dev/null | wc -l").strip() == "0", "no cluster from the package"


def test_postgres_image_config_is_upstreams():
    image = config("postgres")
    assert image["Volumes"] == {"/var/lib/postgresql/data": {}}
    assert image["StopSignal"] == "SIGINT"
    assert image["Entrypoint"] == ["docker-entrypoint.sh"] and image["Cmd"] == ["postgres"]
    assert {"PG_MAJOR=15", "PGDATA=/var/lib/postgresql/data", "LANG=en_US.utf8"} <= set(image["Env"])
    assert any(env.startswith("PATH=") and env.endswith(":/usr/lib/postgresql/15/bin") for env in image["Env"])
    assert set(image["ExposedPorts"]) == {"5432/tcp"}
    assert image["User"] == ""
    assert image.get("Shell") in (None, ["/bin/sh", "-c"])


def test_postgres_has_the_locale_gosu_and_the_patroni_images_apt_pins():
    assert "en_US.utf8" in shell("postgres", "locale -a").split()
    assert shell("postgres", "gosu postgres id -u").strip() == "999"
    # images/patroni pins these; the base's package lists are empty until apt-get update.
    versions = shell(
        "postgres", "apt-get update -qq >/dev/null && apt-cache policy curl python3 | grep Candidate", network="host"
    )
    assert "7.88." in versions and "3.11." in versions, versions


def test_postgres_entrypoint_initialises_an_empty_data_directory_and_serves(container):
    # Trust on the container's own socket only: no credential is needed for the check.
    name = container(
        "postgres",
        "-e",
        "POSTGRES_HOST_AUTH_METHOD=trust",
        "-e",
        "POSTGRES_DB=standin",
        command=("postgres", "-c", "listen_addresses="),
    )

    def answers() -> bool:
        result = docker(
            "exec", "-u", "postgres", name, "psql", "-At", "-d", "standin", "-c", "select current_user", check=False
        )
        return result.returncode == 0 and result.stdout.strip() == "postgres"

    wait_for(answers, "the stand-in's PostgreSQL answering on its socket")
    owner_mode = docker("exec", name, "stat", "-c", "%U %a", "/var/lib/postgresql/data").stdout.strip()
    assert owner_mode == "postgres 700"


# etcd: tests/live/standins/etcd/CONTRACT.md


def test_etcd_binaries_are_release_v3_5_21_at_upstreams_paths():
    assert "etcd Version: 3.5.21\n" in run("etcd", "/usr/local/bin/etcd", "--version")
    assert "etcdctl version: 3.5.21\n" in run("etcd", "/usr/local/bin/etcdctl", "version")
    assert "etcdutl version: 3.5.21\n" in run("etcd", "/usr/local/bin/etcdutl", "version")


def test_etcd_image_config_is_upstreams():
    image = config("etcd")
    assert image["Entrypoint"] is None and image["Cmd"] == ["/usr/local/bin/etcd"]
    assert image["WorkingDir"] == "/var/lib/etcd/"
    assert set(image["ExposedPorts"]) == {"2379/tcp", "2380/tcp"}
    assert image["User"] == ""
    assert "/usr/local/bin" in next(env for env in image["Env"] if env.startswith("PATH="))


def test_etcd_starts_from_the_programs_command_and_its_health_check_passes(container):
    member = pgha.EtcdMember("etcd-1", "localhost")
    topology = pgha.PgHaTopology("standin", (member,), (pgha.PatroniNode("patroni-1", "localhost"),))
    command = pgha.etcd_command(topology, member, data_dir="/var/lib/etcd/data", listen_host="127.0.0.1")
    name = container("etcd", command=tuple(command))

    def healthy() -> bool:
        return docker("exec", name, "etcdctl", "endpoint", "health", check=False).returncode == 0

    wait_for(healthy, "`etcdctl endpoint health` (the program's health check)")


def test_etcd_toolchain_is_not_in_the_image():
    assert shell("etcd", "command -v go || ls /usr/lib/go* 2>/dev/null || echo none").strip() == "none"


# haproxy: tests/live/standins/haproxy/CONTRACT.md


def test_haproxy_is_of_the_pinned_major_its_contract_names_the_version_and_it_has_the_prometheus_exporter():
    pinned = TAGS["haproxy"].rpartition(":")[2]
    first_line = run("haproxy", "haproxy", "-v").splitlines()[0]  # HAProxy version 3.0.11-... date
    version = first_line.split()[2].split("-")[0]
    assert version.split(".")[0] == pinned.split(".")[0], first_line
    assert f"**HAProxy {version}, not {pinned}.**" in (STANDINS_DIR / "haproxy" / "CONTRACT.md").read_text()
    assert "prometheus-exporter" in run("haproxy", "haproxy", "-vv")


def test_haproxy_runs_as_uid_and_gid_99_in_its_home():
    assert run("haproxy", "id").strip() == "uid=99(haproxy) gid=99(haproxy) groups=99(haproxy)"
    assert stat("haproxy", "/var/lib/haproxy") == {"/var/lib/haproxy": "haproxy:haproxy 755"}
    image = config("haproxy")
    assert image["User"] == "haproxy" and image["WorkingDir"] == "/var/lib/haproxy"
    assert image["StopSignal"] == "SIGUSR1"
    assert image["Entrypoint"] == ["docker-entrypoint.sh"]
    assert image["Cmd"] == ["haproxy", "-f", pgha.HAPROXY_CONFIG_PATH]


def test_haproxy_has_bash_for_the_health_check_and_no_curl_or_wget_as_upstream():
    assert shell("haproxy", "command -v curl wget || echo neither").strip() == "neither"
    assert run("haproxy", "echo", "run as given").strip() == "run as given", "the entrypoint execs other commands"


def test_haproxy_runs_the_programs_config_and_passes_the_programs_health_check(container):
    topology = pgha.PgHaTopology(
        "standin",
        (pgha.EtcdMember("etcd-1", "etcd-1"),),
        (pgha.PatroniNode("patroni-1", "patroni-1"), pgha.PatroniNode("patroni-2", "patroni-2")),
    )
    rendered = pgha.render_haproxy_config(topology, docker_dns=False)
    name = container("haproxy", start=False)
    config_file = Path(f"/tmp/{name}.cfg")
    config_file.write_text(rendered)
    try:
        docker("cp", str(config_file), f"{name}:{pgha.HAPROXY_CONFIG_PATH}")
    finally:
        config_file.unlink()
    docker("start", name)
    check = list(HealthCheck.http_via_bash(7000, "/").test)
    assert check[0] == "CMD"

    def healthy() -> bool:
        return docker("exec", name, *check[1:], check=False).returncode == 0

    wait_for(healthy, "the program's HAProxy health check (bash /dev/tcp)")
    pid1 = docker("exec", name, "cat", "/proc/1/cmdline").stdout.split("\0")
    assert pid1[:5] == ["haproxy", "-W", "-db", "-f", pgha.HAPROXY_CONFIG_PATH]


# trino: tests/live/standins/trino/CONTRACT.md

TRINO_PLUGINS = {"iceberg", "postgresql", "clickhouse", "geospatial", "jmx", "memory", "tpch", "tpcds"}
TRINO_CATALOGS = {"iceberg", "postgresql", "clickhouse", "jmx", "memory", "tpch", "tpcds", "system"}
TRINO_HEALTH_CHECK = "/usr/lib/trino/bin/health-check"


def test_trino_is_release_476_as_the_e2e_stack_runs_and_its_contract_says_why():
    assert TAGS["trino"] == settings_of("e2e").service("trino").image == "trinodb/trino:476"
    assert "**Trino 476, not 479**" in (STANDINS_DIR / "trino" / "CONTRACT.md").read_text()
    assert run("trino", "trino", "--version").strip() == "Trino CLI 476"
    java = shell("trino", 'java -version 2>&1 | head -1; "$JAVA_HOME/bin/java" -version 2>&1 | head -1').splitlines()
    assert java[0] == java[1] and java[0].startswith('openjdk version "25'), java


def test_trino_runs_as_uid_and_gid_1000_owning_its_paths():
    assert str(TRINO_UID) == "1000"
    assert run("trino", "id").strip() == "uid=1000(trino) gid=1000(trino) groups=1000(trino)"
    assert shell("trino", "getent passwd trino").strip() == "trino:x:1000:1000::/home/trino:/bin/bash"
    owners = stat("trino", "/usr/lib/trino", "/usr/lib/trino/plugin", "/data/trino", TRINO_ETC, f"{TRINO_ETC}/catalog")
    assert {owner_mode.split()[0] for owner_mode in owners.values()} == {"trino:trino"}, owners
    assert stat("trino", "/usr/bin/trino")["/usr/bin/trino"].split()[0] == "trino:trino"


def test_trino_image_config_is_upstreams():
    image = config("trino")
    assert image["Entrypoint"] is None and image["Cmd"] == ["/usr/lib/trino/bin/run-trino"]
    assert image["User"] == "trino:trino" and image["WorkingDir"] == ""
    assert set(image["ExposedPorts"]) == {f"{TRINO_PORT}/tcp"}
    assert image.get("Volumes") is None
    assert image["Healthcheck"]["Test"] == ["CMD-SHELL", TRINO_HEALTH_CHECK]
    assert (image["Healthcheck"]["Interval"], image["Healthcheck"]["Timeout"]) == (10 * 10**9, 5 * 10**9)
    assert {"CATALOG_MANAGEMENT=static", "JAVA_HOME=/usr/lib/jvm/jdk-25"} <= set(image["Env"])
    path = next(env for env in image["Env"] if env.startswith("PATH="))
    assert path.endswith(":/usr/lib/jvm/jdk-25/bin")


def test_trino_has_upstreams_default_etc_and_the_plugins_of_the_programs_catalogs():
    assert set(shell("trino", "ls /usr/lib/trino/plugin").split()) == TRINO_PLUGINS
    assert shell("trino", f"ls {TRINO_ETC} {TRINO_ETC}/catalog").split() == [
        f"{TRINO_ETC}:",
        "catalog",
        "config.properties",
        "jvm.config",
        "log.properties",
        "node.properties",
        f"{TRINO_ETC}/catalog:",
        "jmx.properties",
        "memory.properties",
        "tpcds.properties",
        "tpch.properties",
    ]
    assert shell("trino", f"cat {TRINO_ETC}/node.properties").split() == [
        "node.environment=docker",
        "node.data-dir=/data/trino",
    ]
    assert "catalog.management=${ENV:CATALOG_MANAGEMENT}" in shell("trino", f"cat {TRINO_ETC}/config.properties")
    launcher = shell("trino", "ls /usr/lib/trino/bin").split()
    assert {"launcher", "launcher.properties", "run-trino", "health-check"} <= set(launcher), launcher
    assert len([name for name in launcher if name.startswith("linux-")]) == 1, launcher


def test_trino_health_check_is_a_bash_script_and_its_tools_are_there():
    assert shell("trino", f"head -1 {TRINO_HEALTH_CHECK}").strip() == "#!/bin/bash"
    tools = shell("trino", "command -v bash curl grep cut").split()
    assert [Path(tool).name for tool in tools] == ["bash", "curl", "grep", "cut"], tools
    assert "--insecure" in shell("trino", f"cat {TRINO_HEALTH_CHECK}")


def trino_uploads() -> list[dict]:
    """The files the program uploads into Trino's etc/ (config.properties and every catalog, with
    their modes), from a stack with the query and olap layers run under mocks at the e2e release;
    its hosts answer nowhere here, and Trino's connectors connect only per query."""
    layers = {"layers": ["storage", "query", "olap"], "services": {"trino": {"image": TAGS["trino"]}}}
    trino = run_program(engine_config(layers)).containers()["trino"]
    return [upload for upload in trino.inputs["uploads"] if upload["file"].startswith(f"{TRINO_ETC}/")]


def test_trino_starts_from_the_programs_config_and_passes_the_programs_health_check(container):
    """As the program runs it: its config.properties, its catalogs read through group 0 (mode 0440,
    root's), the e2e stack's limits; the health check is the very command components/query.py runs."""
    spec = settings_of("e2e").service("trino")
    name = container(
        "trino",
        "--group-add",
        "0",
        "--cpus",
        str(spec.cpus),
        "--memory",
        str(spec.memory_bytes),
        start=False,
    )
    with tempfile.TemporaryDirectory() as scratch:
        etc = Path(scratch, "etc")
        for upload in trino_uploads():
            path = etc / Path(upload["file"]).relative_to(TRINO_ETC)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(upload["content"])
            path.chmod(int(upload["permissions"], 8))
        docker("cp", f"{etc}/.", f"{name}:{TRINO_ETC}")
    docker("start", name)

    def health_check() -> bool:
        return docker("exec", name, TRINO_HEALTH_CHECK, check=False).returncode == 0

    assert not health_check(), "healthy before the server has started"
    wait_for(health_check, "the program's Trino health check", timeout=300)
    logs = docker("logs", name)
    assert "======== SERVER STARTED ========" in logs.stdout + logs.stderr

    def query(sql: str) -> str:
        return docker("exec", name, "trino", "--execute", sql).stdout.strip()

    assert query("SELECT node_version FROM system.runtime.nodes") == '"476"'
    assert {catalog.strip('"') for catalog in query("SHOW CATALOGS").split()} == TRINO_CATALOGS
    assert query("SELECT count(*) FROM tpch.tiny.nation") == '"25"'
    metrics = docker(
        "exec", name, "curl", "--fail", "--silent", "-H", "X-Trino-User: prometheus", f"localhost:{TRINO_PORT}/metrics"
    ).stdout
    assert "# TYPE " in metrics


# python: tests/live/standins/python/CONTRACT.md


def test_python_is_debians_3_11_at_usr_local_first_on_path_and_its_contract_says_so():
    assert TAGS["python"] == "python:3.12.12-slim-bookworm"
    assert "**The stand-in's Python is 3.11" in (STANDINS_DIR / "python" / "CONTRACT.md").read_text()
    found = shell("python", "command -v python python3 pip pip3").split()
    assert found == ["/usr/local/bin/python", "/usr/local/bin/python3", "/usr/local/bin/pip", "/usr/local/bin/pip3"]
    assert run("python", "python", "--version").strip().startswith("Python 3.11.")
    image = config("python")
    assert image["Cmd"] == ["python3"] and image["Entrypoint"] is None and image["User"] == ""
    assert "LANG=C.UTF-8" in image["Env"]
    assert next(env for env in image["Env"] if env.startswith("PATH=")).startswith("PATH=/usr/local/bin:")


def test_python_pip_installs_as_root_into_the_python_every_user_runs():
    """What images/dbt and images/great-expectations do: `pip install` as root, then run as uid 1000."""
    installed = shell(
        "python",
        "PIP_DISABLE_PIP_VERSION_CHECK=1 pip install --no-index --no-deps --force-reinstall "
        "/usr/share/python-wheels/setuptools-*.whl >/dev/null "
        "&& su -s /bin/sh nobody -c 'python -c \"import setuptools, sys; print(sys.prefix, setuptools.__file__)\"'",
    )
    prefix, module = installed.split()
    assert prefix == "/usr/local" and module.startswith("/usr/local/lib/python3.11/site-packages/"), installed
    assert "/usr/local/lib/python3.11/site-packages/pip" in run("python", "pip", "--version", user="1000:1000")


# ---- Spark (apache/spark:4.1.2, the base of images/spark) ------------------------------------------


def test_spark_is_4_1_2_on_java_21_run_by_uid_185_from_opt_spark():
    assert TAGS["spark"] == "apache/spark:4.1.2" and SPARK_UID == "185"
    assert run("spark", "id").strip() == "uid=185(spark) gid=185(spark) groups=185(spark)"
    image = config("spark")
    assert image["Entrypoint"] == ["/opt/entrypoint.sh"] and image["WorkingDir"] == "/opt/spark/work-dir"
    assert image["User"] == "spark"
    assert {"SPARK_HOME=/opt/spark", "JAVA_HOME=/opt/java/openjdk"} <= set(image["Env"])
    versions = shell("spark", "/opt/spark/bin/spark-submit --version 2>&1; java -version 2>&1")
    assert "version 4.1.2" in versions and 'version "21.' in versions, versions


def test_spark_has_what_images_spark_and_the_health_check_and_pyspark_jobs_run():
    """images/spark downloads its jars with wget as root; the health check runs curl; jobs are PySpark."""
    found = shell("spark", "command -v wget curl python3 sha256sum").split()
    assert [Path(tool).name for tool in found] == ["wget", "curl", "python3", "sha256sum"], found
    assert stat("spark", "/opt/spark/jars")["/opt/spark/jars"].startswith("spark:spark ")
    assert run("spark", "echo", "passed through").strip() == "passed through"


# ---- Flink (flink:<version>-scala_2.12-java17) ----------------------------------------------------


def test_flink_is_run_by_uid_9999_with_the_presto_plugin_of_its_version_and_no_python():
    version = TAGS["flink"].split(":")[1].split("-")[0]
    assert FLINK_UID == "9999"
    assert run("flink", "id").strip() == "uid=9999(flink) gid=9999(flink) groups=9999(flink)"
    image = config("flink")
    assert image["Entrypoint"] == ["/docker-entrypoint.sh"] and image["Cmd"] == ["help"]
    assert image["User"] == "flink" and image["WorkingDir"] == "/opt/flink"
    present = shell(
        "flink",
        f"ls /opt/flink/opt/flink-s3-fs-presto-{version}.jar "
        f"/opt/flink/plugins/metrics-prometheus/flink-metrics-prometheus-{version}.jar "
        f"/opt/flink/lib/flink-dist-{version}.jar; command -v curl python3 || true",
    ).split()
    assert len(present) == 4 and present[-1].endswith("/curl"), present  # curl for the health check, no python3


# ---- Kafka (apache/kafka), Apicurio Registry ------------------------------------------------------


def test_kafka_is_4_1_1_run_by_uid_1000_with_bash_for_the_health_check_and_no_curl():
    assert TAGS["kafka"] == "apache/kafka:4.1.1"
    assert run("kafka", "id").strip() == "uid=1000(appuser) gid=1000(appuser) groups=1000(appuser)"
    image = config("kafka")
    assert image["Cmd"] == ["/etc/kafka/docker/run"] and image["User"] == "appuser"
    assert set(image["Volumes"]) == {"/etc/kafka/secrets", "/var/lib/kafka/data", "/mnt/shared/config"}
    found = shell("kafka", "ls /opt/kafka/libs/kafka_2.13-4.1.1.jar; command -v bash curl wget || true").split()
    assert found == ["/opt/kafka/libs/kafka_2.13-4.1.1.jar", "/usr/bin/bash"], found


def test_apicurio_registry_is_3_3_3_run_by_uid_1001_from_deployments_with_bash_and_no_curl():
    assert TAGS["apicurio-registry"] == "apicurio/apicurio-registry:3.3.3"
    assert run("apicurio-registry", "id", entrypoint="").split()[0] == "uid=1001"
    image = config("apicurio-registry")
    assert image["User"] == "1001" and {"8080/tcp", "9000/tcp"} <= set(image["ExposedPorts"])
    found = shell("apicurio-registry", "ls /deployments/quarkus-run.jar; command -v bash curl || true").split()
    assert found[0] == "/deployments/quarkus-run.jar" and Path(found[1]).name == "bash" and len(found) == 2, found
