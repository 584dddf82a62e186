"""OlapLayer: ClickHouse, with one generated admin login and its metrics for Prometheus.

The login reaches ClickHouse as a users.d file holding only the password's SHA-256 (the image's
CLICKHOUSE_USER/CLICKHOUSE_PASSWORD variables would show the password in `docker inspect`).
Other layers receive its `ClickHouseEndpoint` (components/endpoints.py), never the layer.
"""

import hashlib

from components import secrets
from components.endpoints import ClickHouseEndpoint
from components.layer import Layer
from components.platform import Platform
from components.service import File, HealthCheck, Metrics, Port, Server, ServiceArgs, Ulimit
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


def sha256_hex(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


class OlapLayer(Layer):
    layer = "olap"

    def __init__(self, platform: Platform):
        super().__init__(platform)
        self.network = self.own_network("olap")
        self.admin_user = secrets.username("clickhouse-admin-user", parent=self)
        self.admin_password = secrets.password("clickhouse-admin-password", parent=self)

        users = render_output(
            "clickhouse/users.xml.j2",
            user=self.admin_user,
            password_sha256_hex=self.admin_password.apply(sha256_hex),
        )
        server = render("clickhouse/server.xml.j2", metrics_port=METRICS_PORT, metrics_path=METRICS_PATH)
        self.clickhouse = self.service(
            "clickhouse",
            ServiceArgs(
                spec=self.spec("clickhouse"),
                lifecycle=Server(HealthCheck.wget(f"http://127.0.0.1:{HTTP_PORT}/ping")),
                networks=[self.network],
                # Users come from our users.d file only: without this the entrypoint writes its own
                # default-user.xml (and would put a CLICKHOUSE_PASSWORD there in plain text).
                env={"CLICKHOUSE_SKIP_USER_SETUP": "1"},
                files=[File(USERS_FILE, users, secret=True, owner=CLICKHOUSE_UID), File(SERVER_FILE, server)],
                volumes={"data": DATA_DIR},
                ports=[Port("clickhouse-http", HTTP_PORT), Port("clickhouse-native", NATIVE_PORT)],
                metrics=Metrics(METRICS_PORT, METRICS_PATH),
                ulimits=[Ulimit("nofile", OPEN_FILES, OPEN_FILES)],
            ),
        )

        self.endpoint = ClickHouseEndpoint(
            host=self.clickhouse.host,
            port=HTTP_PORT,
            networks=(self.network,),
            resources=(self.clickhouse.container,),
            native_port=NATIVE_PORT,
            user=self.admin_user,
            password=self.admin_password,
        )
        self.credentials = {"clickhouse_user": self.admin_user, "clickhouse_password": self.admin_password}
        self.finish()
