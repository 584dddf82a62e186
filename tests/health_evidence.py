"""What each pinned image has to run its health check, and where that was read.

A container that never turns healthy fails `pulumi up` on its `wait`, so a health check may only
call a tool its image really has. Per catalog service: the tools the check may start (argv[0] of
a CMD check, `sh` for CMD-SHELL) and the upstream file, at the pinned tag where the repository
could be read at it, that shows them. tests/test_health_checks.py holds every registered check to
this table; change both together when an image or its check changes.
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class ImageTools:
    tools: frozenset[str]
    evidence: str


def _tools(*tools: str, evidence: str) -> ImageTools:
    return ImageTools(frozenset(tools), evidence)


_PROMETHEUS_BUSYBOX = "FROM quay.io/prometheus/busybox (busybox: sh, wget; no curl)"

HEALTH_CHECK_TOOLS: dict[str, ImageTools] = {
    "etcd": _tools(
        "etcdctl",
        evidence="etcd-io/etcd Dockerfile-release.amd64 @ v3.5.21: distroless/static-debian11 "
        "+ /usr/local/bin/etcd, etcdctl, etcdutl (no shell: CMD form only)",
    ),
    "seaweedfs": _tools(
        "curl",
        evidence="seaweedfs/seaweedfs docker/Dockerfile.go_build @ 4.53: FROM alpine, "
        "apk add ... curl su-exec (busybox sh too)",
    ),
    "patroni": _tools("curl", evidence="this repo, images/patroni/Dockerfile: apt-get install curl"),
    "haproxy": _tools(
        "bash",
        evidence="docker-library/haproxy 3.2/Dockerfile @ ef134ca (Update 3.2 to 3.2.4): "
        "debian:trixie-slim + ca-certificates only: bash, no curl/wget/socat",
    ),
    "minio": _tools(
        "mc",
        evidence="minio/minio Dockerfile.release (stored version 0031b12): /opt/bin/mc is "
        "downloaded next to minio, on PATH (curl left out of later releases: "
        "shared/reference/services.md, minio issues #18371/#18373)",
    ),
    "nessie": _tools(
        "bash",
        evidence="projectnessie/nessie tools/dockerbuild/docker/Dockerfile-server @ "
        "nessie-0.108.4: FROM ubi9/openjdk-21-runtime:1.24-3 (ubi9-minimal: bash; "
        "curl not verified)",
    ),
    "kafka": _tools(
        "/opt/kafka/bin/kafka-broker-api-versions.sh",
        evidence="apache/kafka docker/jvm/Dockerfile (stored version 120d52d): temurin alpine, "
        "`apk del wget` at the end; the broker itself starts through the same "
        "/opt/kafka/bin scripts, so their bash is there",
    ),
    "schema-registry": _tools(
        "bash",
        evidence="confluentinc/common-docker base-java/Dockerfile.ubi9 (stored "
        "version 01c6bca): ubi9-minimal + temurin, crypto-policies-scripts, "
        "findutils, hostname; appuser's shell /bin/bash; curl not installed",
    ),
    "kafka-connect": _tools(
        "curl",
        evidence="debezium/container-images kafka/3.5/Dockerfile (stored d31ce43) "
        "runs `curl -fSL` in the image the connect image is built on "
        "(connect-base/3.5/Dockerfile FROM .../kafka:3.5)",
    ),
    "spark-master": _tools(
        "curl",
        evidence="apache/spark-docker 4.1.2/scala2.13-java17-ubuntu/Dockerfile: FROM "
        "eclipse-temurin:17-jammy (adoptium/containers 17/jdk/ubuntu/jammy: "
        "curl, wget) + wget bash",
    ),
    "spark-worker": _tools("curl", evidence="as spark-master (same image)"),
    "flink-jobmanager": _tools(
        "curl",
        evidence="apache/flink-docker 2.2/scala_2.12-java17-ubuntu/Dockerfile @ "
        "983be34 (Update Dockerfiles for 2.2.1 release): FROM "
        "eclipse-temurin:17-jre-noble "
        "(adoptium 17/jre/ubuntu/noble: curl, wget)",
    ),
    "flink-taskmanager": _tools("curl", evidence="as flink-jobmanager (same image)"),
    "trino": _tools(
        "/usr/lib/trino/bin/health-check",
        evidence="trinodb/trino core/docker/Dockerfile: the image's own HEALTHCHECK runs "
        "/usr/lib/trino/bin/health-check (curl installed for it)",
    ),
    "clickhouse": _tools(
        "wget",
        evidence="ClickHouse/ClickHouse docker/server/Dockerfile.ubuntu (stored 001409c, "
        "25.4): apt-get install ca-certificates locales tzdata wget; no curl",
    ),
    "prometheus": _tools("wget", evidence=f"prometheus/prometheus Dockerfile: {_PROMETHEUS_BUSYBOX}"),
    "alertmanager": _tools("wget", evidence=f"prometheus/alertmanager Dockerfile @ v0.34.0: {_PROMETHEUS_BUSYBOX}"),
    "grafana": _tools(
        "curl",
        evidence="grafana/grafana Dockerfile (a stored recent version, not 13.2.0): the "
        "final image runs `apk add ... bash curl tzdata` (alpine) or "
        "`apt-get install ... curl` (ubuntu)",
    ),
    "loki": _tools(
        "wget",
        evidence="grafana/loki cmd/loki/Dockerfile (stored 0230065): FROM "
        "gcr.io/distroless/static:debug, whose busybox (on PATH) has wget",
    ),
    "alloy": _tools(
        "bash",
        evidence="grafana/alloy Dockerfile @ v1.17.1: ubuntu:noble + ca-certificates, "
        "libsystemd0, tzdata: bash, no curl, no wget",
    ),
    "postgres-exporter": _tools(
        "wget", evidence=f"prometheus-community/postgres_exporter Dockerfile @ v0.17.1: {_PROMETHEUS_BUSYBOX}"
    ),
    "redis-exporter": _tools(
        "wget",
        evidence="oliver006/redis_exporter Dockerfile @ v1.74.0: the -alpine target is FROM alpine:3.21 (busybox wget)",
    ),
    "kafka-exporter": _tools("wget", evidence=f"danielqsj/kafka_exporter Dockerfile @ v1.9.0: {_PROMETHEUS_BUSYBOX}"),
    "keycloak": _tools(
        "bash",
        evidence="keycloak.org/observability/health: the image (ubi9-micro) has no curl; "
        "Keycloak documents a bash /dev/tcp check",
    ),
    "redis": _tools("sh", evidence="docker-library/redis 7.2/debian (bookworm): sh, redis-cli"),
    "jupyterhub": _tools(
        "curl",
        evidence="jupyterhub/jupyterhub Dockerfile (stored 0077756): final stage "
        "apt-get install ca-certificates curl ...; images/jupyterhub builds on it",
    ),
    "mlflow": _tools(
        "python",
        evidence="ghcr.io/mlflow/mlflow is a Python image; mlflow/mlflow "
        "docker-compose/docker-compose.yml checks with python urllib, not curl",
    ),
    "superset": _tools(
        "curl",
        evidence="apache/superset Dockerfile (a stored version, not 6.1.0): "
        "`docker/apt-install.sh curl ...` in the final stage",
    ),
    "airflow-apiserver": _tools(
        "curl",
        evidence="apache/airflow docs docker-compose.yaml checks with curl; the "
        "image installs it (not re-read at 3.3.2)",
    ),
    "airflow-scheduler": _tools("curl", evidence="as airflow-apiserver (same image)"),
    "airflow-dag-processor": _tools("sh", evidence="as airflow-apiserver; `airflow jobs check` under sh"),
    "airflow-triggerer": _tools("sh", evidence="as airflow-apiserver; `airflow jobs check` under sh"),
    "airflow-worker": _tools("sh", evidence="as airflow-apiserver; `celery inspect ping` under sh"),
}
