"""The monitoring layer under mocks, and its rendered configs checked by promtool and amtool."""

import json
import shutil
import subprocess
from pathlib import Path

import pulumi
import pytest
import yaml

from components.endpoints import KafkaEndpoint, RedisEndpoint
from components.layer import Layer
from components.monitoring import MonitoringLayer
from components.platform import Platform
from components.service import HealthCheck, Metrics, Server, ServiceArgs
from components.settings import load_settings
from components.storage import StorageLayer
from components.streaming import KAFKA_INTERNAL_PORT
from components.templates import CONFIGS_DIR
from harness.offline import engine_config, run_function
from tests.required_tools import missing_tool
from tests.secret_files import private_to

MONITORING = {"prometheus", "alertmanager", "grafana", "loki", "alloy"}
ALLOY_JOBS = {"alloy-cadvisor", "alloy-node"}


def upload(container, path: str) -> dict:
    return next(u for u in container.inputs["uploads"] if u["file"] == path)


def env(container) -> dict[str, str]:
    return dict(item.split("=", 1) for item in container.inputs.get("envs", []))


def prometheus_files(deployment) -> dict[str, str]:
    prometheus = deployment.containers()["prometheus"]
    return {u["file"]: u["content"] for u in prometheus.inputs["uploads"]}


def scrape_jobs(deployment) -> dict[str, dict]:
    config = yaml.safe_load(prometheus_files(deployment)["/etc/prometheus/prometheus.yml"])
    return {job["job_name"]: job for job in config["scrape_configs"]}


def joined(container) -> set[str]:
    return {n["name"] for n in container.inputs["networksAdvanced"]}


def metrics_labels(container) -> tuple[str, str] | None:
    labels = {label["label"]: label["value"] for label in container.inputs["labels"]}
    if "datalyptica.metrics.port" not in labels:
        return None
    return labels["datalyptica.metrics.port"], labels["datalyptica.metrics.path"]


# ---- the whole dev and prod stacks ---------------------------------------------------------


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_the_layer_runs_its_services_and_exporters(stack, request):
    deployment = request.getfixturevalue(stack)
    containers = deployment.containers()
    assert MONITORING | {"postgres-exporter"} <= set(containers)
    for name in MONITORING | {"postgres-exporter"}:
        chain = [r.type for r in deployment.ancestors(containers[name])]
        assert chain[:2] == ["datalyptica:platform:Service", "datalyptica:monitoring:MonitoringLayer"], name
        assert containers[name].inputs["restart"] == "unless-stopped" and containers[name].inputs["wait"] is True


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_every_service_that_declares_metrics_is_a_scrape_job(stack, request):
    deployment = request.getfixturevalue(stack)
    declared = {name: metrics_labels(c) for name, c in deployment.containers().items() if metrics_labels(c)}
    jobs = scrape_jobs(deployment)
    assert set(jobs) == set(declared) | {"prometheus"} | ALLOY_JOBS
    for name, (port, path) in declared.items():
        job = jobs[name]
        assert job["metrics_path"] == path
        assert job["static_configs"][0]["targets"] == [f"{name}:{port}"]
        layer = {label["label"]: label["value"] for label in deployment.containers()[name].inputs["labels"]}
        assert job["static_configs"][0]["labels"] == {"layer": layer["datalyptica.layer"], "service": name}


def test_prometheus_joins_only_its_targets_networks_and_reaches_each(dev):
    containers = dev.containers()
    mine = joined(containers["prometheus"])
    targets = [c for name, c in containers.items() if metrics_labels(c)]
    assert all(joined(target) & mine for target in targets)
    assert mine <= set().union(*(joined(target) for target in targets))
    assert "datalyptica-sso-superset" not in mine  # Keycloak is reached through storage


def test_health_checks_use_tools_the_images_have(dev):
    checks = dev.health_checks()
    for name, url in (
        ("prometheus", "http://localhost:9090/-/ready"),
        ("alertmanager", "http://localhost:9093/-/ready"),
    ):
        assert checks[name][1] == "wget" and checks[name][-1] == url, name  # busybox: no curl
    # Loki 3.6 is distroless (no shell, no wget): its binary's own -health, in exec form.
    assert checks["loki"] == ["CMD", "/usr/bin/loki", "-health", "-health.url=http://localhost:3100/ready"]
    assert checks["grafana"][1] == "curl" and checks["grafana"][-1] == "http://localhost:3000/api/health"
    assert checks["alloy"][1] == "bash" and "/dev/tcp/127.0.0.1/12345" in checks["alloy"][-1]  # v1.17.1: no curl


def test_alloy_mounts_the_docker_socket_read_only_and_only_the_hub_shares_it(dev):
    for name, container in dev.containers().items():
        mounts = container.inputs.get("mounts", [])
        binds = [m for m in container.inputs.get("volumes", []) if m.get("hostPath")]
        if name == "jupyterhub":  # DockerSpawner starts notebook containers: it needs write access
            assert [b["hostPath"] for b in binds] == ["/var/run/docker.sock"] and not mounts
        elif name != "alloy":
            assert not mounts and not binds, name
    alloy = dev.containers()["alloy"]
    mounts = {m["target"]: m for m in alloy.inputs["mounts"]}
    assert mounts["/var/run/docker.sock"]["source"] == "/var/run/docker.sock"
    assert all(m["readOnly"] is True for m in mounts.values())
    assert alloy.inputs["cgroupnsMode"] == "host"
    assert "privileged" not in alloy.inputs


def test_alloy_ships_this_stacks_container_logs_to_loki_by_layer_and_service(dev):
    config = upload(dev.containers()["alloy"], "/etc/alloy/config.alloy")["content"]
    assert 'values = ["datalyptica.stack=dev"]' in config
    for meta, label in (
        ("__meta_docker_container_label_datalyptica_layer", "layer"),
        ("__meta_docker_container_label_datalyptica_service", "service"),
    ):
        assert f'source_labels = ["{meta}"]\n    target_label  = "{label}"' in config
    assert 'url = "http://loki:3100/loki/api/v1/push"' in config
    assert "loki.source.docker" in config and "prometheus.exporter.cadvisor" in config
    assert dev.containers()["alloy"].inputs["command"][:2] == ["run", "--server.http.listen-addr=0.0.0.0:12345"]


def test_grafana_is_provisioned_and_its_admin_password_is_a_file(dev):
    grafana = dev.containers()["grafana"]
    variables = env(grafana)
    assert variables["GF_SECURITY_ADMIN_PASSWORD__FILE"] == "/etc/grafana/secrets/admin-password"
    for path in ("/etc/grafana/secrets/admin-user", "/etc/grafana/secrets/admin-password"):
        assert private_to(grafana, path, "472")
    assert upload(grafana, "/etc/grafana/secrets/admin-password")["content"] == dev.outputs["grafana_admin_password"]
    assert "envs" not in grafana.secret_inputs()
    sources = yaml.safe_load(upload(grafana, "/etc/grafana/provisioning/datasources/datasources.yaml")["content"])
    assert {(s["uid"], s["url"]) for s in sources["datasources"]} == {
        ("prometheus", "http://prometheus:9090"),
        ("loki", "http://loki:3100"),
    }
    dashboard = json.loads(upload(grafana, "/etc/grafana/dashboards/platform-overview.json")["content"])
    exprs = " ".join(t["expr"] for p in dashboard["panels"] for t in p["targets"])
    for metric in ("up", "container_cpu_usage_seconds_total", "container_memory_working_set_bytes", "patroni_primary"):
        assert metric in exprs


def test_postgres_exporter_uses_its_own_pg_monitor_role_through_haproxy(dev):
    role = dev.named("postgres-exporter-db-role", "postgresql:index/role:Role")
    assert role.inputs["roles"] == ["pg_monitor"] and role.inputs["login"] is True
    assert "password" in role.secret_inputs()
    assert not [r for r in dev.of_type("postgresql:index/database:Database") if r.name.startswith("postgres-exporter")]
    exporter = dev.containers()["postgres-exporter"]
    variables = env(exporter)
    assert variables["DATA_SOURCE_URI"] == "haproxy:5000/postgres?sslmode=disable"
    assert variables["DATA_SOURCE_USER"] == "postgres_exporter"
    file = upload(exporter, variables["DATA_SOURCE_PASS_FILE"])
    assert private_to(exporter, file["file"], "65534") and file["content"] in dev.generated_secrets
    assert role.urn in exporter.dependencies
    assert joined(exporter) == {"datalyptica-storage"}


def test_rules_match_what_runs_and_route_to_alertmanager(dev):
    files = prometheus_files(dev)
    assert {"/etc/prometheus/rules/platform.yml", "/etc/prometheus/rules/postgres.yml"} <= set(files)
    config = yaml.safe_load(files["/etc/prometheus/prometheus.yml"])
    assert config["alerting"]["alertmanagers"][0]["static_configs"][0]["targets"] == ["alertmanager:9093"]
    assert config["rule_files"] == ["/etc/prometheus/rules/*.yml"]
    alerts = {
        rule["alert"]: rule
        for path, content in files.items()
        if "/rules/" in path
        for group in yaml.safe_load(content)["groups"]
        for rule in group["rules"]
    }
    assert alerts["ServiceDown"]["expr"] == "up == 0"
    assert {"PostgresNoLeader", "PostgresReplicationLag", "HostFilesystemAlmostFull"} <= set(alerts)


def test_stack_outputs(dev):
    urls = {
        "grafana_url": "http://localhost:3000",
        "prometheus_url": "http://localhost:9090",
        "alertmanager_url": "http://localhost:9093",
    }
    assert {name: dev.outputs.get(name) for name in urls} == urls
    assert dev.not_secret_or_empty("grafana_admin_user", "grafana_admin_password") == []


def test_prod_sizes_and_protected_data(prod):
    prometheus = prod.containers()["prometheus"]
    assert prometheus.inputs["memory"] == 4096 and prometheus.inputs["cpus"] == "2.0"
    for name in ("prometheus-data", "loki-data", "grafana-data", "alertmanager-data"):
        volume = prod.named(f"{name}-volume")
        assert volume.protect and volume.retain_on_delete, name


def test_monitoring_alone_scrapes_itself_and_adds_no_exporter(deploy):
    deployment = deploy(layers=["monitoring"])
    assert set(deployment.containers()) == MONITORING
    assert set(scrape_jobs(deployment)) == (MONITORING - {"prometheus"}) | {"prometheus"} | ALLOY_JOBS
    assert set(prometheus_files(deployment)) == {"/etc/prometheus/prometheus.yml", "/etc/prometheus/rules/platform.yml"}
    assert joined(deployment.containers()["prometheus"]) == {"datalyptica-monitoring"}


# ---- storage plus made-up services from the layers other colleagues write -----------------


class MadeUpLayer(Layer):
    """What another colleague's layer hands monitoring: its servers with metrics, and what it wants watched."""

    layer = "query"

    def __init__(self, platform: Platform, storage: StorageLayer):
        super().__init__(platform)
        query_network = self.own_network("query")
        streaming_network = self.own_network("streaming")

        def service(name, spec, networks, metrics=None):
            return self.service(
                name,
                ServiceArgs(
                    spec=self.spec(spec),
                    lifecycle=Server(HealthCheck.command("true")),
                    networks=networks,
                    metrics=metrics,
                ),
            )

        service("trino", "trino", [query_network, storage.network], Metrics(8080, "/metrics"))
        service("query-sidecar", "trino", [query_network], Metrics(9999, "/custom"))
        brokers = [service(f"kafka-{i}", "kafka", [streaming_network]) for i in (1, 2)]
        service("kafka-connect", "kafka-connect", [streaming_network])
        redis = service("redis", "redis", [storage.network])
        self.watched += [
            KafkaEndpoint(
                networks=(streaming_network,),
                brokers=tuple(broker.host for broker in brokers),
                port=KAFKA_INTERNAL_PORT,
                schema_registry_url="http://schema-registry:8081",
                kafka_connect_url="http://kafka-connect:8083",
                resources=tuple(broker.container for broker in brokers),
            ),
            RedisEndpoint(
                redis.host, 6379, redis.networks, (redis.container,), pulumi.Output.secret("made-up-redis-password")
            ),
        ]


def made_up_platform():
    """Storage, a made-up query engine with metrics, two Kafka brokers and Redis without."""
    settings = load_settings(
        {
            "layers": ["storage", "streaming", "query", "analytics", "monitoring"],
            "protectData": False,
            "services": {"kafka": {"replicas": 2}},
            "ports": {"kafka": 29092},
        }
    )
    platform = Platform(settings)
    storage = StorageLayer(platform)
    storage.open_lake()
    MonitoringLayer(platform, [storage, MadeUpLayer(platform, storage)])


@pytest.fixture(scope="module")
def made_up():
    import asyncio

    asyncio.set_event_loop(asyncio.new_event_loop())
    return run_function(made_up_platform, engine_config({}))


def test_made_up_services_with_metrics_are_scraped_and_those_without_are_not(made_up):
    jobs = scrape_jobs(made_up)
    assert jobs["trino"]["static_configs"][0] == {
        "targets": ["trino:8080"],
        "labels": {"layer": "query", "service": "trino"},
    }
    assert jobs["query-sidecar"]["metrics_path"] == "/custom"
    assert not {"kafka-1", "kafka-2", "kafka-connect", "redis"} & set(jobs)
    assert {"kafka-exporter", "redis-exporter", "postgres-exporter", "minio", "patroni-1", "etcd-3"} <= set(jobs)
    assert "datalyptica-query" in joined(made_up.containers()["prometheus"])


def test_kafka_exporter_watches_every_broker_and_the_alert_expects_them_all(made_up):
    exporter = made_up.containers()["kafka-exporter"]
    assert exporter.inputs["command"] == ["--kafka.server=kafka-1:19092", "--kafka.server=kafka-2:19092"]
    assert joined(exporter) == {"datalyptica-streaming"}
    brokers = {c.urn for name, c in made_up.containers().items() if name in ("kafka-1", "kafka-2")}
    assert brokers <= set(exporter.dependencies)
    rules = yaml.safe_load(prometheus_files(made_up)["/etc/prometheus/rules/kafka.yml"])
    assert rules["groups"][0]["rules"][0]["expr"] == "kafka_brokers < 2"


def test_redis_exporter_sits_next_to_redis_and_logs_in_from_a_file(made_up):
    exporter = made_up.containers()["redis-exporter"]
    assert exporter.inputs["command"] == [
        "--redis.addr=redis://redis:6379",
        "--redis.password-file=/etc/redis-exporter/passwords.json",
    ]
    passwords = next(u for u in exporter.inputs["uploads"] if u["file"] == "/etc/redis-exporter/passwords.json")
    assert json.loads(passwords["content"]) == {"redis://redis:6379": "made-up-redis-password"}
    assert private_to(exporter, passwords["file"], "59000")
    assert "uploads" in exporter.secret_inputs()
    assert joined(exporter) == joined(made_up.containers()["redis"])


def test_the_stacks_redis_exporter_gets_the_analytics_layers_redis_password(dev):
    exporter = dev.containers()["redis-exporter"]
    passwords = next(u for u in exporter.inputs["uploads"] if u["file"] == "/etc/redis-exporter/passwords.json")
    assert json.loads(passwords["content"]) == {"redis://redis:6379": dev.outputs["redis_password"]}
    assert exporter.inputs["healthcheck"]["tests"][1] == "wget"


# ---- the real checkers ---------------------------------------------------------------------


def tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        missing_tool(f"{name} not installed (run .ci/install.d/50-monitoring.sh)")
    return path


def check(*argv: str) -> str:
    result = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, f"{' '.join(argv)}\n{result.stdout}{result.stderr}"
    return result.stdout + result.stderr


def write_prometheus_files(deployment, directory: Path) -> Path:
    """The files as uploaded, under `directory`, with the rule glob pointed there."""
    for path, content in prometheus_files(deployment).items():
        target = directory / path.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(content.replace("/etc/prometheus/rules/", f"{directory}/etc/prometheus/rules/"))
    return directory / "etc/prometheus/prometheus.yml"


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_promtool_accepts_the_config_and_its_rules(stack, request, tmp_path):
    promtool = tool("promtool")
    deployment = request.getfixturevalue(stack)
    config = write_prometheus_files(deployment, tmp_path)
    output = check(promtool, "check", "config", str(config))
    assert "SUCCESS" in output and "rules found" in output


def test_promtool_accepts_the_kafka_rules(made_up, tmp_path):
    promtool = tool("promtool")
    config = write_prometheus_files(made_up, tmp_path)
    check(promtool, "check", "config", str(config))
    check(promtool, "check", "rules", str(config.parent / "rules/kafka.yml"))


def test_promtool_parses_every_dashboard_query(tmp_path):
    """Each PromQL of the dashboard, as a recording rule, so promtool's parser checks it."""
    promtool = tool("promtool")
    dashboard = json.loads((CONFIGS_DIR / "grafana/dashboards/platform-overview.json").read_text())
    queries = [t["expr"] for p in dashboard["panels"] for t in p["targets"] if t["datasource"]["type"] == "prometheus"]
    rules = {
        "groups": [
            {
                "name": "dashboard",
                "rules": [{"record": f"dashboard:query{i}", "expr": expr} for i, expr in enumerate(queries)],
            }
        ]
    }
    path = tmp_path / "dashboard.yml"
    path.write_text(yaml.safe_dump(rules))
    assert f"SUCCESS: {len(queries)} rules found" in check(promtool, "check", "rules", str(path))


def test_amtool_accepts_the_alertmanager_config(dev, tmp_path):
    amtool = tool("amtool")
    path = tmp_path / "alertmanager.yml"
    path.write_text(upload(dev.containers()["alertmanager"], "/etc/alertmanager/alertmanager.yml")["content"])
    output = check(amtool, "check-config", str(path))
    assert "SUCCESS" in output and "1 receivers" in output


def test_trino_is_scraped_as_a_named_user_without_a_password(dev):
    trino = scrape_jobs(dev)["trino"]  # Trino without authentication answers anonymous requests 401
    assert trino["basic_auth"] == {"username": "prometheus"}
    assert "basic_auth" not in scrape_jobs(dev)["minio"]
