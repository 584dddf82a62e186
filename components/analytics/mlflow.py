"""MLflow: metadata in PostgreSQL, artifacts proxied to S3; credentials as libpq's and boto3's own files."""

from typing import TYPE_CHECKING

import pulumi

from components import analytics_configs as configs
from components import pgha
from components.endpoints import MlflowEndpoint
from components.service import File, HealthCheck, Port, Server, ServiceArgs

if TYPE_CHECKING:
    from components.analytics import AnalyticsLayer

MLFLOW_PORT = 5000
MLFLOW_WORKERS = 2  # gunicorn/uvicorn workers of `mlflow server`
MLFLOW_UID = "10001"
MLFLOW_DIR = "/etc/mlflow"
MLFLOW_ARTIFACTS_BUCKET = "mlflow-artifacts"


def server(layer: "AnalyticsLayer") -> MlflowEndpoint:
    database, plain_database = layer.database("mlflow")
    bucket = layer.storage.buckets("mlflow", [MLFLOW_ARTIFACTS_BUCKET], parent=layer)
    aws_credentials = pulumi.Output.all(bucket.access_key, bucket.secret_key).apply(
        lambda keys: configs.render_aws_credentials(*keys)
    )
    # MLflow >= 3.5 answers only requests whose Host it knows: its name on the networks, its own
    # health check, and the address users browse to.
    allowed_hosts = ["mlflow", f"mlflow:{MLFLOW_PORT}", "localhost", f"localhost:{MLFLOW_PORT}"]
    if (host_port := layer.settings.host_port("mlflow")) is not None:
        allowed_hosts.append(f"{layer.settings.endpoint_host}:{host_port}")
    service = layer.service(
        "mlflow",
        ServiceArgs(
            spec=layer.spec("mlflow"),
            lifecycle=Server(
                HealthCheck.command(
                    "python",
                    "-c",
                    f"import urllib.request; urllib.request.urlopen('http://localhost:{MLFLOW_PORT}/health')",
                )
            ),
            networks=[layer.network],
            uses=[database, bucket],
            command=[
                "mlflow",
                "server",
                "--host",
                "0.0.0.0",
                "--port",
                str(MLFLOW_PORT),
                # No password here: libpq reads it from PGPASSFILE.
                "--backend-store-uri",
                f"postgresql://{database.username}@{database.host}:{database.port}/{database.database}"
                f"{pgha.CLIENT_URL_QUERY}",
                "--serve-artifacts",
                "--artifacts-destination",
                f"s3://{MLFLOW_ARTIFACTS_BUCKET}",
                "--allowed-hosts",
                ",".join(dict.fromkeys(allowed_hosts)),
                # Each worker holds about 180 MiB at idle: 4 (MLflow's default) measured 921 MiB on
                # the stand-in, past dev's 768m; 2 measured 546 MiB.
                "--workers",
                str(MLFLOW_WORKERS),
            ],
            env={
                "PGPASSFILE": f"{MLFLOW_DIR}/pgpass",
                "AWS_SHARED_CREDENTIALS_FILE": f"{MLFLOW_DIR}/aws-credentials",
                "MLFLOW_S3_ENDPOINT_URL": bucket.endpoint,
                "AWS_DEFAULT_REGION": bucket.region,
            },
            files=[
                File(
                    f"{MLFLOW_DIR}/pgpass", plain_database.apply(configs.render_pgpass), secret=True, owner=MLFLOW_UID
                ),
                File(f"{MLFLOW_DIR}/aws-credentials", aws_credentials, secret=True, owner=MLFLOW_UID),
            ],
            ports=[Port("mlflow", MLFLOW_PORT)],
        ),
    )
    return MlflowEndpoint(service.host, MLFLOW_PORT, service.networks, (service.container,))
