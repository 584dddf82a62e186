"""Spark and Flink on the e2e stack, as a user runs work on them.

Spark: a PySpark job submitted to the master (`spark-submit`, client mode, in the master's container
as a user of the cluster would from a gateway) runs its tasks on the worker, writes and reads an
Iceberg table through Nessie's REST catalog whose files land in the warehouse bucket (Trino then
reads the same table), writes and reads plain Parquet through S3A in the landing bucket, and is
refused a bucket its identity does not own; a job whose worker is killed mid-way finishes once the
worker is back. Flink: a streaming SQL job takes checkpoints into the
flink bucket, and after its TaskManager is killed it resumes from the latest one.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import docker
import pytest
import requests

from components.processing import FLINK_BUCKET, FLINK_REST_PORT, SPARK_MASTER_PORT, SPARK_MASTER_UI_PORT
from components.storage import LANDING_BUCKET, WAREHOUSE_BUCKET
from tests.integration.pgcluster import wait_for
from tests.live.conftest import record
from tests.live.deploy import LiveDeployment
from tests.live.stack import (
    container_name,
    containers,
    copy_into,
    crash,
    exec_in,
    memory_inside_limits,
    published_url,
    wait_healthy,
)
from tests.live.test_analytics_live import s3_admin
from tests.live.test_query_live import query, trino  # noqa: F401 (trino: the fixture)

JOB_DIR = "/tmp"
SPARK_JOB_SECONDS = 420
FLINK_SECONDS = 300

SPARK_LAKE_JOB = """\
import json, socket, sys
from pyspark.sql import SparkSession

namespace, landing, foreign = sys.argv[1:4]
spark = SparkSession.builder.appName("e2e-lake").getOrCreate()
hosts = spark.sparkContext.parallelize(range(4), 2).map(lambda _: socket.gethostname()).distinct().collect()
spark.sql(f"CREATE NAMESPACE {namespace}")
spark.sql(f"CREATE TABLE {namespace}.readings (hour INT, reading DOUBLE) USING iceberg")
spark.sql(f"INSERT INTO {namespace}.readings VALUES (0, 10.0), (1, 10.25), (2, 10.5)")
rows = [list(row) for row in spark.sql(f"SELECT hour, reading FROM {namespace}.readings ORDER BY hour").collect()]
spark.range(100).write.parquet(f"s3a://{landing}")
landed = spark.read.parquet(f"s3a://{landing}").count()
try:
    spark.range(1).write.parquet(f"s3a://{foreign}")
    refused = None
except Exception as error:
    refused = str(error)[:4000]
print("E2E-RESULT " + json.dumps({"hosts": hosts, "rows": rows, "landed": landed, "refused": refused}))
spark.stop()
"""

# Twelve tasks of about 4 s each on the worker's one core: long enough to kill the worker mid-job.
SPARK_SLOW_JOB = """\
import time
from pyspark.sql import SparkSession

spark = SparkSession.builder.appName("e2e-slow").getOrCreate()


def slow_sum(rows):
    time.sleep(4)
    yield sum(rows)


total = sum(spark.sparkContext.parallelize(range(1200), 12).mapPartitions(slow_sum).collect())
print("E2E-RESULT " + str(total))
spark.stop()
"""

# Rows made up inside Flink and thrown away, with state (a count per key) so checkpoints hold something.
FLINK_JOB = """\
SET 'execution.checkpointing.interval' = '2s';
SET 'pipeline.name' = '{name}';
CREATE TABLE readings (sensor INT, reading DOUBLE) WITH (
  'connector' = 'datagen', 'rows-per-second' = '20',
  'fields.sensor.min' = '1', 'fields.sensor.max' = '8'
);
CREATE TABLE counts (sensor INT, readings BIGINT) WITH ('connector' = 'blackhole');
INSERT INTO counts SELECT sensor, COUNT(*) FROM readings GROUP BY sensor;
"""


@pytest.fixture(scope="module")
def processing(e2e_settings) -> None:
    if not e2e_settings.enabled("processing"):
        pytest.fail("the e2e stack must deploy the processing layer (Pulumi.e2e.yaml datalyptica:layers)")


# ---- Spark --------------------------------------------------------------------------------------


def spark_submit(api: docker.APIClient, e2e: LiveDeployment, name: str, job: str, *args: str) -> str:
    """`spark-submit` of a PySpark job in the master's container (client mode): what it printed
    after E2E-RESULT; the job's output when it failed."""
    master = container_name(containers(e2e)["spark-master"])
    path = copy_into(api, master, JOB_DIR, name, job)
    master_url = f"spark://spark-master:{SPARK_MASTER_PORT}"
    submit = ["/opt/spark/bin/spark-submit", "--master", master_url, "--driver-memory", "512m", path, *args]
    # Spark's log goes to a file: on one output stream it once cut into the middle of the result line.
    log = f"{JOB_DIR}/{name}.log"
    status, output = exec_in(api, master, ["bash", "-c", f'exec "$@" 2>{log}', "spark-submit", *submit])
    results = [line for line in output.splitlines() if line.startswith("E2E-RESULT ")]
    if status != 0 or not results:
        _, logged = exec_in(api, master, ["tail", "-n", "200", log])
        raise AssertionError(f"spark-submit exited {status}:\n{output[-3000:]}\n{logged[-6000:]}")
    return results[-1].removeprefix("E2E-RESULT ")


@pytest.fixture(scope="module")
def spark_lake_job(e2e: LiveDeployment, api: docker.APIClient, processing) -> dict[str, Any]:
    run = uuid.uuid4().hex[:8]
    namespace = f"e2e_spark_{run}"
    started = time.monotonic()
    result = spark_submit(
        api,
        e2e,
        "e2e_lake.py",
        SPARK_LAKE_JOB,
        namespace,
        f"{LANDING_BUCKET}/e2e-spark-{run}",
        f"{FLINK_BUCKET}/e2e-spark-{run}",
    )
    record("spark_lake_job_seconds", round(time.monotonic() - started, 1))
    return {"namespace": namespace, **json.loads(result)}


def test_a_spark_job_submitted_to_the_master_runs_its_tasks_on_the_worker(e2e: LiveDeployment, spark_lake_job):
    workers = {c.inputs["hostname"] for name, c in containers(e2e).items() if name.startswith("spark-worker-")}
    assert workers and set(spark_lake_job["hosts"]) <= workers, spark_lake_job["hosts"]


def test_spark_writes_an_iceberg_table_through_nessie_into_the_warehouse_bucket(
    e2e: LiveDeployment,
    spark_lake_job,
    trino: str,  # noqa: F811 (the fixture)
):
    namespace = spark_lake_job["namespace"]
    assert spark_lake_job["rows"] == [[0, 10.0], [1, 10.25], [2, 10.5]]
    listed = s3_admin(e2e).list_objects_v2(Bucket=WAREHOUSE_BUCKET, Prefix=f"{namespace}/")
    keys = [item["Key"] for item in listed.get("Contents", [])]
    assert any(key.endswith(".parquet") for key in keys), keys
    assert any(key.endswith(".metadata.json") for key in keys), keys
    # One catalog for the lake: Trino reads the table Spark wrote.
    assert query(trino, f"SELECT hour, reading FROM iceberg.{namespace}.readings ORDER BY hour") == [
        [0, 10.0],
        [1, 10.25],
        [2, 10.5],
    ]


def test_spark_reads_and_writes_the_landing_bucket_through_s3a_and_is_refused_a_bucket_it_does_not_own(
    spark_lake_job,
):
    assert spark_lake_job["landed"] == 100
    refused = spark_lake_job["refused"]
    assert refused is not None, "Spark wrote into the flink bucket with its own identity"
    assert "AccessDenied" in refused or "403" in refused, refused


def test_a_spark_job_whose_worker_is_killed_finishes_once_the_worker_is_back(
    e2e: LiveDeployment, api: docker.APIClient, processing
):
    worker = container_name(containers(e2e)["spark-worker-1"])
    master_ui = published_url(e2e, "spark-master", SPARK_MASTER_UI_PORT)

    def slow_job_running() -> bool:
        apps = requests.get(f"{master_ui}/json/", timeout=10).json()["activeapps"]
        return any(app["name"] == "e2e-slow" and app["state"] == "RUNNING" for app in apps)

    with ThreadPoolExecutor(max_workers=1) as pool:
        submitted = pool.submit(spark_submit, api, e2e, "e2e_slow.py", SPARK_SLOW_JOB)
        wait_for(slow_job_running, timeout=SPARK_JOB_SECONDS, what="the slow job running", interval=2)
        time.sleep(12)  # a few of its twelve 4 s tasks done on the worker
        killed = time.monotonic()
        crash(api, worker)
        assert submitted.result(timeout=SPARK_JOB_SECONDS) == str(sum(range(1200)))
    record("spark_worker_killed_job_done_seconds", round(time.monotonic() - killed, 1))
    wait_healthy(api, worker)


# ---- Flink --------------------------------------------------------------------------------------


class FlinkRest:
    def __init__(self, url: str):
        self.url = url

    def get(self, path: str) -> Any:
        response = requests.get(f"{self.url}{path}", timeout=30)
        response.raise_for_status()
        return response.json()

    def job_named(self, name: str) -> dict[str, Any] | None:
        return next((job for job in self.get("/jobs/overview")["jobs"] if job["name"] == name), None)

    def checkpoints(self, job_id: str) -> dict[str, Any]:
        return self.get(f"/jobs/{job_id}/checkpoints")


@pytest.fixture(scope="module")
def flink(e2e: LiveDeployment, processing) -> FlinkRest:
    return FlinkRest(published_url(e2e, "flink-jobmanager", FLINK_REST_PORT))


@pytest.fixture(scope="module")
def flink_job(e2e: LiveDeployment, api: docker.APIClient, flink: FlinkRest) -> Iterator[dict[str, Any]]:
    """A streaming SQL job submitted by Flink's SQL client in the JobManager's container, running;
    cancelled afterwards, so the faults of later modules run on an idle cluster."""
    jobmanager = container_name(containers(e2e)["flink-jobmanager"])
    name = f"e2e-counts-{uuid.uuid4().hex[:8]}"
    script = copy_into(api, jobmanager, JOB_DIR, "e2e_counts.sql", FLINK_JOB.format(name=name))
    status, output = exec_in(api, jobmanager, ["/opt/flink/bin/sql-client.sh", "-f", script])
    assert status == 0, f"sql-client exited {status}:\n{output[-6000:]}"
    job = wait_for(
        lambda: (job := flink.job_named(name)) and job["state"] == "RUNNING" and job,
        timeout=FLINK_SECONDS,
        what=f"Flink job {name} running",
        interval=2,
    )
    yield {"id": job["jid"], "name": name}
    requests.patch(f"{flink.url}/jobs/{job['jid']}", params={"mode": "cancel"}, timeout=30).raise_for_status()


def completed_checkpoints(flink: FlinkRest, job_id: str) -> int:
    return int(flink.checkpoints(job_id)["counts"]["completed"])


def test_a_flink_job_checkpoints_into_its_bucket(e2e: LiveDeployment, flink: FlinkRest, flink_job):
    job_id = flink_job["id"]
    wait_for(
        lambda: completed_checkpoints(flink, job_id) >= 2, timeout=FLINK_SECONDS, what="two checkpoints", interval=2
    )
    latest = flink.checkpoints(job_id)["latest"]["completed"]
    assert latest["external_path"].startswith(f"s3://{FLINK_BUCKET}/checkpoints/{job_id}/"), latest
    listed = s3_admin(e2e).list_objects_v2(Bucket=FLINK_BUCKET, Prefix=f"checkpoints/{job_id}/")
    keys = [item["Key"] for item in listed.get("Contents", [])]
    assert any(key.endswith("/_metadata") for key in keys), keys


def test_a_flink_job_whose_taskmanager_is_killed_resumes_from_its_latest_checkpoint(
    e2e: LiveDeployment, api: docker.APIClient, flink: FlinkRest, flink_job
):
    job_id = flink_job["id"]
    wait_for(lambda: completed_checkpoints(flink, job_id) >= 1, timeout=FLINK_SECONDS, what="a checkpoint", interval=2)
    taskmanager = container_name(containers(e2e)["flink-taskmanager-1"])
    killed = time.monotonic()
    crash(api, taskmanager)

    def restored() -> dict[str, Any] | None:
        checkpoints = flink.checkpoints(job_id)
        job = flink.job_named(flink_job["name"])
        return checkpoints["latest"].get("restored") if job and job["state"] == "RUNNING" else None

    restore: Any = wait_for(restored, timeout=FLINK_SECONDS, what="the job restored from a checkpoint", interval=2)
    record("flink_taskmanager_killed_restored_seconds", round(time.monotonic() - killed, 1))
    assert not restore["is_savepoint"] and restore["external_path"].startswith(f"s3://{FLINK_BUCKET}/checkpoints/")
    before = completed_checkpoints(flink, job_id)
    wait_for(
        lambda: completed_checkpoints(flink, job_id) > before,
        timeout=FLINK_SECONDS,
        what="a new checkpoint",
        interval=2,
    )
    wait_healthy(api, taskmanager)


PROCESSING = ("spark-master", "spark-worker-1", "spark-connect", "flink-jobmanager", "flink-taskmanager-1")


def test_each_processing_service_stayed_inside_its_memory_limit(e2e: LiveDeployment, api: docker.APIClient):
    """Memory after the module's jobs and faults, against each limit (a killed worker's and
    TaskManager's peak since their restart)."""
    record("processing_memory", memory_inside_limits(api, e2e, PROCESSING))
