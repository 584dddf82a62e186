"""Redis: the broker of Airflow's Celery workers and Superset's cache, one password, data on a volume."""

from typing import TYPE_CHECKING

from components import analytics_configs as configs
from components.endpoints import RedisEndpoint
from components.service import File, HealthCheck, Port, Server, ServiceArgs

if TYPE_CHECKING:
    from components.analytics import AnalyticsLayer

REDIS_PORT = 6379
REDIS_UID = "999"  # redis:7.2-bookworm's redis user
REDIS_CONFIG = "/usr/local/etc/redis/redis.conf"
# redis-cli logged in with the password in the config, for shell commands inside the container.
REDIS_CLI = f"REDISCLI_AUTH=\"$(sed -n 's/^requirepass //p' {REDIS_CONFIG})\" redis-cli"


def server(layer: "AnalyticsLayer") -> RedisEndpoint:
    auth_then_ping = f"{REDIS_CLI} ping | grep -q PONG"
    service = layer.service(
        "redis",
        ServiceArgs(
            spec=layer.spec("redis"),
            lifecycle=Server(HealthCheck.shell(auth_then_ping, start_period="10s")),
            networks=[layer.network],
            command=["redis-server", REDIS_CONFIG, "--appendonly", "yes"],
            files=[
                File(
                    REDIS_CONFIG, layer.redis_password.apply(configs.render_redis_config), secret=True, owner=REDIS_UID
                )
            ],
            volumes={"data": "/data"},
            ports=[Port("redis", REDIS_PORT)],
        ),
    )
    return RedisEndpoint(service.host, REDIS_PORT, service.networks, (service.container,), layer.redis_password)
