"""The seed's workflows, through Airflow on the live e2e stack: a DAG's Spark work through Spark
Connect; the ML pipeline the platform ships (Spark features from Iceberg, a model trained and
registered in MLflow, predictions written back and validated by Great Expectations through Trino);
the sample notebook that does the same steps by hand; and the BI dashboard (the sample producer's
Kafka events and Debezium's changes of the shop's table, through the registry, merged into
Iceberg, dbt's staging and mart models in Trino, Superset's dashboard warmed in Redis and opened in
headless Chromium). Each step's effect is checked in the system it touches, not only the task
states. Runs after the data layers' checklists, before the storage faults.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from datetime import UTC, datetime
from typing import Any

import docker
import pytest
import requests

from components.analytics.mlflow import MLFLOW_PORT
from components.analytics.redis import REDIS_CLI
from components.analytics_configs import (
    BI_CHARTS,
    BI_DAG_ID,
    BI_DASHBOARD,
    BI_DASHBOARD_SLUG,
    BI_MART_TABLE,
    BI_RAW_TABLE,
    BI_SHOP_TABLE,
    ML_CHART,
    ML_DAG_ID,
    ML_EXPERIMENT,
    ML_MODEL,
    ML_NAMESPACE,
    ML_TABLES,
    SUPERSET_DATA_CACHE_DB,
)
from components.query import TRINO_PORT
from components.storage import NESSIE_PORT, WAREHOUSE_BUCKET
from components.streaming import APICURIO_PORT, CDC_DATABASE
from tests.live.browser import chromium, wait_for_text
from tests.live.conftest import record
from tests.live.deploy import LiveDeployment
from tests.live.stack import (
    connect_database,
    container_name,
    containers,
    exec_in,
    memory_inside_limits,
    notebook_container,
    published_url,
    remove_notebook_volume,
)
from tests.live.test_analytics_browser_live import keep_screenshot, log_in_to_superset
from tests.live.test_analytics_live import ADMIN, airflow_client, dag_file, hub_client, s3_admin, superset_client
from tests.live.test_query_live import query
from tests.live.uis import Airflow, MLflow, Superset


@pytest.fixture(scope="module")
def airflow(e2e: LiveDeployment) -> Airflow:
    return airflow_client(e2e)


@pytest.fixture(scope="module")
def mlflow(e2e: LiveDeployment) -> MLflow:
    return MLflow(published_url(e2e, "mlflow", MLFLOW_PORT))


@pytest.fixture(scope="module")
def superset(e2e: LiveDeployment) -> Superset:
    return superset_client(e2e)


@pytest.fixture(scope="module")
def trino(e2e: LiveDeployment) -> str:
    return published_url(e2e, "trino", TRINO_PORT)


SPARK_CONNECT_DAG = """
import json
import logging

from airflow.sdk import dag, task

log = logging.getLogger(__name__)


@dag(dag_id="{dag_id}", schedule=None, tags=["e2e"])
def spark_connect():
    @task
    def on_the_cluster():
        from datalyptica_spark import session

        with session() as spark:
            spark.sql("CREATE NAMESPACE IF NOT EXISTS nessie.e2e")
            squares = spark.range(100).selectExpr("id", "id * id AS squared")
            squares.writeTo("nessie.e2e.{table}").createOrReplace()
            table = spark.table("nessie.e2e.{table}")
            files = spark.sql("SELECT file_path FROM nessie.e2e.{table}.files").collect()
            found = {{
                "total": table.selectExpr("sum(squared) AS total").collect()[0]["total"],
                "files": [r["file_path"] for r in files],
                "pandas_rows": len(table.toPandas()),
            }}
        log.info("E2E-RESULT %s", json.dumps(found))

    @task
    def without_the_token():
        from pyspark.sql.connect.session import SparkSession
        from datalyptica_spark import address

        url, _ = address()
        try:
            SparkSession.builder.remote(url).create().sql("SELECT 1").collect()
            refused = "accepted"
        except Exception as error:
            refused = str(error)[:300]
        log.info("E2E-RESULT %s", json.dumps({{"refused": refused}}))

    on_the_cluster()
    without_the_token()


spark_connect()
"""


def run_dag(airflow: Airflow, dag_id: str, conf: dict[str, Any] | None = None, timeout: float = 900) -> tuple[str, str]:
    """A triggered run of a shipped DAG, to its end: its id and state."""
    airflow.unpause_when_parsed(dag_id)
    run_id = airflow.trigger(dag_id, conf)
    return run_id, airflow.wait_for_run(dag_id, run_id, timeout=timeout)


def task_log(airflow: Airflow, dag_id: str, run_id: str, task_id: str) -> str:
    return airflow.task_log(dag_id, run_id, task_id, airflow.task_instance(dag_id, run_id, task_id)["try_number"])


def logged_result(airflow: Airflow, dag_id: str, run_id: str, task_id: str, marker: str = "E2E-RESULT") -> Any:
    """The JSON a task logged after `marker`."""
    log = task_log(airflow, dag_id, run_id, task_id)
    found = re.search(marker + r" (\{.*\})", log)
    assert found, f"{task_id} logged no {marker}:\n{log[-2000:]}"
    return json.loads(found.group(1))


def test_a_dag_runs_spark_on_the_cluster_through_spark_connect_which_refuses_a_client_without_its_token(
    e2e: LiveDeployment, api: docker.APIClient, airflow: Airflow
):
    dag_id, table = f"e2e_spark_connect_{uuid.uuid4().hex[:8]}", f"connect_{uuid.uuid4().hex[:8]}"
    with dag_file(api, e2e, dag_id, SPARK_CONNECT_DAG.format(dag_id=dag_id, table=table)):
        started = time.monotonic()
        run_id, state = run_dag(airflow, dag_id, timeout=600)
        record("spark_connect_dag_seconds", round(time.monotonic() - started, 1))
        assert state == "success", task_log(airflow, dag_id, run_id, "on_the_cluster")[-3000:]
        found = logged_result(airflow, dag_id, run_id, "on_the_cluster")
        refused = logged_result(airflow, dag_id, run_id, "without_the_token")["refused"]
    assert found["total"] == sum(i * i for i in range(100)) and found["pandas_rows"] == 100
    assert found["files"] and all(f.startswith(f"s3://{WAREHOUSE_BUCKET}/") for f in found["files"])
    assert "UNAUTHENTICATED" in refused or "authentication token" in refused, refused
    # The work ran in an executor on the worker, not in the server's own JVM.
    connect = container_name(containers(e2e)["spark-connect"])
    applications = json.loads(exec_in(api, connect, ["curl", "-fsS", "http://localhost:4040/api/v1/applications"])[1])
    executors = json.loads(
        exec_in(
            api,
            connect,
            ["curl", "-fsS", f"http://localhost:4040/api/v1/applications/{applications[0]['id']}/allexecutors"],
        )[1]
    )
    ran = [e for e in executors if e["id"] != "driver" and e["totalTasks"] > 0]
    assert ran and all(e["hostPort"].startswith("spark-worker-") for e in ran), executors


def in_the_airflow_worker(api: docker.APIClient, live: LiveDeployment, code: str) -> str:
    """Python run as Airflow's user in the Celery worker's container (its image, its networks)."""
    status, output = exec_in(api, container_name(containers(live)["airflow-worker-1"]), ["python", "-c", code])
    assert status == 0, output[-2000:]
    return output


def test_the_ml_pipeline_trains_a_champion_from_iceberg_and_fails_validation_on_a_bad_row(
    e2e: LiveDeployment, api: docker.APIClient, airflow: Airflow, mlflow: MLflow, superset: Superset, trino: str
):
    ml = ML_DAG_ID
    namespace, tables = ML_NAMESPACE, ML_TABLES
    # A bad row first: the run fails at validation, saying which expectation and why.
    started = time.monotonic()
    bad_run, state = run_dag(airflow, ml, {"inject_bad_row": True})
    record("ml_pipeline_failing_run_seconds", round(time.monotonic() - started, 1))
    assert state == "failed"
    tasks = ("features", "train", "predict", "validate", "publish")
    states = {t: airflow.task_instance(ml, bad_run, t)["state"] for t in tasks}
    assert states == {
        "features": "success",
        "train": "success",
        "predict": "success",
        "validate": "failed",
        "publish": "upstream_failed",
    }
    said = task_log(airflow, ml, bad_run, "validate")
    assert "expect_column_values_to_not_be_null predicted_kwh" in said and "expectation(s) unmet" in said, said[-3000:]

    # A good run: every step's effect, where it lives.
    started = time.monotonic()
    good_run, state = run_dag(airflow, ml)
    record("ml_pipeline_run_seconds", round(time.monotonic() - started, 1))
    assert state == "success", task_log(airflow, ml, good_run, "validate")[-3000:]
    iceberg = f"iceberg.{namespace}"
    counts = {name: query(trino, f"SELECT count(*) FROM {iceberg}.{table}")[0][0] for name, table in tables.items()}
    assert counts == {"readings": 2000, "features": 2000, "predictions": 400}  # two runs, nothing doubled
    predictions = f"{iceberg}.{tables['predictions']}"
    [[nulls, lowest, highest]] = query(
        trino, f"SELECT count_if(predicted_kwh IS NULL), min(predicted_kwh), max(predicted_kwh) FROM {predictions}"
    )
    assert nulls == 0 and 0 < lowest < highest < 500
    files = s3_admin(e2e).list_objects_v2(Bucket=WAREHOUSE_BUCKET, Prefix=f"{namespace}/")
    assert any(
        tables["predictions"] in item["Key"] and item["Key"].endswith(".parquet") for item in files.get("Contents", [])
    )
    # Nessie's main branch holds each table, its metadata in the warehouse bucket.
    nessie = published_url(e2e, "nessie", NESSIE_PORT)
    for table in tables.values():
        content = requests.get(f"{nessie}/api/v2/trees/main/contents/{namespace}.{table}", timeout=30).json()
        assert content["content"]["type"] == "ICEBERG_TABLE", content
        assert content["content"]["metadataLocation"].startswith(f"s3://{WAREHOUSE_BUCKET}/"), content
    assert logged_result(airflow, ml, good_run, "validate", marker="GX-RESULT")["success"] is True

    # MLflow: two runs in the experiment; the first version is the champion, the second (the same
    # data, the same RMSE) did not beat it.
    experiment = mlflow.call("GET", "mlflow/experiments/get-by-name", params={"experiment_name": ML_EXPERIMENT})[
        "experiment"
    ]
    runs = mlflow.call("POST", "mlflow/runs/search", json={"experiment_ids": [experiment["experiment_id"]]})["runs"]
    assert {r["info"]["run_name"] for r in runs} >= {bad_run, good_run}
    metrics = {
        m["key"]: m["value"] for m in next(r for r in runs if r["info"]["run_name"] == good_run)["data"]["metrics"]
    }
    assert metrics["rmse"] < 2.0 and metrics["r2"] > 0.95, metrics  # the noise is uniform in ±2.5
    champion = mlflow.call("GET", "mlflow/registered-models/alias", params={"name": ML_MODEL, "alias": "champion"})
    versions = mlflow.call("GET", "mlflow/model-versions/search", params={"filter": f"name='{ML_MODEL}'"})[
        "model_versions"
    ]
    assert len(versions) >= 2 and champion["model_version"]["version"] == "1"
    # The champion, loaded by its alias where DAGs run, predicts.
    predicted = in_the_airflow_worker(
        api,
        e2e,
        "import json, mlflow, pandas as pd; mlflow.set_tracking_uri('http://mlflow:5000');"
        f" model = mlflow.pyfunc.load_model('models:/{ML_MODEL}@champion');"
        " rows = pd.DataFrame({'temperature': [20.0, 30.0], 'occupancy': [10.0, 90.0], 'working_hours': [0.0, 1.0]});"
        " print('PREDICTED', json.dumps([float(v) for v in model.predict(rows)]))",
    )
    low, high = json.loads(predicted.split("PREDICTED", 1)[1])
    assert 40 < low < high < 150  # 20 + 1.5 t + 0.4 o (+ 12 in working hours)

    # Superset: the published chart's rows are Trino's rows of the predictions.
    [chart] = superset.call("GET", "chart/", params={"q": f"(filters:!((col:slice_name,opr:eq,value:'{ML_CHART}')))"})[
        "result"
    ]
    charted = superset.call("GET", f"chart/{chart['id']}/data/", params={"force": "true"})["result"][0]["data"]
    in_trino = query(trino, f"SELECT id, predicted_kwh FROM {predictions} ORDER BY id")
    assert [[row["id"], row["predicted_kwh"]] for row in charted] == in_trino and len(in_trino) == 400


SAMPLE_NOTEBOOK = "/home/jovyan/work/samples/ml_pipeline_by_hand.ipynb"


def test_a_new_users_home_holds_the_sample_notebook_which_does_the_ml_steps_by_hand(
    e2e: LiveDeployment, api: docker.APIClient, e2e_settings, mlflow: MLflow
):
    """Runs after the ML pipeline, whose tables and champion the notebook reads. The admin's volume
    is new (the analytics module removed it), as a new user's is."""
    hub = hub_client(e2e)
    hub.spawn(ADMIN)
    name = notebook_container(e2e_settings.prefix, ADMIN)
    try:
        status, listing = exec_in(api, name, ["ls", "-l", "/home/jovyan/work/samples"])
        assert status == 0 and "ml_pipeline_by_hand.ipynb" in listing and " jovyan " in listing, listing
        started = time.monotonic()
        run = ["jupyter", "nbconvert", "--to", "notebook", "--execute", "--ExecutePreprocessor.timeout=600"]
        status, said = exec_in(api, name, [*run, "--output", "/tmp/by_hand.ipynb", SAMPLE_NOTEBOOK])
        record("sample_notebook_seconds", round(time.monotonic() - started, 1))
        assert status == 0, said[-3000:]
        executed = json.loads(exec_in(api, name, ["cat", "/tmp/by_hand.ipynb"])[1])
    finally:
        hub.stop(ADMIN)
        remove_notebook_volume(api, e2e_settings.prefix, ADMIN)
    printed = "".join(
        "".join(output.get("text", "")) for cell in executed["cells"] for output in cell.get("outputs", [])
    )
    found = re.search(r"SAMPLE-RESULT (\{.*\})", printed)
    assert found, printed[-3000:]
    result = json.loads(found.group(1))
    assert result["rows"] == 2000 and result["spark_groups"] == 4  # train/test x working hours or not
    assert result["rmse"] < 2.0 and result["r2"] > 0.95 and result["largest_gap"] < 1e-6, result
    logged = mlflow.call("GET", "mlflow/runs/get", params={"run_id": result["run_id"]})["run"]
    assert {m["key"] for m in logged["data"]["metrics"]} >= {"rmse", "r2"}, logged


def failed_tasks(airflow: Airflow, dag_id: str, run_id: str) -> str:
    """The logs' ends of a run's failed tasks, to say why it failed."""
    tasks = airflow.call("GET", f"dags/{dag_id}/dagRuns/{run_id}/taskInstances")["task_instances"]
    return "\n".join(
        f"{t['task_id']}:\n{task_log(airflow, dag_id, run_id, t['task_id'])[-3000:]}"
        for t in tasks
        if t["state"] == "failed"
    )


def returned(airflow: Airflow, dag_id: str, run_id: str, task_id: str) -> Any:
    """What a task returned (its XCom `return_value`)."""
    entry = airflow.call("GET", f"dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/xcomEntries/return_value")
    value = entry["value"]
    return json.loads(value) if isinstance(value, str) else value


def as_day(value: Any) -> str:
    """A date as Trino prints it, from Superset's JSON (milliseconds since the epoch) or Trino's."""
    if isinstance(value, (int, float)):
        return datetime.fromtimestamp(value / 1000, tz=UTC).date().isoformat()
    return str(value)[:10]


def test_the_bi_dashboard_lands_kafka_and_cdc_events_once_builds_the_mart_with_dbt_and_serves_it_from_redis(
    e2e: LiveDeployment, api: docker.APIClient, airflow: Airflow, superset: Superset, trino: str
):
    bi = BI_DAG_ID
    started = time.monotonic()
    first, state = run_dag(airflow, bi)
    record("bi_dashboard_run_seconds", round(time.monotonic() - started, 1))
    assert state == "success", failed_tasks(airflow, bi, first)
    produced = returned(airflow, bi, first, "produce")
    assert produced == {"events": 780, "orders": 300}  # 300 orders, 1 to 4 events each (13 in every 5)
    # The shop wrote its 40 orders into the captured database, each status change a transaction:
    # Debezium turned them into 104 Avro records through the registry, all landed.
    shop = returned(airflow, bi, first, "shop")
    assert shop["orders"] == 40 and len(shop["changes"]) == 104 == len(set(shop["changes"])), shop
    with connect_database(e2e, CDC_DATABASE) as connection:
        [[shop_rows]] = connection.execute(f"SELECT count(*) FROM {BI_SHOP_TABLE}").fetchall()
    assert shop_rows == 40
    raw, mart = f"iceberg.{BI_RAW_TABLE}", f"iceberg.{BI_MART_TABLE}"
    by_source = f"SELECT source, count(*), count(DISTINCT event_id) FROM {raw} GROUP BY 1 ORDER BY 1"
    assert query(trino, by_source) == [["cdc", 104, 104], ["sample", 780, 780]]
    in_raw = {row[0] for row in query(trino, f"SELECT event_id FROM {raw} WHERE source = 'cdc'")}
    assert in_raw == set(shop["changes"])
    landed = returned(airflow, bi, first, "land")
    assert landed["read"]["sample"] == 780 and landed["read"]["cdc"] >= 104, landed  # Connect: at least once
    assert (landed["merged"], landed["rows"]) == (884, 884), landed
    registry = published_url(e2e, "apicurio-registry", APICURIO_PORT)
    subjects = requests.get(f"{registry}/apis/ccompat/v7/subjects", timeout=10)
    assert f"{CDC_DATABASE}.public.{BI_SHOP_TABLE}-value" in subjects.json(), subjects.text

    # Again: the producer sends the same events, the shop has nothing new to write; the table and
    # the mart stay as they were.
    second, state = run_dag(airflow, bi)
    assert state == "success", failed_tasks(airflow, bi, second)
    assert returned(airflow, bi, second, "shop") == {"orders": 40, "changes": []}
    again = returned(airflow, bi, second, "land")
    assert again == {"read": {"sample": 780, "cdc": 0}, "merged": 780, "rows": 884}, again
    assert query(trino, f"SELECT count(*) FROM {raw}") == [[884]]
    built = task_log(airflow, bi, second, "transform")
    assert "PASS=" in built and "ERROR=0" in built, built[-3000:]
    [[orders, statuses]] = query(trino, f"SELECT sum(orders), count(DISTINCT status) FROM {mart}")
    assert (orders, statuses) == (340, 4)
    # The mart is dbt's staging model aggregated: each order as its latest event leaves it.
    returned_orders = query(trino, f"SELECT sum(orders) FROM {mart} WHERE status = 'returned'")
    assert returned_orders == [[68]]  # every fifth order ends returned: 60 sampled, 8 of the shop's
    nessie = published_url(e2e, "nessie", NESSIE_PORT)
    for table in (BI_RAW_TABLE, BI_MART_TABLE):
        content = requests.get(f"{nessie}/api/v2/trees/main/contents/{table}", timeout=30).json()
        assert content["content"]["metadataLocation"].startswith(f"s3://{WAREHOUSE_BUCKET}/"), content

    # Superset: the dashboard and its charts; the revenue chart's rows are Trino's; the DAG warmed
    # the cache, so the chart's data comes from Redis at once, the same rows.
    dashboard = superset.call("GET", f"dashboard/{BI_DASHBOARD_SLUG}")["result"]
    charts = superset.call("GET", f"dashboard/{BI_DASHBOARD_SLUG}/charts")["result"]
    assert {c["slice_name"] for c in charts} == set(BI_CHARTS), charts
    [revenue_chart] = [c["id"] for c in charts if c["slice_name"] == BI_CHARTS[0]]
    cached = superset.call("GET", f"chart/{revenue_chart}/data/")["result"][0]
    assert cached["is_cached"] is True, {k: v for k, v in cached.items() if k != "data"}
    in_trino = query(trino, f"SELECT order_day, sum(revenue), sum(orders) FROM {mart} GROUP BY 1 ORDER BY 1")
    charted = [[as_day(r["order_day"]), round(float(r["revenue"]), 2), r["orders"]] for r in cached["data"]]
    assert charted == [[day, round(float(revenue), 2), n] for day, revenue, n in in_trino], (charted, in_trino)
    scan = f"{REDIS_CLI} -n {SUPERSET_DATA_CACHE_DB} --scan --pattern 'superset_data_*'"
    data_keys = exec_in(api, container_name(containers(e2e)["redis"]), ["sh", "-c", scan])[1]
    assert data_keys.split(), "Superset's data cache in Redis is empty"

    # A person opens the dashboard: every chart drawn, the total among them.
    with chromium() as browser:
        log_in_to_superset(browser, e2e)
        browser.get(f"{superset.url}/superset/dashboard/{BI_DASHBOARD_SLUG}/")
        for name in BI_CHARTS:
            wait_for_text(browser, "body", name)
        wait_for_text(browser, "body", "340")
        time.sleep(2)  # the charts' last frames
        keep_screenshot(browser, "superset-dashboard-orders")
    assert dashboard["dashboard_title"] == BI_DASHBOARD


# What the workflows' steps ran on: Spark Connect (the ML pipeline's features, the DAG's Spark
# work), the Spark worker under it, Trino (every query, dbt's models, Great Expectations' checks),
# Kafka Connect (the shop's changes) and the Celery worker that ran every task.
WORKFLOWS = ("spark-connect", "spark-worker-1", "trino", "kafka-connect", "airflow-worker-1")


def test_what_the_workflows_ran_on_stayed_inside_its_memory_limits(e2e: LiveDeployment, api: docker.APIClient):
    record("workflows_memory", memory_inside_limits(api, e2e, WORKFLOWS))
