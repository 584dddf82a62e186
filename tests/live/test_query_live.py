"""Trino on the e2e stack, as a client reaches it: its published port and its HTTP protocol
(`POST /v1/statement`, then each `nextUri`). The `iceberg` catalog writes a table through Nessie
whose files land in the warehouse bucket, the `postgresql` catalog reads Trino's own database, and
a wrong catalog is answered with Trino's error, not a hang.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest
import requests

from components.query import TRINO_PORT
from components.storage import WAREHOUSE_BUCKET
from tests.live.deploy import LiveDeployment
from tests.live.stack import connect_database, published_url
from tests.live.test_analytics_live import s3_admin

QUERY_SECONDS = 120


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
