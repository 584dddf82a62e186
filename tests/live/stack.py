"""What the live tests read of the deployed e2e stack: its containers (from the state), their host
ports, clients of its endpoints, and waits on its health."""

from __future__ import annotations

import contextlib
import io
import tarfile
import threading
import time
from collections.abc import Iterable, Iterator

import boto3
import docker
import psycopg
from botocore.config import Config

from components.storage import POSTGRES_PRIMARY_PORT
from harness.offline import Registered
from tests.integration.pgcluster import LOCALHOST, wait_for
from tests.live.deploy import LiveDeployment, running_beside
from tests.live.dockerd import TestDaemon

HEALTHY_AGAIN_SECONDS = 240


def containers(live: LiveDeployment) -> dict[str, Registered]:
    return live.deployment.containers()


def servers(live: LiveDeployment) -> dict[str, Registered]:
    """Long-running containers (jobs created but not started, and one-shot jobs, left out)."""
    return {name: c for name, c in containers(live).items() if c.inputs.get("healthcheck")}


def host_port(container: Registered, internal: int) -> int:
    [port] = [p["external"] for p in container.inputs.get("ports") or [] if p["internal"] == internal]
    return int(port)  # the wire carries numbers as doubles


def published_url(live: LiveDeployment, service: str, internal: int, scheme: str = "http") -> str:
    """How a test on this machine reaches `service`'s port `internal`: its host port on 127.0.0.1."""
    return f"{scheme}://{LOCALHOST}:{host_port(containers(live)[service], internal)}"


def database_access(live: LiveDeployment, consumer: str) -> dict[str, str]:
    """The role and database the program made for `consumer` (storage.database)."""
    role = live.deployment.named(f"{consumer}-db-role", "postgresql:index/role:Role")
    database = live.deployment.named(f"{consumer}-database", "postgresql:index/database:Database")
    return {"user": role.inputs["name"], "password": role.inputs["password"], "database": database.inputs["name"]}


def connect_database(live: LiveDeployment, consumer: str) -> psycopg.Connection:
    """`consumer`'s own database as its role, through HAProxy's primary port on 127.0.0.1."""
    access = database_access(live, consumer)
    return psycopg.connect(
        host=LOCALHOST,
        port=host_port(containers(live)["haproxy"], POSTGRES_PRIMARY_PORT),
        user=access["user"],
        password=access["password"],
        dbname=access["database"],
        connect_timeout=10,
        autocommit=True,
    )


def daemon_api(daemon: TestDaemon) -> docker.APIClient:
    """A client of the tests' own Docker Engine, patient with slow calls (stats, stops)."""
    return docker.APIClient(base_url=daemon.host, version="auto", timeout=300)


def s3_client(url: str, access_key: str, secret_key: str):
    """A boto3 S3 client of the object store, buckets by path."""
    return boto3.client(
        "s3",
        endpoint_url=url,
        aws_access_key_id=access_key,
        aws_secret_access_key=secret_key,
        region_name="us-east-1",
        config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 2}),
    )


def memory_of(api: docker.APIClient, container: str) -> dict[str, int]:
    """MiB in use now (less inactive page cache, as `docker stats`), at the peak since the start
    (cgroup v1 max_usage, page cache included) and the limit."""
    _, peak = exec_in(api, container, ["cat", "/sys/fs/cgroup/memory/memory.max_usage_in_bytes"])
    stats = api.stats(container, stream=False)["memory_stats"]
    cache = stats.get("stats", {}).get("total_inactive_file", stats.get("stats", {}).get("inactive_file", 0))
    return {
        "mib_now": (stats["usage"] - cache) >> 20,
        "mib_peak": int(peak.strip()) >> 20,
        "mib_limit": stats["limit"] >> 20,
    }


def memory_inside_limits(api: docker.APIClient, live: LiveDeployment, services: Iterable[str]) -> dict[str, dict]:
    """Each service's memory (`memory_of`), asserted neither killed for memory nor at its limit."""
    figures = {}
    for service in services:
        name = container_name(containers(live)[service])
        figures[service] = memory_of(api, name)
        assert not api.inspect_container(name)["State"]["OOMKilled"], f"{service} was killed for memory"
        assert figures[service]["mib_peak"] < figures[service]["mib_limit"], f"{service} reached its memory limit"
    return figures


@contextlib.contextmanager
def memory_while_running(api: docker.APIClient, container: str) -> Iterator[dict[str, int]]:
    """A job's memory while the block runs it: the peak (cgroup v1 max_usage, page cache included)
    and the limit, from Docker's stats sampled until the block ends; its cgroup, and with it the
    peak `memory_of` reads, is gone once it exits."""
    seen = {"mib_peak": 0, "mib_limit": 0}
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            with contextlib.suppress(docker.errors.APIError):
                stats = api.stats(container, stream=False)["memory_stats"]
                seen["mib_peak"] = max(seen["mib_peak"], stats.get("max_usage", 0) >> 20)
                seen["mib_limit"] = (stats.get("limit", 0) >> 20) or seen["mib_limit"]
            done.wait(0.5)

    with running_beside(sample, stop=done.set, timeout=30):
        yield seen


def container_name(container: Registered) -> str:
    return container.inputs["name"]


def crash(api: docker.APIClient, container: str) -> None:
    """The container's processes killed (SIGKILL), then started again as its restart policy would:
    the Engine does not restart a container killed through its API."""
    api.kill(container)
    if not api.inspect_container(container)["State"]["Running"]:
        api.start(container)


def exec_in(api: docker.APIClient, container: str, command: list[str], user: str = "") -> tuple[int, str]:
    created = api.exec_create(container, command, user=user)
    output = api.exec_start(created["Id"]).decode(errors="replace")
    return api.exec_inspect(created["Id"])["ExitCode"], output


def copy_into(api: docker.APIClient, container: str, directory: str, name: str, text: str) -> str:
    """`docker cp` of one file into a container's directory, readable by any user; its path."""
    data = text.encode()
    archive = io.BytesIO()
    with tarfile.open(fileobj=archive, mode="w") as tar:
        entry = tarfile.TarInfo(name)
        entry.size, entry.mode = len(data), 0o444
        tar.addfile(entry, io.BytesIO(data))
    api.put_archive(container, directory, archive.getvalue())
    return f"{directory}/{name}"


def wait_all_healthy(api: docker.APIClient, live: LiveDeployment, timeout: float = HEALTHY_AGAIN_SECONDS) -> None:
    names = [container_name(c) for c in servers(live).values()]

    def unhealthy() -> list[str]:
        return [n for n in names if (api.inspect_container(n)["State"].get("Health") or {}).get("Status") != "healthy"]

    try:
        wait_for(lambda: not unhealthy(), timeout=timeout, what="every container healthy", interval=1)
    except TimeoutError as timeout_error:
        still = unhealthy()
        raise TimeoutError(f"{timeout_error} (still not: {still})\n{health_report(api, still)}") from None


def health_report(api: docker.APIClient, names: list[str], log_lines: int = 40) -> str:
    """What a failed wait needs to be understood after the run is gone: each container's state,
    restarts, OOM kills, its last health check outputs and the tail of its log."""
    sections = []
    for name in names:
        try:
            state = api.inspect_container(name)["State"]
            log = api.logs(name, tail=log_lines).decode(errors="replace")
        except docker.errors.APIError as error:
            sections.append(f"== {name}: not inspectable ({error})")
            continue
        health = state.get("Health") or {}
        checks = [entry.get("Output", "").strip()[-300:] for entry in (health.get("Log") or [])[-3:]]
        sections.append(
            f"== {name}: {state.get('Status')}, health {health.get('Status')}, exit code {state.get('ExitCode')}, "
            f"OOM-killed {state.get('OOMKilled')}, started {state.get('StartedAt')}\n"
            + "".join(f"-- health check: {check}\n" for check in checks)
            + f"-- last {log_lines} log lines:\n{log}"
        )
    return "\n".join(sections)


def wait_healthy(api: docker.APIClient, container: str, timeout: float = HEALTHY_AGAIN_SECONDS) -> float:
    """Seconds until `container`'s health check passes."""
    started = time.monotonic()
    wait_for(
        lambda: (api.inspect_container(container)["State"].get("Health") or {}).get("Status") == "healthy",
        timeout=timeout,
        what=f"{container} healthy",
        interval=1,
    )
    return time.monotonic() - started


def notebook_container(prefix: str, username: str) -> str:
    """The name DockerSpawner gives a user's notebook server (jupyterhub_config.py.j2)."""
    return f"{prefix}-jupyter-{username}"


def remove_notebook_volume(api: docker.APIClient, prefix: str, username: str) -> None:
    """After a user's server stopped: DockerSpawner removes its container (`remove = True`) and
    leaves the user's volume, which no Pulumi resource owns; a test's user leaves nothing."""
    container = notebook_container(prefix, username)
    wait_for(
        lambda: not api.containers(all=True, filters={"name": f"^/{container}$"}),
        timeout=60,
        what=f"{container} removed",
        interval=1,
    )
    api.remove_volume(f"{prefix}-jupyter-home-{username}", force=True)
