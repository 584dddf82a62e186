"""The OLAP layer (ClickHouse) under mocks, with the real stack files."""

import functools
import hashlib
import xml.etree.ElementTree as ET

import pytest

from components import olap
from harness.offline import engine_config, run_program

CONTAINER = "docker:index/container:Container"


def upload(container, path: str) -> dict:
    return next(u for u in container.inputs["uploads"] if u["file"] == path)


@functools.cache
def _olap_alone():
    return run_program(engine_config({"layers": ["olap"]}))


@pytest.fixture
def olap_alone():
    return _olap_alone()


def test_olap_alone_needs_nothing_else(olap_alone):
    layer = olap_alone.named("olap", "datalyptica:olap:OlapLayer")
    for resource in olap_alone.registered:
        if resource is not layer and resource.type != "pulumi:providers:docker":  # the stack's one, Platform.docker
            assert layer in list(olap_alone.ancestors(resource)), f"{resource.type} {resource.name} outside olap"
    assert set(olap_alone.containers()) == {"clickhouse"}


def test_clickhouse_follows_the_service_conventions(dev, prod):
    for deployment, memory_mb in ((dev, 1536), (prod, 8192)):
        clickhouse = deployment.containers()["clickhouse"]
        inputs = clickhouse.inputs
        assert inputs["name"] == "datalyptica-clickhouse"
        assert inputs["memory"] == memory_mb
        assert inputs["restart"] == "unless-stopped" and inputs["wait"] is True
        assert inputs["image"].startswith("sha256:")
        image = deployment.named("clickhouse-image", "docker:index/remoteImage:RemoteImage")
        assert image.inputs["name"].startswith("clickhouse/clickhouse-server:")
        chain = [r.type for r in deployment.ancestors(clickhouse)]
        assert chain[:2] == ["datalyptica:platform:Service", "datalyptica:olap:OlapLayer"]


def test_health_check_uses_wget_on_ping(dev):
    test = dev.containers()["clickhouse"].inputs["healthcheck"]["tests"]
    assert test[:2] == ["CMD", "wget"] and test[-1] == "http://127.0.0.1:8123/ping"  # no curl in the image


def test_open_files_limit_and_data_volume(dev, prod):
    inputs = dev.containers()["clickhouse"].inputs
    assert inputs["ulimits"] == [{"name": "nofile", "soft": 262144, "hard": 262144}]
    volume = dev.named("clickhouse-data-volume", "docker:index/volume:Volume")
    assert {"volumeName": "datalyptica-clickhouse-data", "containerPath": "/var/lib/clickhouse"} in [
        {k: v for k, v in m.items() if k in ("volumeName", "containerPath")} for m in inputs["volumes"]
    ]
    assert volume.protect is False
    assert prod.named("clickhouse-data-volume", "docker:index/volume:Volume").protect is True


def test_ports_are_published_by_name(dev, prod):
    published = {(p["internal"], p["external"], p["ip"]) for p in dev.containers()["clickhouse"].inputs["ports"]}
    assert published == {(8123, 8123, "127.0.0.1"), (9000, 19000, "127.0.0.1")}
    assert {p["ip"] for p in prod.containers()["clickhouse"].inputs["ports"]} == {"0.0.0.0"}


def test_clickhouse_is_alone_on_the_olap_network(olap_alone):
    networks = olap_alone.containers()["clickhouse"].inputs["networksAdvanced"]
    assert [(n["name"], n["aliases"]) for n in networks] == [("datalyptica-olap", ["clickhouse"])]


def test_the_admin_login_reaches_clickhouse_as_a_hash_in_a_private_file(dev):
    clickhouse = dev.containers()["clickhouse"]
    users = upload(clickhouse, olap.USERS_FILE)
    assert users["permissions"] == "0400" and users["owner"] == "101"
    assert "uploads" in clickhouse.secret_inputs()

    root = ET.fromstring(users["content"])
    assert root.tag == "clickhouse"
    logins = list(root.find("users"))
    assert logins[0].tag == "default" and logins[0].get("remove") == "remove"  # no passwordless login left
    admin = logins[1]
    password = dev.outputs["clickhouse_password"]
    assert admin.tag == dev.outputs["clickhouse_user"]
    assert admin.findtext("password_sha256_hex") == hashlib.sha256(password.encode()).hexdigest()
    assert admin.find("password") is None and password not in users["content"]
    assert [ip.text for ip in admin.find("networks")] == ["::/0"]
    assert admin.findtext("profile") == "default" and admin.findtext("quota") == "default"
    assert admin.findtext("access_management") == "1"


def test_no_password_in_the_environment(dev):
    clickhouse = dev.containers()["clickhouse"]
    envs = dict(e.split("=", 1) for e in clickhouse.inputs["envs"])
    assert envs == {"CLICKHOUSE_SKIP_USER_SETUP": "1"}
    assert "envs" not in clickhouse.secret_inputs()
    for secret in dev.generated_secrets:
        assert secret not in clickhouse.plaintext()


def test_prometheus_endpoint_is_enabled_and_declared(dev):
    clickhouse = dev.containers()["clickhouse"]
    server = upload(clickhouse, olap.SERVER_FILE)
    assert server["permissions"] == "0444"
    prometheus = ET.fromstring(server["content"]).find("prometheus")
    assert prometheus.findtext("port") == "9363" and prometheus.findtext("endpoint") == "/metrics"
    assert all(prometheus.findtext(key) == "true" for key in ("metrics", "events", "asynchronous_metrics"))
    labels = {label["label"]: label["value"] for label in clickhouse.inputs["labels"]}
    assert (labels["datalyptica.metrics.port"], labels["datalyptica.metrics.path"]) == ("9363", "/metrics")


def test_stack_outputs(dev):
    assert dev.outputs["clickhouse_http_url"] == "http://localhost:8123"
    assert dev.outputs["clickhouse_native_url"] == "clickhouse://localhost:19000"
    assert dev.not_secret_or_empty("clickhouse_user", "clickhouse_password") == []
