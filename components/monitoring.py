"""MonitoringLayer: Prometheus, Alertmanager, Grafana, Loki and Alloy, plus exporters.

Built last: Prometheus scrapes every service in `platform.deployed` that declares `Metrics`,
one job per service labelled with its layer and name, and joins exactly those services'
networks. Where a service that matters has no metrics of its own, an exporter is added next to
it (PostgreSQL through HAProxy, Redis, Kafka). Alloy ships every container's logs of this stack
to Loki and serves container and host metrics.
"""

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_docker as docker

from components import secrets
from components.service import DeployedService, File, HealthCheck, Metrics, Platform, Port, Service
from components.sso import ADMIN_ROLE, OidcClient
from components.storage import StorageLayer
from components.streaming import KAFKA_INTERNAL_PORT
from components.templates import CONFIGS_DIR, render

PROMETHEUS_PORT = 9090
ALERTMANAGER_PORT = 9093
GRAFANA_PORT = 3000
LOKI_PORT = 3100
ALLOY_PORT = 12345
POSTGRES_EXPORTER_PORT = 9187
REDIS_EXPORTER_PORT = 9121
KAFKA_EXPORTER_PORT = 9308
REDIS_PORT = 6379
GRAFANA_UID = "472"
EXPORTER_UID = "65534"  # nobody: the postgres-exporter image's user
REDIS_EXPORTER_UID = "59000"  # the redis_exporter image's user

# Alloy's exporters, by component label; Prometheus scrapes them through Alloy's HTTP server.
ALLOY_EXPORTERS = {
    "cadvisor": ("prometheus.exporter.cadvisor", "containers"),
    "node": ("prometheus.exporter.unix", "host"),
}
KAFKA_BROKER = re.compile(r"^kafka(-\d+)?$")


@dataclass(frozen=True)
class ScrapeTarget:
    job: str
    address: str
    path: str
    layer: str
    service: str
    user: str | None = None


def scrape_targets(deployed: list[DeployedService]) -> list[ScrapeTarget]:
    """One job per deployed service that declares metrics, named after the service."""
    return [
        ScrapeTarget(
            job=service.name,
            address=f"{service.host}:{service.metrics.port}",
            path=service.metrics.path,
            layer=service.layer,
            service=service.name,
            user=service.metrics.user,
        )
        for service in deployed
        if service.metrics is not None
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


def networks_to_reach(targets: list[DeployedService]) -> list[docker.Network]:
    """Networks of the targets, enough to share one with each: a target's first network unless
    one of its others is already joined (Keycloak, on every UI's SSO network, adds none)."""
    joined: dict[int, docker.Network] = {}
    for target in targets:
        if target.networks and not any(id(network) in joined for network in target.networks):
            joined[id(target.networks[0])] = target.networks[0]
    return list(joined.values())


def kafka_brokers(deployed: list[DeployedService]) -> list[DeployedService]:
    return [s for s in deployed if s.layer == "streaming" and KAFKA_BROKER.match(s.name)]


def static_config(path: str) -> str:
    """A file under configs/ that needs no rendering (it may hold Go templates of its own)."""
    return (CONFIGS_DIR / path).read_text()


def rule_files(deployed: list[DeployedService]) -> dict[str, str]:
    """Rule files by name: the platform's always, PostgreSQL's and Kafka's where they run."""
    names = {s.name for s in deployed}
    rules = {"platform.yml": static_config("prometheus/rules/platform.yml")}
    if any(name.startswith("patroni") for name in names):
        rules["postgres.yml"] = static_config("prometheus/rules/postgres.yml")
    if brokers := kafka_brokers(deployed):
        rules["kafka.yml"] = render("prometheus/rules/kafka.yml.j2", brokers=len(brokers))
    return rules


def prometheus_config(platform_name: str, targets: list[ScrapeTarget]) -> str:
    return render(
        "prometheus/prometheus.yml.j2",
        platform=platform_name,
        targets=targets,
        alertmanager=f"alertmanager:{ALERTMANAGER_PORT}",
    )


class MonitoringLayer(pulumi.ComponentResource):
    def __init__(
        self,
        platform: Platform,
        *,
        storage: StorageLayer | None = None,
        sso: OidcClient | None = None,
        redis_password: pulumi.Input[str] | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ):
        """`storage`: to give postgres_exporter its monitoring role; `sso`: Grafana's OIDC client;
        `redis_password`: the analytics layer's Redis password, for the Redis exporter."""
        super().__init__("datalyptica:monitoring:MonitoringLayer", "monitoring", None, opts)
        self._platform = platform
        self.network = platform.network("monitoring", parent=self)
        self.grafana_admin_user = secrets.username("grafana-admin-user", parent=self)
        self.grafana_admin_password = secrets.password("grafana-admin-password", parent=self)

        self.loki = self._loki()
        self.alertmanager = self._alertmanager()
        self.alloy = self._alloy()
        self.grafana = self._grafana(sso)
        self.exporters = self._exporters(storage, redis_password)
        # Last, so that it sees every service above and every layer built before this one.
        self.prometheus = self._prometheus()

        self.urls = {
            "grafana": platform.url("grafana"),
            "prometheus": platform.url("prometheus"),
            "alertmanager": platform.url("alertmanager"),
            "loki": platform.url("loki"),
            "alloy": platform.url("alloy"),
        }
        self.credentials = {
            "grafana_admin_user": self.grafana_admin_user,
            "grafana_admin_password": self.grafana_admin_password,
        }
        self.register_outputs({**{name: url for name, url in self.urls.items() if url}, **self.credentials})

    def _service(self, name: str, **kwargs: Any) -> Service:
        return Service(
            name,
            platform=self._platform,
            spec=self._platform.settings.service(name),
            opts=pulumi.ResourceOptions(parent=self),
            **kwargs,
        )

    # ---- the services --------------------------------------------------------------------

    def _loki(self) -> Service:
        config = "/etc/loki/config.yaml"
        return self._service(
            "loki",
            networks=[self.network],
            command=[f"-config.file={config}"],
            files=[File(config, static_config("loki/config.yaml"))],
            volumes={"data": "/loki"},
            ports=[Port("loki", LOKI_PORT)],
            healthcheck=HealthCheck.wget(f"http://localhost:{LOKI_PORT}/ready", start_period="30s"),
            metrics=Metrics(LOKI_PORT),
        )

    def _alertmanager(self) -> Service:
        config = "/etc/alertmanager/alertmanager.yml"
        return self._service(
            "alertmanager",
            networks=[self.network],
            command=[f"--config.file={config}", "--storage.path=/alertmanager"],
            files=[File(config, static_config("alertmanager/alertmanager.yml"))],
            volumes={"data": "/alertmanager"},
            ports=[Port("alertmanager", ALERTMANAGER_PORT)],
            healthcheck=HealthCheck.wget(f"http://localhost:{ALERTMANAGER_PORT}/-/ready"),
            metrics=Metrics(ALERTMANAGER_PORT),
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

        def host_path(source: str, target: str) -> docker.ContainerMountArgs:
            return docker.ContainerMountArgs(type="bind", source=source, target=target, read_only=True)

        return self._service(
            "alloy",
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
            # grafana/alloy Dockerfile @ v1.17.1 installs no curl or wget (tests/health_evidence.py).
            healthcheck=HealthCheck.http_via_bash(ALLOY_PORT, "/-/ready"),
            metrics=Metrics(ALLOY_PORT),
            # Read-only mounts: the Docker socket (container discovery, logs, cAdvisor), Docker's
            # data and the host's /, /proc, /sys (container and filesystem statistics). Only
            # Alloy gets them; cAdvisor needs the host's cgroup namespace to see other containers.
            mounts=[
                host_path(self._platform.settings.docker_socket, "/var/run/docker.sock"),
                host_path("/var/lib/docker", "/var/lib/docker"),
                host_path("/", "/host/root"),
                host_path("/proc", "/host/proc"),
                host_path("/sys", "/host/sys"),
            ],
            cgroupns_mode="host",
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
        if root_url := self._platform.url("grafana"):
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
        return self._service(
            "grafana",
            networks=networks,
            env=env,
            files=files,
            volumes={"data": "/var/lib/grafana"},
            ports=[Port("grafana", GRAFANA_PORT)],
            healthcheck=HealthCheck.curl(f"http://localhost:{GRAFANA_PORT}/api/health"),
            metrics=Metrics(GRAFANA_PORT),
        )

    # ---- exporters for services without metrics of their own ----------------------------

    def _exporters(self, storage: StorageLayer | None, redis_password: pulumi.Input[str] | None) -> list[Service]:
        deployed = list(self._platform.deployed)
        exporters = []
        if storage is not None:
            exporters.append(self._postgres_exporter(storage))
        redis = next((s for s in deployed if s.name == "redis"), None)
        if redis is not None and redis_password is not None:
            exporters.append(self._redis_exporter(redis, redis_password))
        if brokers := kafka_brokers(deployed):
            networks = tuple({id(n): n for b in brokers for n in b.networks}.values())
            exporters.append(
                self._exporter(
                    "kafka-exporter",
                    networks,
                    KAFKA_EXPORTER_PORT,
                    [b.container for b in brokers],
                    command=[f"--kafka.server={b.host}:{KAFKA_INTERNAL_PORT}" for b in brokers],
                )
            )
        return exporters

    def _redis_exporter(self, redis: DeployedService, password: pulumi.Input[str]) -> Service:
        address = f"redis://{redis.host}:{REDIS_PORT}"
        password_file = "/etc/redis-exporter/passwords.json"  # redis_exporter's form: {address: password}
        passwords = pulumi.Output.from_input(password).apply(lambda value: json.dumps({address: value}))
        return self._exporter(
            "redis-exporter",
            redis.networks,
            REDIS_EXPORTER_PORT,
            [redis.container],
            command=[f"--redis.addr={address}", f"--redis.password-file={password_file}"],
            files=[File(password_file, passwords, secret=True, owner=REDIS_EXPORTER_UID)],
        )

    def _postgres_exporter(self, storage: StorageLayer) -> Service:
        access = storage.monitoring_role("postgres-exporter", parent=self)
        password_file = "/etc/postgres-exporter/password"
        return self._exporter(
            "postgres-exporter",
            (storage.network,),
            POSTGRES_EXPORTER_PORT,
            list(access.resources),
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
        **kwargs: Any,
    ) -> Service:
        """An exporter on exactly the networks of the service it watches (Prometheus joins them)."""
        return self._service(
            name,
            networks=list(networks),
            depends_on=depends_on,
            metrics=Metrics(port),
            healthcheck=HealthCheck.wget(f"http://localhost:{port}/metrics"),
            **kwargs,
        )

    # ---- Prometheus, last ----------------------------------------------------------------

    def _prometheus(self) -> Service:
        deployed = list(self._platform.deployed)
        self.scrape_targets = [
            ScrapeTarget("prometheus", f"localhost:{PROMETHEUS_PORT}", "/metrics", "monitoring", "prometheus"),
            *scrape_targets(deployed),
            *alloy_targets(),
        ]
        networks = networks_to_reach([s for s in deployed if s.metrics is not None])
        config_dir = "/etc/prometheus"
        files = [
            File(f"{config_dir}/prometheus.yml", prometheus_config(self._platform.settings.prefix, self.scrape_targets))
        ]
        files += [File(f"{config_dir}/rules/{name}", content) for name, content in rule_files(deployed).items()]
        return self._service(
            "prometheus",
            networks=networks,
            command=[
                f"--config.file={config_dir}/prometheus.yml",
                "--storage.tsdb.path=/prometheus",
                "--storage.tsdb.retention.time=15d",
            ],
            files=files,
            volumes={"data": "/prometheus"},
            ports=[Port("prometheus", PROMETHEUS_PORT)],
            healthcheck=HealthCheck.wget(f"http://localhost:{PROMETHEUS_PORT}/-/ready"),
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
