"""Trino on the e2e stack, as a client reaches it: its published port and its HTTP protocol
(`POST /v1/statement`, then each `nextUri`). The `iceberg` catalog writes a table through Nessie
whose files land in the warehouse bucket, the `postgresql` catalog reads Trino's own database, and
a wrong catalog is answered with Trino's error, not a hang. The `dbt` job, started as a user starts
it, builds the project's seed and model into Iceberg tables through Trino and runs their data
tests, and rebuilds them on a second start; the `great-expectations` job then passes the model and
fails it once a bad row is in it. Last, Trino restarted answers again, with nothing redeployed.
"""

from __future__ import annotations

import time
import uuid
from decimal import Decimal
from typing import Any

import docker
import pytest
import requests

from components.query import DBT_PROJECT_SOURCE, DBT_SCHEMA, ICEBERG_CATALOG, TRINO_PORT
from components.storage import WAREHOUSE_BUCKET
from tests.live.conftest import record
from tests.live.deploy import LiveDeployment
from tests.live.stack import (
    connect_database,
    container_name,
    containers,
    memory_inside_limits,
    memory_while_running,
    published_url,
    wait_healthy,
)
from tests.live.test_analytics_live import s3_admin

QUERY_SECONDS = 120
JOB_SECONDS = 600
SEED_CSV = DBT_PROJECT_SOURCE / "seeds" / "raw_orders.csv"
STAGING = f"{ICEBERG_CATALOG}.{DBT_SCHEMA}_staging"  # dbt's schema naming: target schema, then the model's


class TrinoError(RuntimeError):
    pass


@pytest.fixture(scope="module")
def trino(e2e: LiveDeployment, e2e_settings) -> str:
    if not e2e_settings.enabled("query"):
        pytest.fail("the e2e stack must deploy the query layer (Pulumi.e2e.yaml datalyptica:layers)")
    return published_url(e2e, "trino", TRINO_PORT)


def query(url: str, sql: str, user: str = "e2e") -> list[list[Any]]:
    """Every row of `sql`, following Trino's protocol to its last page; Trino's error raised."""
    page = requests.post(f"{url}/v1/statement", data=sql, headers={"X-Trino-User": user}, timeout=30).json()
    rows: list[list[Any]] = []
    for _ in range(QUERY_SECONDS * 10):
        if "error" in page:
            raise TrinoError(page["error"]["message"])
        rows += page.get("data", [])
        if "nextUri" not in page:
            return rows
        page = requests.get(page["nextUri"], timeout=30).json()
    raise TimeoutError(f"{sql!r} did not finish in {QUERY_SECONDS} s")


def test_the_iceberg_catalog_writes_a_table_through_nessie_into_the_warehouse_bucket(e2e: LiveDeployment, trino: str):
    schema = f"e2e_{uuid.uuid4().hex[:8]}"
    rows = [[hour, 10 + hour / 4] for hour in range(5)]
    query(trino, f"CREATE SCHEMA iceberg.{schema}")
    query(trino, f"CREATE TABLE iceberg.{schema}.readings (hour integer, reading double)")
    values = ", ".join(f"({hour}, DOUBLE '{reading}')" for hour, reading in rows)
    query(trino, f"INSERT INTO iceberg.{schema}.readings VALUES {values}")

    assert query(trino, f"SELECT hour, reading FROM iceberg.{schema}.readings ORDER BY hour") == rows
    listed = s3_admin(e2e).list_objects_v2(Bucket=WAREHOUSE_BUCKET, Prefix=f"{schema}/")
    keys = [item["Key"] for item in listed.get("Contents", [])]
    assert any(key.endswith(".parquet") for key in keys), keys  # the rows
    assert any(key.endswith(".metadata.json") for key in keys), keys  # the table's metadata


def test_the_postgresql_catalog_reads_trinos_own_database(e2e: LiveDeployment, trino: str):
    table = f"e2e_orders_{uuid.uuid4().hex[:8]}"
    with connect_database(e2e, "trino") as connection:
        connection.execute(f"CREATE TABLE {table} (id integer PRIMARY KEY, item text)")
        connection.execute(f"INSERT INTO {table} VALUES (1, 'tea'), (2, 'bread')")

    assert query(trino, f"SELECT id, item FROM postgresql.public.{table} ORDER BY id") == [[1, "tea"], [2, "bread"]]


def test_a_wrong_catalog_is_answered_with_trinos_error(trino: str):
    with pytest.raises(TrinoError, match=r"(?i)catalog 'nowhere' not found"):
        query(trino, "SELECT * FROM nowhere.public.anything")


JOB_MEMORY: dict[str, dict[str, int]] = {}  # each job's largest peak of the module's runs, and its limit


def run_job(api: docker.APIClient, e2e: LiveDeployment, service: str) -> tuple[int, str, float]:
    """Start the service's created job container as `docker start -a` would; its exit code, log and
    seconds (its memory peak kept in JOB_MEMORY)."""
    name = container_name(containers(e2e)[service])
    started = time.monotonic()
    api.start(name)
    with memory_while_running(api, name) as memory:
        status = api.wait(name, timeout=JOB_SECONDS)["StatusCode"]
    if memory["mib_peak"] >= JOB_MEMORY.get(service, {}).get("mib_peak", 0):
        JOB_MEMORY[service] = dict(memory)
    return status, api.logs(name, tail=60).decode(errors="replace"), time.monotonic() - started


def expected_orders() -> list[list[Any]]:
    """stg_orders as the model defines it, computed here from the seed's CSV."""
    header, *lines = SEED_CSV.read_text().splitlines()
    assert header == "order_id,customer_id,ordered_at,status,amount_cents"
    rows = [line.split(",") for line in lines]
    return [[int(order_id), status.lower(), Decimal(cents) / 100] for order_id, _, _, status, cents in rows]


@pytest.fixture(scope="module")
def dbt_built(e2e: LiveDeployment, api: docker.APIClient, e2e_settings) -> str:
    """The `dbt` job run once, as a user runs it after `pulumi up`: its first build's log."""
    if not e2e_settings.enabled("quality"):
        pytest.fail("the e2e stack must deploy the quality layer (Pulumi.e2e.yaml datalyptica:layers)")
    status, log, seconds = run_job(api, e2e, "dbt")
    assert status == 0, f"`dbt build` exited {status}:\n{log}"
    record("dbt_build_first_seconds", round(seconds, 1))
    return log


def staged_orders(trino: str) -> list[list[Any]]:
    rows = query(trino, f"SELECT order_id, status, amount FROM {STAGING}.stg_orders ORDER BY order_id")
    # Trino's protocol sends a decimal as its text ("12.50"); Decimal compares it by value.
    return [[order_id, status, Decimal(amount)] for order_id, status, amount in rows]


def test_the_dbt_job_builds_the_project_into_iceberg_through_trino(
    e2e: LiveDeployment, api: docker.APIClient, trino: str, dbt_built: str
):
    # seed, model and the model's three data tests
    assert "PASS=5 WARN=0 ERROR=0" in dbt_built, dbt_built
    assert staged_orders(trino) == expected_orders()
    query(trino, f"DELETE FROM {STAGING}.stg_orders WHERE order_id = 1")
    status, log, seconds = run_job(api, e2e, "dbt")  # a second start rebuilds
    assert status == 0, f"the second `dbt build` exited {status}:\n{log}"
    record("dbt_build_again_seconds", round(seconds, 1))
    assert staged_orders(trino) == expected_orders()


def test_great_expectations_passes_dbts_model_and_fails_a_bad_row(
    e2e: LiveDeployment, api: docker.APIClient, trino: str, dbt_built: str
):
    status, log, seconds = run_job(api, e2e, "great-expectations")
    assert status == 0, f"the checkpoint exited {status} on dbt's model:\n{log}"
    assert "stg_orders: 5 of 5 expectations met" in log, log
    record("gx_checkpoint_seconds", round(seconds, 1))

    bad_row = "(6, 106, TIMESTAMP '2026-01-08 12:00:00', 'lost', -1)"
    query(
        trino, f"INSERT INTO {STAGING}.stg_orders (order_id, customer_id, ordered_at, status, amount) VALUES {bad_row}"
    )
    try:
        status, log, _ = run_job(api, e2e, "great-expectations")
        assert status == 1, (
            f"the checkpoint exited {status} on a row with an unknown status and a negative amount:\n{log}"
        )
        assert "stg_orders: 3 of 5 expectations met" in log, log
    finally:
        status, log, _ = run_job(api, e2e, "dbt")  # the model rebuilt from the seed
        assert status == 0, log


def test_trino_restarted_queries_iceberg_and_postgresql_again_without_a_redeploy(
    e2e: LiveDeployment, api: docker.APIClient, trino: str
):
    """The query layer's fault: Trino's container restarted (its JVM and every catalog with it);
    once healthy it reads what it wrote before, through Nessie and through PostgreSQL."""
    schema = f"e2e_{uuid.uuid4().hex[:8]}"
    query(trino, f"CREATE SCHEMA iceberg.{schema}")
    query(trino, f"CREATE TABLE iceberg.{schema}.kept AS SELECT 42 AS answer")
    name = container_name(containers(e2e)["trino"])
    api.restart(name, timeout=30)
    record("trino_restart_healthy_seconds", round(wait_healthy(api, name), 1))
    assert query(trino, f"SELECT answer FROM iceberg.{schema}.kept") == [[42]]
    assert query(trino, "SELECT count(*) > 0 FROM postgresql.information_schema.tables") == [[True]]


def test_trino_and_the_query_jobs_stayed_inside_their_memory_limits(e2e: LiveDeployment, api: docker.APIClient):
    """Memory after the module's queries, jobs and Trino's restart (Trino's peak since that
    restart), against each limit; the dbt and Great Expectations jobs' peaks while they ran."""
    assert {"dbt", "great-expectations"} <= set(JOB_MEMORY), "the jobs ran in this module before this test"
    for job, memory in JOB_MEMORY.items():
        assert 0 < memory["mib_peak"] < memory["mib_limit"], f"{job} reached its memory limit: {memory}"
    record("query_memory", {**memory_inside_limits(api, e2e, ["trino"]), **JOB_MEMORY})
