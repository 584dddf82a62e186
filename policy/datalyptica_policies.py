"""The platform's rules for Docker resources, as Pulumi policies (CrossGuard, Python).

Each rule is a plain validation function `(args, report_violation)`, so tests call it directly
with made-up resources; `policies()` wraps them for the pack (`__main__.py`).

What a policy sees, and what it cannot:
- Resource policies see the resource's inputs (camelCase, as the provider names them) and its
  options (`protect`, but not `retainOnDelete`). Values computed from other resources are
  unknown during `pulumi preview`: reading one raises UnknownValueError and the engine reports
  that the policy could not run on that resource (advisory), so a preview is not blocked by it.
- Secrets arrive as plain values with nothing marking them secret, so a resource policy cannot
  tell a secret from any other string. Credentials are therefore recognised by the variable's
  name, by passwords inside URLs, and (stack policy) by the generated values themselves.
- The engine hands the pack the stack's config as it does the program, so `pulumi.Config`
  reads the stack's `datalyptica:protectData` here too.
"""

import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

import pulumi
from pulumi_policy import (
    EnforcementLevel,
    PolicyResource,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy.proxy import UnknownValueError

PACK_NAME = "datalyptica"
CONTAINER = "docker:index/container:Container"
REMOTE_IMAGE = "docker:index/remoteImage:RemoteImage"
VOLUME = "docker:index/volume:Volume"
SERVICE_LABEL = "datalyptica.service"
# Random values that are names, not credentials, so they may show: Kafka's cluster id, which the
# apache/kafka image reads from its env only (components/streaming.py, CLUSTER_ID_RESOURCE).
GENERATED_IDENTIFIERS = frozenset({"kafka-cluster-id"})

# Who may reach the Docker daemon, and whether it must be read-only for them.
DOCKER_SOCKET = "/var/run/docker.sock"
DOCKER_SOCKET_ALLOWED = {
    "alloy": "read-only",  # discovers containers and reads their logs
    "jupyterhub": "read-write",  # DockerSpawner creates and removes notebook containers
}

# A variable whose name says it carries a credential...
CREDENTIAL_NAME = re.compile(
    r"PASSWORD|PASSWD|SECRET|TOKEN|CREDENTIAL|PRIVATE_?KEY|API_?KEY|ACCESS_?KEY|(^|_)KEY($|_)|(^|_)PASS($|_)"
)
# ...unless its name says the value is where the credential is, or where it is fetched from.
POINTS_TO_A_FILE = ("_FILE", "_PATH", "_DIR")
POINTS_TO_A_URL = ("_URL", "_URI", "_ENDPOINT")
URL_WITH_PASSWORD = re.compile(r"[a-z][a-z0-9+.-]*://[^/\s:@]+:[^/\s@]+@", re.IGNORECASE)
SHORTEST_GENERATED_SECRET = 8  # shorter random values are not credentials, and would match by chance

ReportViolation = Callable[..., None]


# ---- containers -------------------------------------------------------------------------------


def is_job(props: Mapping[str, Any]) -> bool:
    """A container created to be run on demand: not started, not kept running, never restarted."""
    created_only = props.get("start", True) is False or props.get("mustRun", True) is False
    return created_only and props.get("restart", "no") in (None, "no")


def _service(props: Mapping[str, Any]) -> str | None:
    for label in props.get("labels") or []:
        if label.get("label") == SERVICE_LABEL:
            value: str | None = label.get("value")
            return value
    return None


def _container_name(args: ResourceValidationArgs) -> str:
    return args.props.get("name") or args.name


def long_running_containers_have_health_checks(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    if args.resource_type != CONTAINER or is_job(args.props):
        return
    tests = (args.props.get("healthcheck") or {}).get("tests") or []
    if not tests or tests[0] == "NONE":
        report_violation(
            f"container {_container_name(args)} runs without a health check: give its Service a HealthCheck "
            "that works with the tools inside its image (or make it a job: start=False, restart='no')"
        )


def long_running_containers_restart(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    if args.resource_type != CONTAINER or is_job(args.props):
        return
    restart = args.props.get("restart", "no")
    if restart not in ("always", "unless-stopped", "on-failure"):
        report_violation(
            f"container {_container_name(args)} has restart policy {restart!r}: a long-running container "
            "needs 'unless-stopped' (or 'always', 'on-failure')"
        )


def containers_have_memory_and_cpu_limits(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    if args.resource_type != CONTAINER:
        return
    missing = []
    if not (args.props.get("memory") or 0) > 0:
        missing.append("memory")
    try:
        cpus = float(args.props.get("cpus") or 0)
    except ValueError:
        cpus = 0
    if not cpus > 0:
        missing.append("cpus")
    if missing:
        report_violation(
            f"container {_container_name(args)} has no {' and no '.join(missing)} limit: set them from "
            "settings (datalyptica:services.<name>) so the host's capacity check counts it"
        )


def no_privileged_containers(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    if args.resource_type == CONTAINER and args.props.get("privileged"):
        report_violation(
            f"container {_container_name(args)} is privileged: it could take over the Docker host; "
            "grant only the capabilities it needs (capabilities.adds)"
        )


def containers_gain_no_privileges(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    """Containers run with no-new-privileges: no process in them gains privileges by exec."""
    if args.resource_type != CONTAINER:
        return
    options = args.props.get("securityOpts") or []
    if not any(option in ("no-new-privileges", "no-new-privileges:true") for option in options):
        report_violation(
            f"container {_container_name(args)} runs without no-new-privileges: a process in it may gain "
            "root through a setuid binary; add security_opts=['no-new-privileges:true']"
        )


def _host_mounts(props: Mapping[str, Any]) -> Iterator[tuple[str, bool]]:
    """(host path, read-only) of every bind mount, from `volumes` and from `mounts`."""
    for volume in props.get("volumes") or []:
        if volume.get("hostPath"):
            yield volume["hostPath"], bool(volume.get("readOnly"))
    for mount in props.get("mounts") or []:
        if mount.get("type") == "bind" and mount.get("source"):
            yield mount["source"], bool(mount.get("readOnly"))


def _exposes_docker_socket(host_path: str) -> bool:
    """The socket itself, or a folder it is in (/var/run, /run is where /var/run points, /); any
    other `docker.sock` too (datalyptica:dockerSocket may name e.g. rootless Docker's)."""
    path = host_path.rstrip("/") or "/"
    folder = path.rstrip("/") + "/"
    return path.endswith("/docker.sock") or any(
        path == socket or socket.startswith(folder) for socket in (DOCKER_SOCKET, "/run/docker.sock")
    )


def docker_socket_only_where_allowed(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    if args.resource_type != CONTAINER:
        return
    service = _service(args.props)
    for host_path, read_only in _host_mounts(args.props):
        if not _exposes_docker_socket(host_path):
            continue
        allowed = DOCKER_SOCKET_ALLOWED.get(service or "")
        if allowed is None:
            report_violation(
                f"container {_container_name(args)} mounts {host_path}, which gives it the Docker daemon: "
                f"only {', '.join(DOCKER_SOCKET_ALLOWED)} may (policy/datalyptica_policies.py DOCKER_SOCKET_ALLOWED)"
            )
        elif allowed == "read-only" and not read_only:
            report_violation(
                f"container {_container_name(args)} mounts {host_path} writable: {service} only reads from "
                "the Docker daemon, mount it read-only"
            )


# ---- images -----------------------------------------------------------------------------------


def image_reference_problem(reference: str, *, image_id_allowed: bool = False) -> str | None:
    """Why `reference` does not pin an image, or None when it does (an explicit tag or a digest)."""
    if "@sha256:" in reference or (image_id_allowed and reference.startswith("sha256:")):
        return None
    last_part = reference.rsplit("/", 1)[-1]  # a registry's port is not a tag: host:5000/name
    if ":" not in last_part:
        return "has no tag, which means whatever 'latest' is when it is pulled"
    if last_part.rsplit(":", 1)[1] == "latest":
        return "uses the 'latest' tag, which moves"
    return None


def images_are_pinned(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    if args.resource_type == REMOTE_IMAGE:
        reference, field = args.props.get("name"), "name"
    elif args.resource_type == CONTAINER:
        try:
            reference, field = args.props.get("image"), "image"
        except UnknownValueError:
            return  # the id of an image resource not pulled yet; that resource is checked itself
    else:
        return
    problem = image_reference_problem(reference or "", image_id_allowed=args.resource_type == CONTAINER)
    if problem:
        report_violation(
            f"{field} {reference!r} {problem}: pin a version tag (e.g. redis:7.2-bookworm) or a digest "
            "(name@sha256:...), in components/catalog.py or datalyptica:services.<name>.image"
        )


# ---- credentials ------------------------------------------------------------------------------


def env_credential_problem(entry: str) -> str | None:
    """Why a `NAME=value` environment entry carries a credential in plain text, or None."""
    name, _, value = entry.partition("=")
    upper = name.upper()
    if URL_WITH_PASSWORD.search(value):
        return f"{name} holds a URL with a password in it"
    if not CREDENTIAL_NAME.search(upper) or upper.endswith(POINTS_TO_A_URL):
        return None
    if upper.endswith(POINTS_TO_A_FILE):
        return None if value.startswith("/") else f"{name} should name a file but holds {len(value)} characters"
    return f"{name} looks like a credential"


def no_credentials_in_env(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    if args.resource_type != CONTAINER:
        return
    envs = args.props.get("envs") or []
    unknown: UnknownValueError | None = None
    for index in range(len(envs)):
        try:
            entry = envs[index]
        except UnknownValueError as error:  # computed from another resource: checkable at `up`
            unknown = unknown or error
            continue
        if problem := env_credential_problem(entry):
            report_violation(
                f"container {_container_name(args)}: {problem}; environment variables show in `docker inspect`. "
                "Deliver it as a secret File (mode 0400) and point the image at it (NAME_FILE=/path) instead"
            )
    if unknown is not None:
        raise unknown


def _generated_secrets(resources: Iterable[PolicyResource]) -> set[str]:
    """The values of every pulumi-random resource (and the URL-safe form of random bytes), but
    those that name something rather than unlock it (GENERATED_IDENTIFIERS)."""
    values = set()
    for resource in resources:
        if not resource.resource_type.startswith("random:index/") or resource.name in GENERATED_IDENTIFIERS:
            continue
        for field in ("result", "hex", "base64"):
            try:
                value = resource.props.get(field)
            except UnknownValueError:
                continue
            if isinstance(value, str) and len(value) >= SHORTEST_GENERATED_SECRET:
                values.add(value)
                if field == "base64":
                    values.update({value.replace("+", "-").replace("/", "_"), value.rstrip("=")})
    return values


def _visible_strings(props: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
    """(field, text) of what `docker inspect` shows of a container, uploads excepted."""
    fields: dict[str, Any] = {  # lists of the engine's values, any of which may be unknown
        "envs": props.get("envs"),
        "command": props.get("command"),
        "entrypoints": props.get("entrypoints"),
        "labels": [label.get("value") for label in props.get("labels") or []],
        "healthcheck": (props.get("healthcheck") or {}).get("tests"),
    }
    for field, values in fields.items():
        for index in range(len(values or [])):
            try:
                value = values[index]
            except UnknownValueError:
                continue
            if isinstance(value, str):
                yield field, value


def generated_secrets_stay_in_files(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    """Stack policy: no generated credential shows in a container's env, command or labels."""
    secrets = _generated_secrets(args.resources)
    if not secrets:
        return
    for resource in args.resources:
        if resource.resource_type != CONTAINER:
            continue
        for field, text in _visible_strings(resource.props):
            if any(secret in text for secret in secrets):
                shown = text.partition("=")[0] if field == "envs" else field
                report_violation(
                    f"container {resource.name}: a generated secret shows in its {field} ({shown}); deliver it "
                    "as a secret File (mode 0400) instead",
                    resource.urn,
                )


# ---- data -------------------------------------------------------------------------------------


def stack_of(urn: str) -> str:
    """urn:pulumi:<stack>::<project>::<type>::<name> -> <stack>."""
    return urn.split("::", 1)[0].rsplit(":", 1)[-1]


def stack_protects_data() -> bool:
    """The stack's `datalyptica:protectData`; true when unset, as the program's default."""
    protect = pulumi.Config("datalyptica").get_bool("protectData")
    return True if protect is None else protect


def data_volumes_protected(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    if args.resource_type != VOLUME or args.opts.protect:
        return
    stack = stack_of(args.urn)
    if stack_protects_data():
        report_violation(
            f"volume {args.props.get('name') or args.name} is not protected, but stack {stack} sets "
            "datalyptica:protectData: create it with Platform.volume (protect and retain_on_delete)"
        )


# ---- the pack ---------------------------------------------------------------------------------

RESOURCE_RULES = {
    "long-running-containers-have-health-checks": long_running_containers_have_health_checks,
    "long-running-containers-restart": long_running_containers_restart,
    "containers-have-memory-and-cpu-limits": containers_have_memory_and_cpu_limits,
    "no-privileged-containers": no_privileged_containers,
    "docker-socket-only-where-allowed": docker_socket_only_where_allowed,
    "containers-gain-no-privileges": containers_gain_no_privileges,
    "images-are-pinned": images_are_pinned,
    "no-credentials-in-env": no_credentials_in_env,
    "data-volumes-protected": data_volumes_protected,
}
STACK_RULES = {
    "generated-secrets-stay-in-files": generated_secrets_stay_in_files,
}


def _description(rule: Callable) -> str:
    return (rule.__doc__ or rule.__name__.replace("_", " ")).strip().splitlines()[0]


def policies() -> list:
    resource = [
        ResourceValidationPolicy(
            name=name, description=_description(rule), validate=rule, enforcement_level=EnforcementLevel.MANDATORY
        )
        for name, rule in RESOURCE_RULES.items()
    ]
    stack = [
        StackValidationPolicy(
            name=name, description=_description(rule), validate=rule, enforcement_level=EnforcementLevel.MANDATORY
        )
        for name, rule in STACK_RULES.items()
    ]
    return resource + stack
