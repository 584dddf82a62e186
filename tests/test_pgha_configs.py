"""The PostgreSQL HA configuration, rendered as the Pulumi program renders it for Docker.

Unit assertions on what the files say, then each file handed to its program's own checker
(`haproxy -c`, `patroni --validate-config`) where those are installed.
"""

import re
import secrets
import shutil
import subprocess
from dataclasses import replace

import pytest
import yaml

from components import pgha
from tests.integration.pgcluster import find_patroni, find_pg_bin_dir
from tests.required_tools import missing_tool

TOPOLOGY = pgha.PgHaTopology(
    scope="datalyptica",
    etcd=tuple(pgha.EtcdMember(f"etcd-{i}", f"etcd-{i}") for i in (1, 2, 3)),
    nodes=tuple(pgha.PatroniNode(f"patroni-{i}", f"patroni-{i}") for i in (1, 2)),
)
DOCKER_HOSTNAMES = {member.host for member in TOPOLOGY.etcd} | {node.host for node in TOPOLOGY.nodes}


@pytest.fixture
def credentials() -> pgha.PgCredentials:
    return pgha.PgCredentials(
        superuser_password=secrets.token_urlsafe(24),
        replication_password=secrets.token_urlsafe(24),
        rest_password=secrets.token_urlsafe(24),
    )


def patroni_yaml(credentials, node=TOPOLOGY.nodes[0], paths=None, **options) -> str:
    paths = paths or pgha.PostgresPaths.in_image(pgha.DEFAULT_PG_MAJOR)
    return pgha.render_patroni_config(TOPOLOGY, node, credentials, paths, **options)


# ----------------------------------------------------------------------------- Patroni


def test_patroni_config_says_what_the_issue_asks(credentials):
    config = yaml.safe_load(patroni_yaml(credentials))
    dcs = config["bootstrap"]["dcs"]
    parameters = dcs["postgresql"]["parameters"]

    assert config["scope"] == "datalyptica" and config["name"] == "patroni-1"
    assert "etcd" not in config, "etcd 3.4 serves only the v3 API: Patroni must use etcd3"
    assert config["etcd3"]["hosts"] == ["etcd-1:2379", "etcd-2:2379", "etcd-3:2379"]
    assert dcs["synchronous_mode"] is True and dcs["synchronous_mode_strict"] is False
    assert dcs["ttl"] >= 20 and dcs["loop_wait"] + 2 * dcs["retry_timeout"] <= dcs["ttl"]
    assert dcs["postgresql"]["use_pg_rewind"] is True
    assert parameters["wal_level"] == "logical"
    assert parameters["max_replication_slots"] >= 4 and parameters["max_wal_senders"] >= 4
    assert parameters["wal_retrieve_retry_interval"] == "500ms"
    assert parameters["wal_log_hints"] == "on"  # pg_rewind needs it

    postgresql = config["postgresql"]
    assert postgresql["listen"] == "0.0.0.0:5432" and postgresql["connect_address"] == "patroni-1:5432"
    assert postgresql["data_dir"] == pgha.IMAGE_DATA_DIR
    assert postgresql["bin_dir"] == pgha.image_bin_dir(pgha.DEFAULT_PG_MAJOR)
    assert postgresql["parameters"]["unix_socket_directories"] == pgha.IMAGE_SOCKET_DIR
    assert postgresql["authentication"]["superuser"] == {
        "username": "postgres",
        "password": credentials.superuser_password,
    }
    assert postgresql["authentication"]["replication"] == {
        "username": "replicator",
        "password": credentials.replication_password,
    }
    assert config["restapi"] == {
        "listen": "0.0.0.0:8008",
        "connect_address": "patroni-1:8008",
        "authentication": {"username": "patroni", "password": credentials.rest_password},
    }


def test_pg_hba_admits_each_client_network_with_scram_only(credentials):
    networks = ("172.20.0.0/16", "10.9.0.0/24")
    hba = yaml.safe_load(patroni_yaml(credentials, client_networks=networks))["postgresql"]["pg_hba"]

    for network in networks:
        assert f"host replication replicator {network} scram-sha-256" in hba
        assert f"host all all {network} scram-sha-256" in hba
    assert all(line.endswith("scram-sha-256") for line in hba), "no trust, md5 or password lines"
    loopback = [f"host replication replicator {network} scram-sha-256" for network in pgha.LOOPBACK_NETWORKS]
    assert len(hba) == 2 + len(loopback) + 2 * len(networks)


def test_a_node_may_open_replication_connections_to_itself(credentials):
    """Patroni's own replication connections to `localhost` come from 127.0.0.1 inside a container
    without IPv6: without these lines PostgreSQL refused them (seen on a real Docker Engine)."""
    hba = yaml.safe_load(patroni_yaml(credentials))["postgresql"]["pg_hba"]
    assert "local replication replicator scram-sha-256" in hba
    assert "host replication replicator 127.0.0.1/32 scram-sha-256" in hba
    assert "host replication replicator ::1/128 scram-sha-256" in hba
    assert not any(line.startswith("host all all 127.") for line in hba), "loopback is for replication only"


def test_secrets_survive_yaml_whatever_they_contain():
    def random_with(characters: str) -> str:
        return secrets.token_urlsafe(8) + characters + secrets.token_urlsafe(8)

    awkward = pgha.PgCredentials(
        superuser_password=random_with("'\": #"),
        replication_password=random_with("- [x]"),
        rest_password=random_with("{{ y }}\n%"),
    )
    config = yaml.safe_load(patroni_yaml(awkward))
    assert config["postgresql"]["authentication"]["superuser"]["password"] == awkward.superuser_password
    assert config["postgresql"]["authentication"]["replication"]["password"] == awkward.replication_password
    assert config["restapi"]["authentication"]["password"] == awkward.rest_password


def test_each_node_advertises_its_own_address(credentials):
    second = yaml.safe_load(patroni_yaml(credentials, node=TOPOLOGY.nodes[1]))
    assert second["name"] == "patroni-2"
    assert second["postgresql"]["connect_address"] == "patroni-2:5432"
    assert second["restapi"]["connect_address"] == "patroni-2:8008"


def test_patroni_config_refuses_what_cannot_work(credentials):
    stranger = pgha.PatroniNode("patroni-9", "patroni-9")
    with pytest.raises(ValueError, match="not one of this topology's Patroni nodes"):
        patroni_yaml(credentials, node=stranger)
    with pytest.raises(ValueError, match="exceeds ttl"):
        pgha.DcsTiming(loop_wait=10, retry_timeout=10)
    with pytest.raises(ValueError, match="empty"):
        pgha.PgCredentials(
            superuser_password="",
            replication_password=credentials.replication_password,
            rest_password=credentials.rest_password,
        )
    with pytest.raises(ValueError, match="repeated: etcd-1"):
        pgha.PgHaTopology("s", (TOPOLOGY.etcd[0], TOPOLOGY.etcd[0]), TOPOLOGY.nodes)


# Each message patroni --validate-config prints when an etcd host name does not resolve.
# Only these are forgiven: Docker's names resolve on Docker's networks, not here.
UNRESOLVABLE_HOST = re.compile(
    r"etcd3\.hosts\.\d+ (?P<host>[^:\s]+):\d+ didn't pass validation: "
    r"\[Errno -[235]\] (Name or service not known|Temporary failure in name resolution"
    r"|No address associated with hostname)"
)


def validate_with_patroni(config_text: str, tmp_path) -> list[str]:
    """The messages of patroni --validate-config that Docker hostnames do not explain."""
    patroni = find_patroni()
    if patroni is None:
        missing_tool("patroni not installed (.ci/install.d/20-pgha.sh puts it in /opt/patroni-venv)")
    config_path = tmp_path / "patroni.yml"
    config_path.write_text(config_text)
    # --ignore-listen-port: a port in use on this machine says nothing about the container's.
    result = subprocess.run(
        [patroni, "--validate-config", "--ignore-listen-port", str(config_path)],
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
    )
    messages = [line for line in (result.stdout + result.stderr).splitlines() if line.strip()]
    unexplained = []
    for message in messages:
        match = UNRESOLVABLE_HOST.fullmatch(message)
        if not (match and match["host"] in DOCKER_HOSTNAMES):
            unexplained.append(message)
    if result.returncode != 0 and not messages:
        unexplained.append(f"patroni exited {result.returncode} without a message")
    return unexplained


def local_paths(tmp_path, bin_dir: str | None = None) -> pgha.PostgresPaths:
    """The image's socket directory, with a data directory under tmp_path and this machine's binaries."""
    bin_dir = bin_dir or find_pg_bin_dir()
    if bin_dir is None:
        missing_tool("no PostgreSQL server under /usr/lib/postgresql")
    return pgha.PostgresPaths(str(tmp_path / "data"), bin_dir, pgha.IMAGE_SOCKET_DIR)


def test_patroni_accepts_the_docker_config(credentials, tmp_path):
    # The image's binaries are not here: point bin_dir at this machine's PostgreSQL.
    config = patroni_yaml(credentials, paths=local_paths(tmp_path))
    assert validate_with_patroni(config, tmp_path) == []


def test_patroni_accepts_permanent_logical_slots(credentials, tmp_path):
    slot = pgha.LogicalSlot(name="datalyptica_cdc", database="cdc")
    config = patroni_yaml(credentials, paths=local_paths(tmp_path), logical_slots=(slot,))
    dcs = yaml.safe_load(config)["bootstrap"]["dcs"]
    assert dcs["slots"] == {"datalyptica_cdc": {"type": "logical", "database": "cdc", "plugin": "pgoutput"}}
    assert dcs["postgresql"]["parameters"]["hot_standby_feedback"] == "on"
    assert validate_with_patroni(config, tmp_path) == []
    assert "slots" not in yaml.safe_load(patroni_yaml(credentials))["bootstrap"]["dcs"]


def test_patroni_check_still_catches_real_mistakes(credentials, tmp_path):
    """The filter above forgives unresolvable etcd names and nothing else."""
    broken = patroni_yaml(credentials, paths=local_paths(tmp_path, str(tmp_path / "no-such-bin")))
    unexplained = validate_with_patroni(broken, tmp_path)
    assert any("bin_dir" in message or "no-such-bin" in message for message in unexplained), unexplained


# ----------------------------------------------------------------------------- etcd


def test_etcd_command_forms_one_cluster_of_three():
    command = pgha.etcd_command(TOPOLOGY, TOPOLOGY.etcd[1], data_dir="/etcd-data")
    options = dict(zip(command[1::2], command[2::2], strict=True))

    assert command[0] == "etcd"
    assert options == {
        "--name": "etcd-2",
        "--data-dir": "/etcd-data",
        "--listen-client-urls": "http://0.0.0.0:2379",
        "--advertise-client-urls": "http://etcd-2:2379",
        "--listen-peer-urls": "http://0.0.0.0:2380",
        "--initial-advertise-peer-urls": "http://etcd-2:2380",
        "--initial-cluster": "etcd-1=http://etcd-1:2380,etcd-2=http://etcd-2:2380,etcd-3=http://etcd-3:2380",
        "--initial-cluster-state": "new",
        "--initial-cluster-token": "datalyptica-etcd",
        # Patroni rewrites its keys every loop: without compaction the history fills the backend quota.
        "--auto-compaction-mode": "periodic",
        "--auto-compaction-retention": "1h",
    }


def test_etcd_command_refuses_a_stranger():
    with pytest.raises(ValueError, match="not one of this topology's etcd members"):
        pgha.etcd_command(TOPOLOGY, pgha.EtcdMember("etcd-9", "etcd-9"), data_dir="/d")


# ----------------------------------------------------------------------------- HAProxy


def test_haproxy_routes_by_patroni_role():
    config = pgha.render_haproxy_config(TOPOLOGY)
    primary = config.split("listen primary", 1)[1].split("listen replicas", 1)[0]
    replicas = config.split("listen replicas", 1)[1]

    assert "bind 0.0.0.0:5000" in primary and "uri /primary" in primary
    assert "bind 0.0.0.0:5001" in replicas and "uri /replica" in replicas
    for section in (primary, replicas):
        assert "option httpchk" in section
        for node in TOPOLOGY.nodes:
            assert f"server {node.name} {node.host}:{node.pg_port} check port {node.rest_port}" in section
    assert "on-marked-down shutdown-sessions" in config
    assert "init-addr last,libc,none" in config
    assert "bind 0.0.0.0:7000" in config.split("listen stats", 1)[1].split("listen primary", 1)[0]


def test_haproxy_uses_docker_dns_only_when_asked():
    assert f"nameserver docker {pgha.DOCKER_DNS}" in pgha.render_haproxy_config(TOPOLOGY)
    assert "resolvers docker" in pgha.render_haproxy_config(TOPOLOGY)
    local = pgha.render_haproxy_config(TOPOLOGY, docker_dns=False)
    assert "127.0.0.11" not in local and "resolvers" not in local


def haproxy_check(config_text: str, tmp_path) -> subprocess.CompletedProcess:
    haproxy = shutil.which("haproxy") or shutil.which("haproxy", path="/usr/sbin")
    if haproxy is None:
        missing_tool("haproxy not installed (apt-get install haproxy)")
    config_path = tmp_path / "haproxy.cfg"
    config_path.write_text(config_text)
    return subprocess.run(
        [haproxy, "-c", "-f", str(config_path)], check=False, capture_output=True, text=True, timeout=60
    )


@pytest.mark.parametrize("docker_dns", [True, False])
def test_haproxy_accepts_the_config(tmp_path, docker_dns):
    result = haproxy_check(pgha.render_haproxy_config(TOPOLOGY, docker_dns=docker_dns), tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Configuration file is valid" in result.stdout


def test_haproxy_config_for_other_ports(tmp_path):
    moved = replace(TOPOLOGY, nodes=tuple(replace(node, pg_port=6432, rest_port=9008) for node in TOPOLOGY.nodes))
    config = pgha.render_haproxy_config(moved, primary_port=15000, replica_port=15001, stats_port=17000)
    assert "check port 9008" in config and ":6432 check" in config
    assert haproxy_check(config, tmp_path).returncode == 0
