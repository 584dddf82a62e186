"""MonitoringLayer: Prometheus, Alertmanager, Grafana, Loki and Alloy, plus exporters.

Fed by the layers it is given: Prometheus scrapes each layer's `metrics_targets` (its servers
that declare `Metrics`), one job per service labelled with its layer and name, and joins exactly
those services' networks. Where a layer asks for an exporter (`watched`: PostgreSQL through
HAProxy, Redis, Kafka), the exporter runs next to that service. Alloy ships every container's
logs of this stack to Loki and serves container and host metrics.
"""

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import PurePosixPath

import pulumi
import pulumi_docker as docker

from components import secrets
from components.endpoints import KafkaEndpoint, PostgresToWatch, RedisEndpoint, Watched
from components.layer import Layer
from components.platform import Platform
from components.service import BindMount, File, HealthCheck, Metrics, MetricsTarget, Port, Server, Service, ServiceArgs
from components.sso import ADMIN_ROLE, OidcClient
from components.templates import render, static_config

PROMETHEUS_PORT = 9090
ALERTMANAGER_PORT = 9093
GRAFANA_PORT = 3000
LOKI_PORT = 3100
ALLOY_PORT = 12345
POSTGRES_EXPORTER_PORT = 9187
REDIS_EXPORTER_PORT = 9121
KAFKA_EXPORTER_PORT = 9308
GRAFANA_UID = "472"
EXPORTER_UID = "65534"  # nobody: the postgres-exporter image's user
REDIS_EXPORTER_UID = "59000"  # the redis_exporter image's user

# Alloy's exporters, by component label; Prometheus scrapes them through Alloy's HTTP server.
ALLOY_EXPORTERS = {
    "cadvisor": ("prometheus.exporter.cadvisor", "containers"),
    "node": ("prometheus.exporter.unix", "host"),
}


@dataclass(frozen=True)
class ScrapeTarget:
    job: str
    address: str
    path: str
    layer: str
    service: str
    user: str | None = None


def scrape_targets(targets: Iterable[MetricsTarget]) -> list[ScrapeTarget]:
    """One job per service that declares metrics, named after the service."""
    return [
        ScrapeTarget(
            job=target.service,
            address=f"{target.host}:{target.metrics.port}",
            path=target.metrics.path,
            layer=target.layer,
            service=target.service,
            user=target.metrics.user,
        )
        for target in targets
    ]


def alloy_targets() -> list[ScrapeTarget]:
    return [
        ScrapeTarget(
            job=f"alloy-{name}",
            address=f"alloy:{ALLOY_PORT}",
            path=f"/api/v0/component/{component}.{label}/metrics",
            layer="monitoring",
            service="alloy",
        )
        for name, (component, label) in ALLOY_EXPORTERS.items()
    ]


def networks_to_reach(targets: Iterable[MetricsTarget]) -> list[docker.Network]:
    """Networks of the targets, enough to share one with each: a target's first network unless
    one of its others is already joined (Keycloak, on every UI's SSO network, adds none)."""
    joined: dict[int, docker.Network] = {}
    for target in targets:
        if target.networks and not any(id(network) in joined for network in target.networks):
            joined[id(target.networks[0])] = target.networks[0]
    return list(joined.values())


def rule_files(watched: Iterable[Watched]) -> dict[str, str]:
    """Rule files by name: the platform's always, PostgreSQL's and Kafka's where they run."""
    rules = {"platform.yml": static_config("prometheus/rules/platform.yml")}
    for service in watched:
        match service:
            case PostgresToWatch():
                rules["postgres.yml"] = static_config("prometheus/rules/postgres.yml")
            case KafkaEndpoint(brokers=brokers):
                rules["kafka.yml"] = render("prometheus/rules/kafka.yml.j2", brokers=len(brokers))
    return rules


def prometheus_config(platform_name: str, targets: list[ScrapeTarget]) -> str:
    return render(
        "prometheus/prometheus.yml.j2",
        platform=platform_name,
        targets=targets,
        alertmanager=f"alertmanager:{ALERTMANAGER_PORT}",
    )


class MonitoringLayer(Layer):
    layer = "monitoring"

    def __init__(self, platform: Platform, layers: Sequence[Layer], *, sso: OidcClient | None = None):
        """`layers`: every other layer of the stack, whose metrics targets Prometheus scrapes and
        whose `watched` services get an exporter; `sso`: Grafana's OIDC client."""
        super().__init__(platform)
        self.network = self.own_network("monitoring")
        self.grafana_admin_user = secrets.username("grafana-admin-user", parent=self)
        self.grafana_admin_password = secrets.password("grafana-admin-password", parent=self)
        watched = [service for layer in layers for service in layer.watched]

        self.loki = self._loki()
        self.alertmanager = self._alertmanager()
        self.alloy = self._alloy()
        self.grafana = self._grafana(sso)
        self.exporters = self._exporters(watched)
        # Last: it scrapes every target above and those of the layers.
        targets = [*(target for layer in layers for target in layer.metrics_targets), *self.metrics_targets]
        self.prometheus = self._prometheus(targets, rule_files(watched))

        self.credentials = {
            "grafana_admin_user": self.grafana_admin_user,
            "grafana_admin_password": self.grafana_admin_password,
        }
        self.finish()

    # ---- the services --------------------------------------------------------------------

    def _loki(self) -> Service:
        config = "/etc/loki/config.yaml"
        # The image is distroless with no shell or wget since 3.6.0; from 3.6.5 the binary checks itself.
        ready = HealthCheck.command(
            "/usr/bin/loki", "-health", f"-health.url=http://localhost:{LOKI_PORT}/ready", start_period="30s"
        )
        return self._static_config_server("loki", LOKI_PORT, ready, config, [f"-config.file={config}"], "/loki")

    def _alertmanager(self) -> Service:
        config = "/etc/alertmanager/alertmanager.yml"
        ready = HealthCheck.wget(f"http://localhost:{ALERTMANAGER_PORT}/-/ready")
        command = [f"--config.file={config}", "--storage.path=/alertmanager"]
        return self._static_config_server("alertmanager", ALERTMANAGER_PORT, ready, config, command, "/alertmanager")

    def _static_config_server(
        self, name: str, port: int, ready: HealthCheck, config: str, command: list[str], data_dir: str
    ) -> Service:
        """A server of this layer that reads configs/<name>/<file> at `config`, keeps its data in
        a volume at `data_dir` and serves its own metrics on its published port."""
        return self.service(
            name,
            ServiceArgs(
                spec=self.spec(name),
                lifecycle=Server(ready),
                networks=[self.network],
                command=command,
                files=[File(config, static_config(f"{name}/{PurePosixPath(config).name}"))],
                volumes={"data": data_dir},
                ports=[Port(name, port)],
                metrics=Metrics(port),
            ),
        )

    def _alloy(self) -> Service:
        config = "/etc/alloy/config.alloy"
        content = render(
            "alloy/config.alloy.j2",
            stack=pulumi.get_stack(),
            loki_push_url=f"http://loki:{LOKI_PORT}/loki/api/v1/push",
            cadvisor=ALLOY_EXPORTERS["cadvisor"][1],
            host=ALLOY_EXPORTERS["node"][1],
        )

        return self.service(
            "alloy",
            ServiceArgs(
                spec=self.spec("alloy"),
                # grafana/alloy Dockerfile @ v1.17.1 installs no curl or wget (tests/health_evidence.toml).
                lifecycle=Server(HealthCheck.http_via_bash(ALLOY_PORT, "/-/ready")),
                networks=[self.network],
                command=[
                    "run",
                    f"--server.http.listen-addr=0.0.0.0:{ALLOY_PORT}",
                    "--storage.path=/var/lib/alloy/data",
                    config,
                ],
                files=[File(config, content)],
                volumes={"data": "/var/lib/alloy/data"},
                ports=[Port("alloy", ALLOY_PORT)],
                metrics=Metrics(ALLOY_PORT),
                # Read-only mounts: the Docker socket (container discovery, logs, cAdvisor), Docker's
                # data and the host's /, /proc, /sys (container and filesystem statistics). Only
                # Alloy gets them; cAdvisor needs the host's cgroup namespace to see other containers.
                bind_mounts=[
                    BindMount(self.settings.docker_socket, "/var/run/docker.sock"),
                    BindMount("/var/lib/docker", "/var/lib/docker"),
                    BindMount("/", "/host/root"),
                    BindMount("/proc", "/host/proc"),
                    BindMount("/sys", "/host/sys"),
                ],
                cgroupns_mode="host",
            ),
        )

    def _grafana(self, sso: OidcClient | None) -> Service:
        secrets_dir = "/etc/grafana/secrets"
        env = {
            "GF_SECURITY_ADMIN_USER__FILE": f"{secrets_dir}/admin-user",
            "GF_SECURITY_ADMIN_PASSWORD__FILE": f"{secrets_dir}/admin-password",
            "GF_USERS_ALLOW_SIGN_UP": "false",
            "GF_ANALYTICS_REPORTING_ENABLED": "false",
            "GF_ANALYTICS_CHECK_FOR_UPDATES": "false",
        }
        if root_url := self.platform.url("grafana"):
            env["GF_SERVER_ROOT_URL"] = root_url
        files = [
            File(f"{secrets_dir}/admin-user", self.grafana_admin_user, secret=True, owner=GRAFANA_UID),
            File(f"{secrets_dir}/admin-password", self.grafana_admin_password, secret=True, owner=GRAFANA_UID),
            *[
                File(f"/etc/grafana/{path}", static_config(f"grafana/{path}"))
                for path in (
                    "provisioning/datasources/datasources.yaml",
                    "provisioning/dashboards/dashboards.yaml",
                    "dashboards/platform-overview.json",
                )
            ],
        ]
        networks = [self.network]
        if sso is not None:
            env.update(grafana_oauth_env(sso, f"{secrets_dir}/oauth-client-secret"))
            files.append(File(f"{secrets_dir}/oauth-client-secret", sso.client_secret, secret=True, owner=GRAFANA_UID))
            if sso.network is not None:
                networks.append(sso.network)
        return self.service(
            "grafana",
            ServiceArgs(
                spec=self.spec("grafana"),
                lifecycle=Server(HealthCheck.curl(f"http://localhost:{GRAFANA_PORT}/api/health")),
                networks=networks,
                env=env,
                files=files,
                volumes={"data": "/var/lib/grafana"},
                ports=[Port("grafana", GRAFANA_PORT)],
                metrics=Metrics(GRAFANA_PORT),
            ),
        )

    # ---- exporters for services without metrics of their own ----------------------------

    def _exporters(self, watched: Sequence[Watched]) -> list[Service]:
        """PostgreSQL's, Redis's and Kafka's exporters, in that order, for those the layers run."""
        postgres = [w for w in watched if isinstance(w, PostgresToWatch)]
        redis = [w for w in watched if isinstance(w, RedisEndpoint)]
        kafka = [w for w in watched if isinstance(w, KafkaEndpoint)]
        return [
            *(self._postgres_exporter(p) for p in postgres),
            *(self._redis_exporter(r) for r in redis),
            *(self._kafka_exporter(k) for k in kafka),
        ]

    def _kafka_exporter(self, kafka: KafkaEndpoint) -> Service:
        return self._exporter(
            "kafka-exporter",
            kafka.networks,
            KAFKA_EXPORTER_PORT,
            kafka.resources,
            command=[f"--kafka.server={broker}:{kafka.port}" for broker in kafka.brokers],
        )

    def _redis_exporter(self, redis: RedisEndpoint) -> Service:
        address = redis.address
        password_file = "/etc/redis-exporter/passwords.json"  # redis_exporter's form: {address: password}
        passwords = redis.password.apply(lambda value: json.dumps({address: value}))
        return self._exporter(
            "redis-exporter",
            redis.networks,
            REDIS_EXPORTER_PORT,
            redis.resources,
            command=[f"--redis.addr={address}", f"--redis.password-file={password_file}"],
            files=[File(password_file, passwords, secret=True, owner=REDIS_EXPORTER_UID)],
        )

    def _postgres_exporter(self, postgres: PostgresToWatch) -> Service:
        access = postgres.monitoring_role("postgres-exporter", self)
        password_file = "/etc/postgres-exporter/password"
        return self._exporter(
            "postgres-exporter",
            postgres.networks,
            POSTGRES_EXPORTER_PORT,
            access.resources,
            env={
                "DATA_SOURCE_URI": f"{access.host}:{access.port}/{access.database}?sslmode=disable",
                "DATA_SOURCE_USER": access.username,
                "DATA_SOURCE_PASS_FILE": password_file,
            },
            files=[File(password_file, access.password, secret=True, owner=EXPORTER_UID)],
        )

    def _exporter(
        self,
        name: str,
        networks: Iterable[docker.Network],
        port: int,
        depends_on: Sequence[pulumi.Resource],
        *,
        command: Sequence[str] | None = None,
        env: Mapping[str, pulumi.Input[str]] | None = None,
        files: Sequence[File] = (),
    ) -> Service:
        """An exporter on exactly the networks of the service it watches (Prometheus joins them)."""
        return self.service(
            name,
            ServiceArgs(
                spec=self.spec(name),
                lifecycle=Server(HealthCheck.wget(f"http://localhost:{port}/metrics")),
                networks=list(networks),
                command=command,
                env=env,
                files=files,
                metrics=Metrics(port),
                depends_on=depends_on,
            ),
        )

    # ---- Prometheus, last ----------------------------------------------------------------

    def _prometheus(self, targets: Sequence[MetricsTarget], rules: Mapping[str, str]) -> Service:
        self.scrape_targets = [
            ScrapeTarget("prometheus", f"localhost:{PROMETHEUS_PORT}", "/metrics", "monitoring", "prometheus"),
            *scrape_targets(targets),
            *alloy_targets(),
        ]
        config_dir = "/etc/prometheus"
        files = [
            File(f"{config_dir}/prometheus.yml", prometheus_config(self.settings.prefix, self.scrape_targets)),
            *(File(f"{config_dir}/rules/{name}", content) for name, content in rules.items()),
        ]
        return self.service(
            "prometheus",
            ServiceArgs(
                spec=self.spec("prometheus"),
                lifecycle=Server(HealthCheck.wget(f"http://localhost:{PROMETHEUS_PORT}/-/ready")),
                networks=networks_to_reach(targets),
                command=[
                    f"--config.file={config_dir}/prometheus.yml",
                    "--storage.tsdb.path=/prometheus",
                    "--storage.tsdb.retention.time=15d",
                ],
                files=files,
                volumes={"data": "/prometheus"},
                ports=[Port("prometheus", PROMETHEUS_PORT)],
            ),
        )


def grafana_oauth_env(sso: OidcClient, client_secret_file: str) -> dict[str, str]:
    """Grafana's generic OAuth against Keycloak: the browser goes to the published issuer, Grafana
    itself talks to Keycloak over the Docker network. The local admin login stays."""
    browser = f"{sso.issuer_url}/protocol/openid-connect"
    internal = f"{sso.internal_issuer_url}/protocol/openid-connect"
    grafana_url = sso.redirect_uri.removesuffix("/login/generic_oauth")
    return {
        "GF_AUTH_GENERIC_OAUTH_ENABLED": "true",
        "GF_AUTH_GENERIC_OAUTH_NAME": "Keycloak",
        "GF_AUTH_GENERIC_OAUTH_CLIENT_ID": sso.client_id,
        "GF_AUTH_GENERIC_OAUTH_CLIENT_SECRET__FILE": client_secret_file,
        "GF_AUTH_GENERIC_OAUTH_SCOPES": "openid profile email",
        "GF_AUTH_GENERIC_OAUTH_AUTH_URL": f"{browser}/auth",
        "GF_AUTH_GENERIC_OAUTH_TOKEN_URL": f"{internal}/token",
        "GF_AUTH_GENERIC_OAUTH_API_URL": f"{internal}/userinfo",
        "GF_AUTH_GENERIC_OAUTH_USE_PKCE": "true",
        "GF_AUTH_GENERIC_OAUTH_ALLOW_SIGN_UP": "true",
        "GF_AUTH_GENERIC_OAUTH_LOGIN_ATTRIBUTE_PATH": "preferred_username",
        "GF_AUTH_GENERIC_OAUTH_ROLE_ATTRIBUTE_PATH": f"contains(roles[*], '{ADMIN_ROLE}') && 'Admin' || 'Viewer'",
        "GF_AUTH_SIGNOUT_REDIRECT_URL": (
            f"{browser}/logout?client_id={sso.client_id}&post_logout_redirect_uri={grafana_url}/login"
        ),
    }
