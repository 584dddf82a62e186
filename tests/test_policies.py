"""The policy pack's rules, called directly with passing and failing resources, then run over
everything the program registers for the dev and prod stacks (under mocks) expecting none.

Resources reach a rule as the engine hands them over: inputs behind the SDK's unknown-checking
proxy, secrets as plain values, options with `protect`.
"""

import sys
from pathlib import Path

import pytest
from pulumi.runtime import config as pulumi_config

from harness.offline import GENERATED_IDENTIFIERS, ROOT, stack_config
from tests.required_tools import missing_tool

try:
    import pulumi_policy
    from pulumi_policy import (
        PolicyCustomTimeouts,
        PolicyResource,
        PolicyResourceOptions,
        ResourceValidationArgs,
        StackValidationArgs,
    )
    from pulumi_policy.proxy import UNKNOWN_STRING_VALUE, UnknownValueError, unknown_checking_proxy
except ImportError:
    missing_tool("python package pulumi-policy not installed (make venv)")

sys.path.insert(0, str(ROOT / "policy"))
import datalyptica_policies as rules

CONTAINER = rules.CONTAINER


def options(protect: bool = False) -> "PolicyResourceOptions":
    return PolicyResourceOptions(protect, [], None, [], PolicyCustomTimeouts(0, 0, 0), [], None)


def resource(type_: str, props: dict, *, name: str = "thing", stack: str = "test", protect: bool = False):
    urn = f"urn:pulumi:{stack}::datalyptica::{type_}::{name}"
    return ResourceValidationArgs(type_, unknown_checking_proxy(props), urn, name, options(protect), None)


def violations(rule, args) -> list[str]:
    found = []
    rule(args, lambda message, urn=None: found.append(message))
    return found


def container(**props) -> dict:
    """A long-running container that follows every rule; keyword arguments change it."""
    base = {
        "name": "datalyptica-web",
        "image": "sha256:abc",
        "memory": 512,
        "cpus": "0.5",
        "restart": "unless-stopped",
        "healthcheck": {"tests": ["CMD", "true"]},
        "labels": [{"label": "datalyptica.service", "value": "web"}],
        "envs": ["MODE=production", "PASSWORD_FILE=/run/secrets/password"],
        "securityOpts": ["no-new-privileges:true"],
    }
    return {**base, **props}


def job(**props) -> dict:
    base = container(restart="no", start=False, mustRun=False)
    del base["healthcheck"]
    return {**base, **props}


def check(rule, props: dict, type_: str = CONTAINER) -> list[str]:
    return violations(rule, resource(type_, props))


# ---- health checks, restart, limits ----------------------------------------------------------


def test_health_checks():
    rule = rules.long_running_containers_have_health_checks
    assert check(rule, container()) == []
    assert check(rule, job()) == []
    [message] = check(rule, container(healthcheck=None))
    assert "datalyptica-web runs without a health check" in message
    assert check(rule, container(healthcheck={"tests": ["NONE"]}))
    # created but restarting is not a job
    assert check(rule, {**job(), "restart": "always"})


def test_restart_policies():
    rule = rules.long_running_containers_restart
    assert check(rule, container()) == []
    assert check(rule, job()) == []
    assert "restart policy 'no'" in check(rule, container(restart="no"))[0]
    missing = container()
    del missing["restart"]
    assert check(rule, missing)


def test_memory_and_cpu_limits_even_for_jobs():
    rule = rules.containers_have_memory_and_cpu_limits
    assert check(rule, container()) == []
    assert "no memory limit" in check(rule, container(memory=0))[0]
    assert "no cpus limit" in check(rule, job(cpus=None))[0]
    both = container()
    del both["memory"], both["cpus"]
    assert "no memory and no cpus limit" in check(rule, both)[0]


def test_no_privileged_containers():
    assert check(rules.no_privileged_containers, container()) == []
    assert check(rules.no_privileged_containers, container(privileged=False)) == []
    assert "is privileged" in check(rules.no_privileged_containers, container(privileged=True))[0]


def test_containers_gain_no_privileges():
    rule = rules.containers_gain_no_privileges
    assert check(rule, container()) == []
    assert check(rule, container(securityOpts=["no-new-privileges"])) == []
    assert "without no-new-privileges" in check(rule, container(securityOpts=None))[0]
    assert "without no-new-privileges" in check(rule, container(securityOpts=["no-new-privileges:false"]))[0]


# ---- the Docker socket -----------------------------------------------------------------------


def socket_volume(read_only: bool, host_path: str = "/var/run/docker.sock") -> list[dict]:
    return [{"hostPath": host_path, "containerPath": "/var/run/docker.sock", "readOnly": read_only}]


def as_service(service: str, **props) -> dict:
    return container(labels=[{"label": "datalyptica.service", "value": service}], **props)


def test_docker_socket_allow_list():
    rule = rules.docker_socket_only_where_allowed
    assert check(rule, as_service("alloy", volumes=socket_volume(read_only=True))) == []
    assert check(rule, as_service("jupyterhub", volumes=socket_volume(read_only=False))) == []
    assert "only alloy, jupyterhub may" in check(rule, as_service("trino", volumes=socket_volume(True)))[0]
    assert "mount it read-only" in check(rule, as_service("alloy", volumes=socket_volume(read_only=False)))[0]
    # `mounts` count too, and so do the folders that hold the socket
    bind = {"type": "bind", "source": "/run/docker.sock", "target": "/var/run/docker.sock"}
    assert check(rule, as_service("superset", mounts=[bind]))
    assert check(rule, as_service("superset", volumes=socket_volume(True, host_path="/var/run/")))
    assert check(rule, as_service("superset", volumes=socket_volume(True, host_path="/")))
    # a socket elsewhere (datalyptica:dockerSocket, rootless Docker) is the socket too
    assert check(rule, as_service("superset", volumes=socket_volume(True, host_path="/run/user/1000/docker.sock")))
    # other bind mounts and named volumes are not the socket
    assert check(rule, as_service("superset", volumes=socket_volume(False, host_path="/srv/data"))) == []
    assert check(rule, container(volumes=[{"volumeName": "datalyptica-data", "containerPath": "/data"}])) == []
    # a container without the service label is not on the list
    unlabelled = container(labels=[], volumes=socket_volume(True))
    assert check(rule, unlabelled)


# ---- images ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "reference,pinned",
    [
        ("redis:7.2-bookworm", True),
        ("quay.io/minio/minio:RELEASE.2025-09-07T16-13-09Z", True),
        ("ghcr.io/datalyptica/datalyptica/patroni:1.0.0", True),
        ("redis@sha256:" + "a" * 64, True),
        ("redis", False),
        ("redis:latest", False),
        ("localhost:5000/redis", False),  # a registry's port is not a tag
        ("localhost:5000/redis:7.2", True),
    ],
)
def test_image_references(reference, pinned):
    assert (rules.image_reference_problem(reference) is None) is pinned
    remote = violations(rules.images_are_pinned, resource("docker:index/remoteImage:RemoteImage", {"name": reference}))
    assert (remote == []) is pinned


def test_containers_run_image_ids_digests_or_pinned_tags():
    rule = rules.images_are_pinned
    assert check(rule, container(image="sha256:" + "b" * 64)) == []
    assert check(rule, container(image="redis:7.2")) == []
    assert "pin a version tag" in check(rule, container(image="redis"))[0]
    # an image id not known during preview comes from an image resource, checked on its own
    assert check(rule, container(image=UNKNOWN_STRING_VALUE)) == []


# ---- credentials -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "entry,plaintext",
    [
        ("POSTGRES_PASSWORD=hunter2", True),
        ("MINIO_SECRET_KEY=abc", True),
        ("JUPYTERHUB_CRYPT_KEY=abc", True),
        ("GF_SECURITY_ADMIN_PASSWORD__FILE=/run/secrets/x", False),  # Grafana's __FILE form
        ("POSTGRES_PASSWORD_FILE=/run/secrets/postgres", False),
        ("POSTGRES_PASSWORD_FILE=hunter2", True),  # named like a file, holds the password
        ("API_TOKEN=xyz", True),
        ("KEY=xyz", True),
        ("OAUTH_TOKEN_URL=http://keycloak:8080/realms/x/token", False),
        ("DATABASE_URL=postgresql://nessie:hunter2@haproxy:5000/nessie", True),
        ("DATABASE_URL=postgresql://haproxy:5000/nessie", False),
        ("KEYCLOAK_HOSTNAME=localhost", False),
        ("MONKEY=banana", False),
        ("QUARKUS_CONFIG_LOCATIONS=/etc/nessie/application.properties", False),
    ],
)
def test_env_entries(entry, plaintext):
    assert (rules.env_credential_problem(entry) is not None) is plaintext
    assert (check(rules.no_credentials_in_env, container(envs=[entry])) != []) is plaintext


def test_env_message_names_the_variable_and_the_fix_without_the_value():
    [message] = check(rules.no_credentials_in_env, container(envs=["POSTGRES_PASSWORD=hunter2"]))
    assert "POSTGRES_PASSWORD looks like a credential" in message and "secret File (mode 0400)" in message
    assert "hunter2" not in message


def test_env_entries_unknown_at_preview_are_reported_as_unchecked_after_the_known_ones():
    found = []
    args = resource(CONTAINER, container(envs=["ROOT_PASSWORD=x", UNKNOWN_STRING_VALUE, "MODE=a"]))
    with pytest.raises(UnknownValueError):
        rules.no_credentials_in_env(args, lambda message, urn=None: found.append(message))
    assert len(found) == 1 and "ROOT_PASSWORD" in found[0]


def stack(*resources: tuple[str, str, dict]) -> "StackValidationArgs":
    return StackValidationArgs(
        [
            PolicyResource(
                type_,
                unknown_checking_proxy(props),
                f"urn:pulumi:test::datalyptica::{type_}::{name}",
                name,
                options(),
                None,
                None,
                [],
                {},
            )
            for type_, name, props in resources
        ],
        {},
    )


def test_a_generated_identifier_may_show_where_a_secret_may_not():
    """Kafka's cluster id is random bytes that name the cluster; the image reads it from env only."""
    cluster_id = (
        "random:index/randomBytes:RandomBytes",
        "kafka-cluster-id",
        {"hex": "00ff" * 8, "base64": "AP8A/wD/AP8A/wD/AP8A/w=="},
    )
    broker = (CONTAINER, "kafka-1", container(envs=["CLUSTER_ID=AP8A_wD_AP8A_wD_AP8A_w"]))
    assert violations(rules.generated_secrets_stay_in_files, stack(cluster_id, broker)) == []
    assert rules.GENERATED_IDENTIFIERS == GENERATED_IDENTIFIERS


def test_generated_secrets_never_show_in_a_containers_env_command_or_labels():
    password = ("random:index/randomPassword:RandomPassword", "db-password", {"result": "Gx0123456789abcdef"})
    key = ("random:index/randomBytes:RandomBytes", "fernet", {"hex": "00ff" * 8, "base64": "ab+/cdEFghIJklMN=="})
    clean = (CONTAINER, "web", container(envs=["MODE=a"], command=["serve"]))
    assert violations(rules.generated_secrets_stay_in_files, stack(password, key, clean)) == []

    found = []
    leaking = [
        (CONTAINER, "in-env", container(envs=["DB=postgresql://u:Gx0123456789abcdef@h/db"])),
        (CONTAINER, "in-command", container(command=["serve", "--key", "ab-_cdEFghIJklMN=="])),  # URL-safe form
        (CONTAINER, "in-label", container(labels=[{"label": "token", "value": "00ff" * 8}])),
    ]
    rules.generated_secrets_stay_in_files(
        stack(password, key, *leaking), lambda message, urn=None: found.append((message, urn))
    )
    assert [urn.rsplit("::", 1)[1] for _, urn in found] == ["in-env", "in-command", "in-label"]
    assert "its envs (DB)" in found[0][0] and "Gx0123456789abcdef" not in found[0][0]


def test_unknown_generated_secrets_are_skipped():
    unknown = ("random:index/randomPassword:RandomPassword", "p", {"result": UNKNOWN_STRING_VALUE})
    assert violations(rules.generated_secrets_stay_in_files, stack(unknown, (CONTAINER, "web", container()))) == []


# ---- protected data --------------------------------------------------------------------------


@pytest.fixture
def pack_config():
    """Hand the pack a stack's config, as the engine does (PULUMI_CONFIG); restored afterwards."""
    saved = dict(pulumi_config.CONFIG.get())
    yield lambda config: pulumi_config.set_all_config(config)
    pulumi_config.set_all_config(saved)


def volume(stack_name: str, protect: bool):
    return resource(rules.VOLUME, {"name": "datalyptica-minio-data"}, stack=stack_name, protect=protect)


def test_volumes_are_protected_where_the_stack_says_so(pack_config):
    rule = rules.data_volumes_protected
    pack_config(stack_config("prod"))
    assert violations(rule, volume("prod", protect=True)) == []
    [message] = violations(rule, volume("prod", protect=False))
    assert "datalyptica-minio-data is not protected, but stack prod sets datalyptica:protectData" in message
    pack_config(stack_config("dev"))  # protectData: false
    assert violations(rule, volume("dev", protect=False)) == []
    pack_config({})
    assert violations(rule, volume("new", protect=False)), "unset, the program's default is to protect"


def test_the_stack_is_read_from_the_urn():
    assert rules.stack_of("urn:pulumi:dev::datalyptica::docker:index/volume:Volume::minio-data-volume") == "dev"


# ---- the pack --------------------------------------------------------------------------------


def test_the_pack_has_every_rule_once_and_mandatory():
    policies = rules.policies()
    assert len({p.name for p in policies}) == len(policies) == len(rules.RESOURCE_RULES) + len(rules.STACK_RULES)
    assert all(p.enforcement_level == pulumi_policy.EnforcementLevel.MANDATORY for p in policies)


def test_the_pack_is_laid_out_as_pulumi_expects():
    import yaml

    policy_dir = Path(rules.__file__).parent
    assert yaml.safe_load((policy_dir / "PulumiPolicy.yaml").read_text())["runtime"]["name"] == "python"
    assert "pulumi-policy" in (policy_dir / "requirements.txt").read_text()
    assert "PolicyPack(" in (policy_dir / "__main__.py").read_text()


# ---- the program's own resources -------------------------------------------------------------


def as_engine_sends(deployment) -> tuple[list, "StackValidationArgs"]:
    """The recorded resources as the engine would give them to the pack: inputs to resource
    rules, outputs to stack rules (both with secrets revealed), options with `protect`."""
    resource_args, stack_resources = [], []
    for registered in deployment.registered:
        opts = PolicyResourceOptions(
            registered.protect,
            [],
            registered.delete_before_replace,
            [],
            PolicyCustomTimeouts(0, 0, 0),
            [],
            registered.parent or None,
        )
        resource_args.append(
            ResourceValidationArgs(
                registered.type, unknown_checking_proxy(registered.inputs), registered.urn, registered.name, opts, None
            )
        )
        stack_resources.append(
            PolicyResource(
                registered.type,
                unknown_checking_proxy(registered.outputs),
                registered.urn,
                registered.name,
                opts,
                None,
                None,
                [],
                {},
            )
        )
    return resource_args, StackValidationArgs(stack_resources, {})


def all_violations(deployment) -> list[str]:
    resource_args, stack_args = as_engine_sends(deployment)
    found = []
    for name, rule in rules.RESOURCE_RULES.items():
        for args in resource_args:
            rule(args, lambda message, urn=None, name=name, args=args: found.append(f"{name}: {args.urn}: {message}"))
    for name, rule in rules.STACK_RULES.items():
        rule(stack_args, lambda message, urn=None, name=name: found.append(f"{name}: {urn}: {message}"))
    return found


@pytest.mark.parametrize("stack_name", ["dev", "prod"])
def test_the_program_passes_every_policy(stack_name, request, pack_config):
    deployment = request.getfixturevalue(stack_name)
    pack_config(stack_config(stack_name))
    assert deployment.of_type(CONTAINER) and deployment.of_type(rules.VOLUME)
    assert all_violations(deployment) == []


def test_the_policies_see_the_programs_resources(dev, pack_config):
    """The same records do fail when they break a rule: the adapter hands the rules real data."""
    resource_args, stack_args = as_engine_sends(dev)
    volumes = [args for args in resource_args if args.resource_type == rules.VOLUME]
    pack_config({**stack_config("dev"), "datalyptica:protectData": "true"})  # dev's volumes, prod's setting
    assert volumes and all(violations(rules.data_volumes_protected, args) for args in volumes)

    secret = next(r.props["result"] for r in stack_args.resources if r.resource_type.endswith("RandomPassword"))
    [victim] = [r for r in stack_args.resources if r.name == "minio-container"]
    victim.props["__target"]["envs"] = [*victim.props["envs"], f"MINIO_ROOT_PASSWORD={secret}"]
    assert violations(rules.generated_secrets_stay_in_files, stack_args)


# ---- the pack as the engine runs it ----------------------------------------------------------


@pytest.fixture
def running_pack():
    """Start policy/__main__.py as the engine does (stack config in PULUMI_CONFIG, the port it
    listens on read from its stdout) and return a client of its Analyzer gRPC service."""
    import json
    import os
    import subprocess

    import grpc
    from pulumi.runtime.proto import analyzer_pb2_grpc

    started = []

    def start(config: dict[str, str]):
        process = subprocess.Popen(
            [sys.executable, "-u", str(ROOT / "policy" / "__main__.py")],
            cwd=ROOT / "policy",
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env={**os.environ, "PULUMI_CONFIG": json.dumps(config)},
        )
        started.append(process)
        port = process.stdout.readline().decode().strip()
        assert port.isdigit(), process.stderr.read().decode() if process.poll() is not None else port
        channel = grpc.insecure_channel(f"127.0.0.1:{port}")
        grpc.channel_ready_future(channel).result(timeout=20)
        return analyzer_pb2_grpc.AnalyzerStub(channel)

    yield start
    for process in started:
        process.terminate()
        process.wait(timeout=20)


def struct(values: dict):
    from google.protobuf import struct_pb2

    message = struct_pb2.Struct()
    message.update(values)
    return message


def analyze_over_grpc(analyzer, deployment) -> list:
    """Every recorded resource through Analyze (inputs, secrets still marked) and the stack
    through AnalyzeStack (outputs): the diagnostics the pack answers with."""
    from pulumi.runtime.proto import analyzer_pb2

    def described(registered, values: dict) -> dict:
        """What Analyze and AnalyzeStack both say of a resource: `values` are its inputs or outputs."""
        options = analyzer_pb2.AnalyzerResourceOptions(protect=registered.protect, parent=registered.parent)
        return {
            "type": registered.type,
            "properties": struct(values),
            "urn": registered.urn,
            "name": registered.name,
            "options": options,
        }

    diagnostics = []
    for registered in deployment.registered:
        request = analyzer_pb2.AnalyzeRequest(**described(registered, registered.raw_inputs))
        diagnostics += analyzer.Analyze(request).diagnostics
    resources = [
        analyzer_pb2.AnalyzerResource(**described(r, r.outputs), parent=r.parent) for r in deployment.registered
    ]
    diagnostics += analyzer.AnalyzeStack(analyzer_pb2.AnalyzeStackRequest(resources=resources)).diagnostics
    return diagnostics


@pytest.mark.parametrize("stack_name", ["dev", "prod"])
def test_the_running_pack_lists_every_rule_and_finds_nothing_in_the_program(stack_name, request, running_pack):
    from google.protobuf import empty_pb2

    analyzer = running_pack(stack_config(stack_name))
    info = analyzer.GetAnalyzerInfo(empty_pb2.Empty())
    assert info.name == rules.PACK_NAME
    assert {p.name for p in info.policies} == set(rules.RESOURCE_RULES) | set(rules.STACK_RULES)
    diagnostics = analyze_over_grpc(analyzer, request.getfixturevalue(stack_name))
    assert [f"{d.policyName}: {d.urn}: {d.message}" for d in diagnostics] == []


def test_the_running_pack_reports_a_broken_rule_as_mandatory(running_pack):
    from pulumi.runtime.proto import analyzer_pb2

    analyzer = running_pack(stack_config("prod"))
    volume_urn = "urn:pulumi:prod::datalyptica::docker:index/volume:Volume::data"
    response = analyzer.Analyze(
        analyzer_pb2.AnalyzeRequest(
            type=rules.VOLUME,
            properties=struct({"name": "datalyptica-data"}),
            urn=volume_urn,
            name="data",
            options=analyzer_pb2.AnalyzerResourceOptions(protect=False),
        )
    )
    [diagnostic] = response.diagnostics
    assert diagnostic.policyName == "data-volumes-protected"
    assert diagnostic.enforcementLevel == analyzer_pb2.MANDATORY
    assert "stack prod sets datalyptica:protectData" in diagnostic.message
