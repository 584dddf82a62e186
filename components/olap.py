"""OlapLayer: ClickHouse, with one generated admin login and its metrics for Prometheus.

The login reaches ClickHouse as a users.d file holding only the password's SHA-256 (the image's
CLICKHOUSE_USER/CLICKHOUSE_PASSWORD variables would show the password in `docker inspect`).
Other layers receive a `ClickHouseEndpoint`, never this layer.
"""

import hashlib
from dataclasses import dataclass

import pulumi
import pulumi_docker as docker

from components import secrets
from components.service import File, HealthCheck, Metrics, Platform, Port, Service
from components.templates import render, render_output

HTTP_PORT = 8123
NATIVE_PORT = 9000
METRICS_PORT = 9363
METRICS_PATH = "/metrics"
CLICKHOUSE_UID = "101"  # the clickhouse user of the official image (ubuntu and alpine alike)
DATA_DIR = "/var/lib/clickhouse"
USERS_FILE = "/etc/clickhouse-server/users.d/datalyptica.xml"
SERVER_FILE = "/etc/clickhouse-server/config.d/datalyptica.xml"
OPEN_FILES = 262144  # ClickHouse's documented nofile limit


@dataclass(frozen=True)
class ClickHouseEndpoint:
    """ClickHouse as containers on `network` reach it, with the admin login (secret Outputs)."""

    network: docker.Network
    host: str
    http_port: int
    native_port: int
    user: pulumi.Output[str]
    password: pulumi.Output[str]
    resources: tuple[pulumi.Resource, ...]  # what a client's container waits on

    @property
    def jdbc_url(self) -> str:
        """The JDBC URL of ClickHouse's own driver (over HTTP), as Trino's connector takes it."""
        return f"jdbc:clickhouse://{self.host}:{self.http_port}/"


def sha256_hex(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


class OlapLayer(pulumi.ComponentResource):
    def __init__(self, platform: Platform, *, opts: pulumi.ResourceOptions | None = None):
        super().__init__("datalyptica:olap:OlapLayer", "olap", None, opts)
        self.network = platform.network("olap", parent=self)
        self.admin_user = secrets.username("clickhouse-admin-user", parent=self)
        self.admin_password = secrets.password("clickhouse-admin-password", parent=self)

        users = render_output(
            "clickhouse/users.xml.j2",
            user=self.admin_user,
            password_sha256_hex=self.admin_password.apply(sha256_hex),
        )
        server = render("clickhouse/server.xml.j2", metrics_port=METRICS_PORT, metrics_path=METRICS_PATH)
        self.clickhouse = Service(
            "clickhouse",
            platform=platform,
            spec=platform.settings.service("clickhouse"),
            networks=[self.network],
            # Users come from our users.d file only: without this the entrypoint writes its own
            # default-user.xml (and would put a CLICKHOUSE_PASSWORD there in plain text).
            env={"CLICKHOUSE_SKIP_USER_SETUP": "1"},
            files=[File(USERS_FILE, users, secret=True, owner=CLICKHOUSE_UID), File(SERVER_FILE, server)],
            volumes={"data": DATA_DIR},
            ports=[Port("clickhouse-http", HTTP_PORT), Port("clickhouse-native", NATIVE_PORT)],
            healthcheck=HealthCheck.wget(f"http://127.0.0.1:{HTTP_PORT}/ping"),
            metrics=Metrics(METRICS_PORT, METRICS_PATH),
            ulimits=[docker.ContainerUlimitArgs(name="nofile", soft=OPEN_FILES, hard=OPEN_FILES)],
            opts=pulumi.ResourceOptions(parent=self),
        )

        self.endpoint = ClickHouseEndpoint(
            network=self.network,
            host="clickhouse",
            http_port=HTTP_PORT,
            native_port=NATIVE_PORT,
            user=self.admin_user,
            password=self.admin_password,
            resources=(self.clickhouse.container,),
        )
        self.urls = {
            "clickhouse_http": platform.url("clickhouse-http", "http"),
            "clickhouse_native": platform.url("clickhouse-native", "clickhouse"),
        }
        self.credentials = {"clickhouse_user": self.admin_user, "clickhouse_password": self.admin_password}
        self.register_outputs({**{name: url for name, url in self.urls.items() if url}, **self.credentials})
