"""The Keycloak stand-in keeps its contract (tests/live/standins/keycloak/CONTRACT.md), and the
program's Keycloak and realm job work on it.

Keycloak runs as the program runs it (its command, environment, keycloak.conf, limits) against a
PostgreSQL reached as the program names it (`haproxy:5000`), and must pass the program's own
health check; then the realm job (configs/keycloak/reconcile-realm.sh, with the program's files)
makes the realm, changes nothing that people changed when it runs again, and applies a changed
definition (a moved `endpointHost`, new client secrets) when the program's files change.
"""

import io
import json
import tarfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from components.security import REALM_JOB
from harness.offline import Deployment, engine_config, pulumi_runtime, run_program
from tests.live import cli
from tests.live.standins import discover, stack_images

pytestmark = [pytest.mark.live, pytest.mark.usefixtures("standins")]

IMAGE = stack_images()["keycloak"]
POSTGRES_IMAGE = discover()["postgres"].tag
LAYERS = ["storage", "security", "analytics"]  # clients: the MinIO console, Superset, JupyterHub, Airflow
STARTUP_SECONDS = 420  # the first start re-augments Quarkus and creates the schema, on 1 CPU
KCADM = "/opt/keycloak/bin/kcadm.sh"


def docker(*args: str, stdin: bytes | None = None, check: bool = True, timeout: float = 300):
    return cli.docker(*args, stdin=stdin, check=check, timeout=timeout, text=stdin is None)


def shell(script: str) -> str:
    return docker("run", "--rm", "--entrypoint", "bash", IMAGE, "-c", script).stdout


def envs(container) -> dict[str, str]:
    return dict(item.split("=", 1) for item in container.inputs.get("envs") or [])


def upload_archive(container, rotated: dict[str, str] | None = None) -> bytes:
    """The container's uploads as one tar, with the owner and mode the docker provider gives them;
    `rotated`: client id -> a new secret, put into the realm job's clients.json."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        for upload in container.inputs["uploads"]:
            content = upload["content"]
            if rotated and upload["file"].endswith("/clients.json"):
                document = json.loads(content)
                for client in document["clients"]:
                    client["secret"] = rotated.get(client["clientId"], client["secret"])
                content = json.dumps(document)
            data = content.encode()
            info = tarfile.TarInfo(upload["file"].lstrip("/"))
            owner = int(upload.get("owner") or 0)
            info.size, info.uid, info.gid, info.mode = len(data), owner, owner, int(upload["permissions"], 8)
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def conf(keycloak) -> dict[str, str]:
    [text] = [u["content"] for u in keycloak.inputs["uploads"] if u["file"].endswith("/keycloak.conf")]
    return dict(line.split("=", 1) for line in text.splitlines() if line and not line.startswith("#"))


@dataclass
class Realm:
    """Keycloak (and its PostgreSQL) on a network of their own, started from one rendering of the program."""

    network: str
    keycloak: str
    admin_user: str
    admin_password: str
    logged_in: bool = False

    def login(self, config: str, realm: str, user: str, password: str) -> bool:
        """kcadm.sh's login (a password grant through the realm's admin-cli client): whether it succeeded."""
        login = ["config", "credentials", "--server", "http://localhost:8080", "--realm", realm, "--config", config]
        result = docker("exec", "-e", f"KC_CLI_PASSWORD={password}", self.keycloak, KCADM, *login, "--user", user,
                        check=False)  # fmt: skip
        return result.returncode == 0

    def kcadm(self, *args: str) -> str:
        """kcadm.sh inside Keycloak's container, as the master realm's bootstrap admin (logged in once)."""
        config = "/tmp/kcadm-bootstrap-admin.config"
        if not self.logged_in:
            assert self.login(config, "master", self.admin_user, self.admin_password), "the bootstrap admin's login"
            self.logged_in = True
        return docker("exec", self.keycloak, KCADM, *args, "--config", config).stdout

    def first_admin_logs_in(self, password: str) -> bool:
        return self.login(f"/tmp/kcadm-{uuid.uuid4().hex[:6]}.config", "datalyptica", "admin", password)

    def get(self, path: str, *fields: str) -> list[dict]:
        return json.loads(
            self.kcadm("get", path, "-r", "datalyptica", *(["--fields", ",".join(fields)] if fields else []))
        )

    def run_job(self, deployment: Deployment, rotated: dict[str, str] | None = None) -> str:
        """The realm job of this rendering, as the program runs it (with `rotated`, those clients'
        secrets replaced in its clients.json, as a rotated secret would); what it printed."""
        job = deployment.containers()[REALM_JOB]
        name = f"keycloak-check-job-{uuid.uuid4().hex[:8]}"
        docker(
            "create", "--name", name, "--network", self.network, "--group-add", "0",
            "--memory", f"{job.inputs['memory']}m", "--entrypoint", *job.inputs["entrypoints"],
            IMAGE, *job.inputs["command"],
        )  # fmt: skip
        try:
            docker("cp", "-", f"{name}:/", stdin=upload_archive(job, rotated or {}))
            result = docker("start", "--attach", name, check=False, timeout=300)
            assert result.returncode == 0, f"the realm job failed:\n{result.stdout[-3000:]}{result.stderr[-3000:]}"
            return result.stdout
        finally:
            docker("rm", "--force", name, check=False)


def render(**config) -> Deployment:
    """The program under mocks, on a runtime of its own: the module's fixtures run before the one
    tests/conftest.py gives each test."""
    with pulumi_runtime():
        return run_program(engine_config({"layers": LAYERS, "protectData": False, **config}))


@pytest.fixture(scope="module")
def rendering() -> Deployment:
    return render()


@pytest.fixture(scope="module")
def realm(rendering: Deployment) -> Iterator[Realm]:
    suffix = uuid.uuid4().hex[:8]
    network, database, keycloak = (f"keycloak-check-{part}-{suffix}" for part in ("net", "pg", "kc"))
    server = rendering.containers()["keycloak"]
    settings = conf(server)
    docker("network", "create", network)
    try:
        docker(
            "run", "--detach", "--name", database, "--network", network, "--network-alias", "haproxy",
            "-e", f"POSTGRES_USER={settings['db-username']}", "-e", f"POSTGRES_PASSWORD={settings['db-password']}",
            "-e", f"POSTGRES_DB={settings['db-url'].rsplit('/', 1)[1]}", POSTGRES_IMAGE, "-p", "5000",
        )  # fmt: skip
        environment = [arg for name, value in envs(server).items() for arg in ("-e", f"{name}={value}")]
        docker(
            "create", "--name", keycloak, "--network", network, "--network-alias", "keycloak",
            "--group-add", "0", "--memory", f"{server.inputs['memory']}m", "--cpus", "1",
            *environment, IMAGE, *server.inputs["command"],
        )  # fmt: skip
        docker("cp", "-", f"{keycloak}:/", stdin=upload_archive(server))
        docker("start", keycloak)
        check = server.inputs["healthcheck"]["tests"]
        assert check[0] == "CMD"
        assert docker("exec", keycloak, *check[1:], check=False).returncode != 0, "healthy before it started"
        deadline = time.monotonic() + STARTUP_SECONDS
        while docker("exec", keycloak, *check[1:], check=False).returncode != 0:
            if docker("inspect", "-f", "{{.State.Running}}", keycloak).stdout.strip() != "true":
                logs = docker("logs", keycloak)
                pytest.fail(f"Keycloak exited:\n{(logs.stdout + logs.stderr)[-4000:]}")
            assert time.monotonic() < deadline, f"the program's health check did not pass within {STARTUP_SECONDS} s"
            time.sleep(3)
        yield Realm(network, keycloak, settings["bootstrap-admin-username"], settings["bootstrap-admin-password"])
    finally:
        docker("rm", "--force", "--volumes", keycloak, database, check=False)
        docker("network", "rm", network, check=False)


# ---- the image -----------------------------------------------------------------------------


def test_keycloak_is_the_pinned_distribution_with_upstreams_entrypoint_user_and_environment():
    assert IMAGE == "quay.io/keycloak/keycloak:26.7.2"
    assert shell("cat /opt/keycloak/version.txt").strip() == "Keycloak - Version 26.7.2"
    config = json.loads(docker("image", "inspect", "-f", "{{json .Config}}", IMAGE).stdout)
    assert config["Entrypoint"] == ["/opt/keycloak/bin/kc.sh"] and not config["Cmd"]
    assert config["User"] == "1000"
    assert set(config["ExposedPorts"]) == {"8080/tcp", "8443/tcp", "9000/tcp"}
    assert {"KC_RUN_IN_CONTAINER=true", "LANG=en_US.UTF-8"} <= set(config["Env"])


def test_keycloak_runs_as_uid_1000_in_group_0_owning_a_group_writable_home():
    assert shell("id -u; id -g").split() == ["1000", "0"]
    assert shell("getent passwd 1000").strip() == "keycloak:x:1000:0:keycloak user:/opt/keycloak:/sbin/nologin"
    # The folders Keycloak writes (a re-augmented build into lib/, data/) and reads (conf/); the
    # folder /opt/keycloak itself is made by COPY, 0755, as upstream's same COPY makes it.
    assert shell("stat -c '%u:%g %A' /opt/keycloak/conf /opt/keycloak/data /opt/keycloak/lib").split() == [
        "1000:0",
        "drwxrwxr-x",
        "1000:0",
        "drwxrwxr-x",
        "1000:0",
        "drwxrwxr-x",
    ]


def test_keycloak_has_bash_for_the_health_check_kcadm_for_the_realm_job_and_no_curl_or_wget():
    assert shell("command -v bash head grep xargs java").split() == [
        "/usr/bin/bash",
        "/usr/bin/head",
        "/usr/bin/grep",
        "/usr/bin/xargs",
        "/usr/bin/java",
    ]
    assert shell("command -v curl wget || echo neither").strip() == "neither"
    assert shell("test -x /opt/keycloak/bin/kcadm.sh && echo yes").strip() == "yes"


# ---- the program's Keycloak and realm job ----------------------------------------------------


def test_keycloak_from_the_programs_config_passes_its_health_check_and_has_no_realm_yet(realm: Realm):
    realms = json.loads(realm.kcadm("get", "realms", "--fields", "realm"))
    assert [r["realm"] for r in realms] == ["master"], "the realm is the job's to make"


def test_the_realm_job_makes_the_realm_its_clients_groups_and_a_first_admin_who_can_log_in(
    realm: Realm, rendering: Deployment
):
    printed = realm.run_job(rendering)
    assert "realm datalyptica: created" in printed
    clients = {c["clientId"]: c for c in realm.get("clients", "clientId", "redirectUris", "secret", "publicClient")}
    defined = json.loads(_job_file(rendering, "clients.json"))["clients"]
    for client in defined:
        made = clients[client["clientId"]]
        assert made["redirectUris"] == client["redirectUris"] and made["secret"] == client["secret"]
        assert made["publicClient"] is False
    assert {c["clientId"] for c in defined} == {"minio-console", "superset", "jupyterhub", "airflow"}
    assert {g["name"] for g in realm.get("groups", "name")} == {"platform-admins", "platform-users"}
    assert realm.first_admin_logs_in(rendering.outputs["platform_admin_password"])
    assert not realm.first_admin_logs_in("not-the-password")
    [admin] = realm.get("users", "id", "username")
    groups = json.loads(realm.kcadm("get", f"users/{admin['id']}/groups", "-r", "datalyptica", "--fields", "name"))
    assert [g["name"] for g in groups] == ["platform-admins"]


def test_the_realm_job_run_again_keeps_what_people_changed_and_sets_the_first_admin_back(
    realm: Realm, rendering: Deployment
):
    realm.kcadm("create", "users", "-r", "datalyptica", "-s", "username=analyst", "-s", "enabled=true")
    [analyst] = [u for u in realm.get("users", "id", "username") if u["username"] == "analyst"]
    [users_group] = [g for g in realm.get("groups", "id", "name") if g["name"] == "platform-users"]
    realm.kcadm(
        "update", f"users/{analyst['id']}/groups/{users_group['id']}", "-r", "datalyptica",
        "-s", "realm=datalyptica", "-s", f"userId={analyst['id']}", "-s", f"groupId={users_group['id']}", "-n",
    )  # fmt: skip
    [admin] = [u for u in realm.get("users", "id", "username") if u["username"] == "admin"]
    changed = {"type": "password", "value": "changed-by-hand-1", "temporary": False}
    realm.kcadm("update", f"users/{admin['id']}/reset-password", "-r", "datalyptica", "-b", json.dumps(changed), "-n")

    assert "realm datalyptica: settings set" in realm.run_job(rendering)
    members = json.loads(realm.kcadm("get", f"groups/{users_group['id']}/members", "-r", "datalyptica"))
    assert [m["username"] for m in members] == ["analyst"], "the group's members stay"
    assert not realm.first_admin_logs_in("changed-by-hand-1")
    assert realm.first_admin_logs_in(rendering.outputs["platform_admin_password"])


def test_a_moved_host_and_a_rotated_secret_reach_keycloak_when_the_job_runs_again(realm: Realm):
    moved = render(endpointHost="data.example.internal")
    realm.run_job(moved, rotated={"superset": "rotated-superset-secret"})
    clients = {c["clientId"]: c for c in realm.get("clients", "clientId", "redirectUris", "secret")}
    assert clients["airflow"]["redirectUris"] == ["http://data.example.internal:8090/auth/oauth-authorized/keycloak"]
    assert clients["superset"]["secret"] == "rotated-superset-secret"
    assert clients["jupyterhub"]["secret"] == next(
        c["secret"] for c in json.loads(_job_file(moved, "clients.json"))["clients"] if c["clientId"] == "jupyterhub"
    )


def _job_file(deployment: Deployment, name: str) -> str:
    [content] = [
        u["content"] for u in deployment.containers()[REALM_JOB].inputs["uploads"] if u["file"].endswith(f"/{name}")
    ]
    return content
