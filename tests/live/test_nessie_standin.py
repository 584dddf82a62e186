"""The Nessie stand-in keeps the contract the program relies on (tests/live/standins/nessie/CONTRACT.md).

Each check runs the image the catalog pins, as the program runs it: its uid, its paths, the
program's own health-check command, its settings file read through QUARKUS_CONFIG_LOCATIONS.
"""

import io
import json
import re
import socket
import subprocess
import tarfile
import time
import urllib.request
from collections.abc import Iterator

import pytest

from components.catalog import SERVICES
from components.service import HealthCheck
from components.storage import NESSIE_MANAGEMENT_PORT, NESSIE_PORT, NESSIE_UID
from tests.live import cli
from tests.live.standins import stack_images

pytestmark = [pytest.mark.live, pytest.mark.usefixtures("standins")]

IMAGE = stack_images()["nessie"]  # the image the e2e stack runs
CONTAINER = "h-nessie-standin-test"
CONFIG_PATH = "/etc/nessie/application.properties"
# A value only the settings file sets: the API echoes it back if Nessie read the file.
DEFAULT_BRANCH = "standin-contract"
JAVA_OPTION_MARK = "-Ddatalyptica.standin.check=appended"
STARTUP_SECONDS = 240


def docker(*args: str, stdin: bytes | None = None, check: bool = True) -> subprocess.CompletedProcess:
    """The tests' docker CLI, answering in bytes."""
    return cli.docker(*args, stdin=stdin, check=check, timeout=120, text=False)


def run_in_image(*command: str) -> str:
    return docker("run", "--rm", "--entrypoint", command[0], IMAGE, *command[1:]).stdout.decode().strip()


def file_archive(path: str, content: str, owner: str, mode: int) -> bytes:
    """A one-file tar, as the docker provider's `uploads` hand it to the engine."""
    data = content.encode()
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        info = tarfile.TarInfo(path.lstrip("/"))
        info.size, info.uid, info.gid, info.mode = len(data), int(owner), int(owner), mode
        archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def get(url: str) -> tuple[int, str]:
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.status, response.read().decode()


def logs() -> str:
    result = docker("logs", CONTAINER)
    return result.stdout.decode() + result.stderr.decode()


def wait_for_api(port: int) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if docker("inspect", "-f", "{{.State.Running}}", CONTAINER).stdout.strip() != b"true":
            pytest.fail("Nessie exited:\n" + logs()[-3000:])
        try:
            get(f"http://127.0.0.1:{port}/api/v2/config")
            return
        except OSError:
            time.sleep(2)
    pytest.fail(f"Nessie's API did not answer within {STARTUP_SECONDS}s")


@pytest.fixture(scope="module")
def nessie() -> Iterator[int]:
    """Nessie in memory, configured only by a settings file owned by its uid, mode 0400; its host port."""
    docker("rm", "-f", CONTAINER, check=False)
    port = free_port()
    settings = f"nessie.version.store.type=IN_MEMORY\nnessie.server.default-branch={DEFAULT_BRANCH}\n"
    docker(
        "create",
        "--name",
        CONTAINER,
        "--memory",
        SERVICES["nessie"].memory,
        "-e",
        f"QUARKUS_CONFIG_LOCATIONS={CONFIG_PATH}",
        "-e",
        f"JAVA_OPTS_APPEND={JAVA_OPTION_MARK}",
        "-p",
        f"127.0.0.1:{port}:{NESSIE_PORT}",
        IMAGE,
    )
    try:
        docker("cp", "-", f"{CONTAINER}:/", stdin=file_archive(CONFIG_PATH, settings, NESSIE_UID, 0o400))
        docker("start", CONTAINER)
        wait_for_api(port)
        yield port
    finally:
        docker("rm", "-f", CONTAINER, check=False)


def test_runs_as_the_uid_that_owns_the_programs_files():
    assert docker("image", "inspect", "-f", "{{.Config.User}}", IMAGE).stdout.decode().strip() == "nessie"
    assert run_in_image("id", "-u") == NESSIE_UID
    assert run_in_image("id", "-g") == "10001"


def test_keeps_upstreams_paths_and_start_command():
    config = json.loads(docker("image", "inspect", "-f", "{{json .Config}}", IMAGE).stdout)
    env = dict(item.split("=", 1) for item in config["Env"])
    assert config["WorkingDir"] == "/home/nessie"
    assert config["Cmd"] == ["/opt/jboss/container/java/run/run-java.sh"]
    assert not config["Entrypoint"]
    assert env["JAVA_APP_JAR"] == "/deployments/quarkus-run.jar"
    assert f"{NESSIE_PORT}/tcp" in config["ExposedPorts"]
    owners = run_in_image("stat", "-c", "%u %n", "/deployments", "/deployments/quarkus-run.jar", "/home/nessie")
    assert owners.splitlines() == [
        f"{NESSIE_UID} /deployments",
        f"{NESSIE_UID} /deployments/quarkus-run.jar",
        f"{NESSIE_UID} /home/nessie",
    ]


def test_the_programs_health_check_passes_when_nessie_is_ready(nessie, deploy):
    test = deploy(layers=["storage"]).containers()["nessie"].inputs["healthcheck"]["tests"]
    assert test[0] == "CMD"
    result = docker("exec", CONTAINER, *test[1:], check=False)
    assert result.returncode == 0, result.stderr.decode()


def test_the_health_check_fails_on_a_path_that_is_not_200(nessie):
    check = HealthCheck.http_via_bash(NESSIE_MANAGEMENT_PORT, "/q/no-such-endpoint")
    assert docker("exec", CONTAINER, *check.test[1:], check=False).returncode != 0


def test_reads_its_settings_through_quarkus_config_locations(nessie):
    status, body = get(f"http://127.0.0.1:{nessie}/api/v2/config")
    assert status == 200
    assert json.loads(body)["defaultBranch"] == DEFAULT_BRANCH


def test_serves_metrics_on_the_management_port(nessie):
    check = HealthCheck.http_via_bash(NESSIE_MANAGEMENT_PORT, "/q/metrics")
    assert docker("exec", CONTAINER, *check.test[1:], check=False).returncode == 0


def test_appends_java_opts_append_to_the_jvms_options(nessie):
    command_line = docker("exec", CONTAINER, "cat", "/proc/1/cmdline").stdout.split(b"\0")
    assert command_line[0] == b"java"
    assert JAVA_OPTION_MARK.encode() in command_line
    assert b"-XX:MaxRAMPercentage=80.0" in command_line


def test_is_the_nessie_version_its_tag_names(nessie):
    started = re.search(r"Nessie (\S+) on JVM", logs())
    assert started, "no start line in Nessie's log"
    assert started.group(1) == IMAGE.rsplit(":", 1)[1]
