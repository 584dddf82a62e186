"""Spark Connect sessions for Airflow's tasks: the work runs on the platform's Spark cluster, and
the task needs no Java.

    from datalyptica_spark import session

    with session() as spark:
        spark.sql("SELECT count(*) FROM nessie.sales.orders").collect()

The platform's Spark Connect server checks a token on every call and speaks no TLS. pyspark sends
a token only over TLS (a `;token=` in the URL, or SPARK_CONNECT_AUTHENTICATE_TOKEN, turns TLS on),
so this channel sends it itself, as the `Authorization: Bearer` header the server checks. The
address, user id and token come from the Airflow connection `spark_connect_default`.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager

from pyspark.sql.connect.client import DefaultChannelBuilder
from pyspark.sql.connect.session import SparkSession

CONNECTION = "spark_connect_default"


class BearerChannelBuilder(DefaultChannelBuilder):
    """A plain gRPC channel whose every call carries `Authorization: Bearer <token>`."""

    def __init__(self, url: str, token: str) -> None:
        super().__init__(url)
        self._bearer = token

    def metadata(self) -> Iterable[tuple[str, str]]:
        return [*super().metadata(), ("authorization", f"Bearer {self._bearer}")]


def address(conn_id: str = CONNECTION) -> tuple[str, str]:
    """The server's `sc://` URL (with the user id, never the token) and the token."""
    from airflow.sdk import BaseHook

    connection = BaseHook.get_connection(conn_id)
    user = f";user_id={connection.login}" if connection.login else ""
    return f"sc://{connection.host}:{connection.port}/{user}", connection.password or ""


@contextmanager
def session(conn_id: str = CONNECTION) -> Iterator[SparkSession]:
    """A Spark Connect session on the cluster, stopped when the block ends."""
    url, token = address(conn_id)
    spark = SparkSession.builder.channelBuilder(BearerChannelBuilder(url, token)).create()
    try:
        yield spark
    finally:
        spark.stop()
