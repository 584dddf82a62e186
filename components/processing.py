"""ProcessingLayer: a Spark standalone cluster and a Flink session cluster, both on the lake.

Spark reads and writes Iceberg tables catalogued by Nessie (its Iceberg REST API) in the object store,
and plain files through S3A, with its own object-store identity. Flink keeps checkpoints and
savepoints in its own bucket with its own identity. Their keys reach the containers in config files only.
"""

import re
from collections.abc import Sequence

import pulumi

from components import secrets
from components.endpoints import BucketAccess, KafkaEndpoint, SparkConnectEndpoint, SparkEndpoint
from components.layer import Layer
from components.platform import Platform
from components.service import File, HealthCheck, Metrics, Port, Server, Service, ServiceArgs
from components.settings import ServiceSettings
from components.storage import StorageLayer
from components.templates import render_output

SPARK_MASTER_PORT = 7077
SPARK_MASTER_UI_PORT = 8080
SPARK_WORKER_UI_PORT = 8081
SPARK_UID = "185"  # the spark user of the apache/spark images
SPARK_CONF = "/opt/spark/conf/spark-defaults.conf"
SPARK_CLASS = "/opt/spark/bin/spark-class"
SPARK_MASTER_METRICS = "/metrics/master/prometheus"
SPARK_WORKER_METRICS = "/metrics/prometheus"
SPARK_DAEMON_MEMORY_MB = 256  # the master's and each worker's own JVM; executors get the rest
SPARK_CONNECT_PORT = 15002
SPARK_CONNECT_SERVER = "org.apache.spark.sql.connect.service.SparkConnectServer"
SPARK_SUBMIT = "/opt/spark/bin/spark-submit"

FLINK_RPC_PORT = 6123
FLINK_BLOB_PORT = 6124
FLINK_REST_PORT = 8081
FLINK_METRICS_PORT = 9249
FLINK_UID = "9999"  # the flink user of the flink images
FLINK_CONF = "/opt/flink/conf/config.yaml"
FLINK_BUCKET = "flink"


def flink_s3_plugin(image: str) -> str:
    """The image's built-in S3 file system for checkpoints (presto, as Flink's docs advise for
    checkpointing), named by the Flink version in the image tag, e.g. flink:2.2.1-scala_2.12-java17."""
    match = re.search(r":(\d+\.\d+\.\d+)", image)
    if not match:
        raise ValueError(
            f"datalyptica:services.flink-jobmanager.image: {image!r} has no Flink version in its tag "
            "(e.g. flink:2.2.1-scala_2.12-java17); it names the S3 plugin jar to enable"
        )
    return f"flink-s3-fs-presto-{match.group(1)}.jar"


def _spark_env(name: str, daemon_memory_mb: int = SPARK_DAEMON_MEMORY_MB) -> dict[str, str]:
    """A driver started in the container (spark-submit) advertises the container's name, as the
    daemons do with --host: by default it would advertise what that name resolves to inside the
    container, 0.0.0.0 (ServiceArgs.listens_by_own_name)."""
    return {"SPARK_DAEMON_MEMORY": f"{daemon_memory_mb}m", "SPARK_LOCAL_HOSTNAME": name}


def driver_memory_mb(spec: ServiceSettings) -> int:
    """A driver's heap in its container: 5/8 of the limit (gRPC's and Arrow's buffers live off it),
    and at least the 640m Spark needs (it refuses a heap under 450 MiB: INVALID_DRIVER_MEMORY)."""
    return max(640, spec.memory_mb * 5 // 8)


def process_memory_mb(spec: ServiceSettings) -> int:
    """Flink's total process memory: 90% of the container's limit, the rest left to the OS."""
    return spec.memory_mb * 9 // 10


class ProcessingLayer(Layer):
    layer = "processing"

    def __init__(self, platform: Platform, storage: StorageLayer, *, streaming: KafkaEndpoint | None = None):
        super().__init__(platform)
        self.network = self.own_network("processing")
        # Workers and TaskManagers run the jobs: they reach the lake, and Kafka when it is deployed.
        self._lake = [self.network, storage.endpoints.network, *(streaming.networks if streaming else ())]

        spark_s3 = storage.buckets(
            "spark",
            [storage.endpoints.warehouse_bucket, storage.endpoints.landing_bucket],
            parent=self,
        )
        spark_conf = File(SPARK_CONF, self._spark_defaults(storage, spark_s3), secret=True, owner=SPARK_UID)
        self.spark_master = self._spark_master(spark_conf)
        self.endpoint = SparkEndpoint(
            self.spark_master.host, SPARK_MASTER_PORT, (self.network,), (self.spark_master.container,)
        )
        self.spark_workers = [
            self._spark_worker(i, spark_conf, depends_on=[self.spark_master.container, *spark_s3.resources])
            for i in range(1, self.spec("spark-worker").replicas + 1)
        ]
        connect_token = secrets.hex_token("spark-connect-token", parent=self)
        connect_conf = File(
            SPARK_CONF, self._spark_defaults(storage, spark_s3, connect_token), secret=True, owner=SPARK_UID
        )
        self.spark_connect = self._spark_connect(
            connect_conf, depends_on=[self.spark_master.container, *spark_s3.resources]
        )

        # The presto file system sends `x-amz-acl: private` with every checkpoint file it uploads.
        flink_s3 = storage.buckets("flink", [FLINK_BUCKET], parent=self, sets_object_acls=True)
        flink_conf = File(
            FLINK_CONF, self._flink_config(flink_s3), secret=True, owner=FLINK_UID, rewritten_at_start=True
        )
        self.flink_jobmanager = self._flink("flink-jobmanager", "jobmanager", flink_conf, depends_on=flink_s3.resources)
        self.flink_taskmanagers = [
            self._flink(
                f"flink-taskmanager-{i}",
                "taskmanager",
                flink_conf,
                depends_on=[self.flink_jobmanager.container, *flink_s3.resources],
            )
            for i in range(1, self.spec("flink-taskmanager").replicas + 1)
        ]

        self.connect_endpoint = SparkConnectEndpoint(
            self.spark_connect.host,
            SPARK_CONNECT_PORT,
            (self.network,),
            (self.spark_connect.container,),
            token=pulumi.Output.secret(connect_token),
        )
        # No credentials: Spark's and Flink's keys stay in their files; Spark Connect's token reaches
        # its clients through the endpoint (Airflow's connections file).
        self.finish()

    # ---- Spark ---------------------------------------------------------------------------

    def _spark_defaults(
        self, storage: StorageLayer, s3: BucketAccess, connect_token: pulumi.Output[str] | None = None
    ) -> pulumi.Output[str]:
        """Spark's defaults; with a token, Spark Connect's server's, which adds its own settings."""
        connect = None
        if connect_token is not None:
            connect = {
                "master_url": self.endpoint.url,
                "port": SPARK_CONNECT_PORT,
                "token": connect_token,
                "driver_memory_mb": driver_memory_mb(self.spec("spark-connect")),
                "max_executors": self.spec("spark-worker").replicas,
            }
        return render_output(
            "spark/spark-defaults.conf.j2",
            catalog_uri=storage.endpoints.nessie.iceberg_rest_uri,
            warehouse=storage.endpoints.warehouse_bucket,
            s3=s3.template_values(),
            master_metrics=SPARK_MASTER_METRICS,
            worker_metrics=SPARK_WORKER_METRICS,
            connect=connect,
        )

    def _spark_master(self, conf: File) -> Service:
        return self.service(
            "spark-master",
            ServiceArgs(
                spec=self.spec("spark-master"),
                lifecycle=Server(HealthCheck.curl(f"http://localhost:{SPARK_MASTER_UI_PORT}/json/")),
                networks=[self.network],
                # The image's entrypoint runs any command but its Kubernetes ones as given (pass-through).
                command=[
                    SPARK_CLASS,
                    "org.apache.spark.deploy.master.Master",
                    "--host",
                    "spark-master",
                    "--port",
                    str(SPARK_MASTER_PORT),
                    "--webui-port",
                    str(SPARK_MASTER_UI_PORT),
                ],
                env=_spark_env("spark-master"),
                files=[conf],
                listens_by_own_name=True,
                ports=[Port("spark-master", SPARK_MASTER_PORT), Port("spark-master-ui", SPARK_MASTER_UI_PORT)],
                metrics=Metrics(SPARK_MASTER_UI_PORT, SPARK_MASTER_METRICS),
            ),
        )

    def _spark_worker(self, index: int, conf: File, *, depends_on: Sequence[pulumi.Resource]) -> Service:
        spec = self.spec("spark-worker")
        name = f"spark-worker-{index}"
        executors_mb = max(512, spec.memory_mb - SPARK_DAEMON_MEMORY_MB - 256)
        return self.service(
            name,
            ServiceArgs(
                spec=spec,
                lifecycle=Server(HealthCheck.curl(f"http://localhost:{SPARK_WORKER_UI_PORT}/json/")),
                networks=self._lake,
                command=[
                    SPARK_CLASS,
                    "org.apache.spark.deploy.worker.Worker",
                    "--host",
                    name,
                    "--webui-port",
                    str(SPARK_WORKER_UI_PORT),
                    "--cores",
                    str(max(1, int(spec.cpus))),
                    "--memory",
                    f"{executors_mb}m",
                    f"spark://spark-master:{SPARK_MASTER_PORT}",
                ],
                env=_spark_env(name),
                files=[conf],
                listens_by_own_name=True,  # its executors' too: drivers reach them on their own network
                metrics=Metrics(SPARK_WORKER_UI_PORT, SPARK_WORKER_METRICS),
                depends_on=depends_on,
            ),
        )

    def _spark_connect(self, conf: File, *, depends_on: Sequence[pulumi.Resource]) -> Service:
        """Spark Connect's server: a client-mode driver on the cluster (spark-submit execs the JVM,
        so it is the container's main process), its settings and token in its own defaults file."""
        return self.service(
            "spark-connect",
            ServiceArgs(
                spec=self.spec("spark-connect"),
                # The gRPC port opens once the server's Spark session exists; the image has bash.
                lifecycle=Server(
                    HealthCheck.command(
                        "bash", "-c", f"exec 3<>/dev/tcp/127.0.0.1/{SPARK_CONNECT_PORT}", start_period="60s"
                    )
                ),
                networks=self._lake,
                command=[SPARK_SUBMIT, "--class", SPARK_CONNECT_SERVER, "--name", "Spark Connect"],
                # spark-submit sizes the Connect server's JVM as a daemon's, by SPARK_DAEMON_MEMORY
                # (spark.driver.memory is not read for it: 256m was refused, found live).
                env=_spark_env("spark-connect", driver_memory_mb(self.spec("spark-connect"))),
                files=[conf],
                listens_by_own_name=True,  # executors connect back to this driver
                depends_on=depends_on,
            ),
        )

    # ---- Flink ---------------------------------------------------------------------------

    def _flink_config(self, s3: BucketAccess) -> pulumi.Output[str]:
        settings = self.settings
        taskmanager = settings.service("flink-taskmanager")
        return render_output(
            "flink/config.yaml.j2",
            jobmanager="flink-jobmanager",
            rpc_port=FLINK_RPC_PORT,
            blob_port=FLINK_BLOB_PORT,
            rest_port=FLINK_REST_PORT,
            metrics_port=FLINK_METRICS_PORT,
            jobmanager_memory_mb=process_memory_mb(settings.service("flink-jobmanager")),
            taskmanager_memory_mb=process_memory_mb(taskmanager),
            task_slots=max(1, int(taskmanager.cpus)),
            checkpoints=f"s3://{FLINK_BUCKET}/checkpoints",
            savepoints=f"s3://{FLINK_BUCKET}/savepoints",
            s3=s3.template_values(),
        )

    def _flink(self, name: str, role: str, conf: File, *, depends_on: Sequence[pulumi.Resource]) -> Service:
        spec = self.spec("flink-jobmanager" if role == "jobmanager" else "flink-taskmanager")
        is_jobmanager = role == "jobmanager"
        return self.service(
            name,
            ServiceArgs(
                spec=spec,
                # A TaskManager serves no HTTP but its Prometheus reporter: up means the JVM runs with our config.
                lifecycle=Server(
                    HealthCheck.curl(
                        f"http://localhost:{FLINK_REST_PORT}/overview"
                        if is_jobmanager
                        else f"http://localhost:{FLINK_METRICS_PORT}/",
                        start_period="40s",
                    )
                ),
                networks=self._lake,
                command=[role],
                env={
                    "JOB_MANAGER_RPC_ADDRESS": "flink-jobmanager",
                    "ENABLE_BUILT_IN_PLUGINS": flink_s3_plugin(spec.image),
                },
                files=[conf],
                ports=[Port("flink", FLINK_REST_PORT)] if is_jobmanager else [],
                metrics=Metrics(FLINK_METRICS_PORT),
                depends_on=depends_on,
            ),
        )
