"""Superset's REST API for Airflow's tasks: the datasets, charts and dashboards a DAG publishes.

    from datalyptica_superset import Superset

    superset = Superset()                                   # the connection superset_default
    dataset = superset.dataset("Trino", "ml", "energy_predictions")
    chart = superset.chart("Energy predictions", dataset, "table", params, query_context)
    dashboard = superset.dashboard("Orders", "orders")      # then charts with dashboards=[dashboard]
    superset.lay_out(dashboard, "Orders", [chart])          # the charts in a row, in that order
    superset.chart_data(chart)                              # computed once: later requests hit the cache

Each is looked up by its name first and created only when missing, so a DAG that runs again
changes nothing. The connection's login is the platform's Superset user for Airflow.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import requests

CONNECTION = "superset_default"
TIMEOUT = 60


class Superset:
    def __init__(self, conn_id: str = CONNECTION) -> None:
        from airflow.sdk import BaseHook

        connection = BaseHook.get_connection(conn_id)
        self.url = f"http://{connection.host}:{connection.port}"
        self.http = requests.Session()
        login = self.http.post(
            f"{self.url}/api/v1/security/login",
            json={"username": connection.login, "password": connection.password, "provider": "db", "refresh": False},
            timeout=TIMEOUT,
        )
        login.raise_for_status()
        self.http.headers["Authorization"] = f"Bearer {login.json()['access_token']}"
        # Superset checks a CSRF token on every change through the API, tied to this session's cookie.
        self.http.headers.update(
            {"X-CSRFToken": self.call("GET", "security/csrf_token/")["result"], "Referer": self.url}
        )

    def call(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self.http.request(method, f"{self.url}/api/v1/{path}", timeout=TIMEOUT, **kwargs)
        if not response.ok:
            raise RuntimeError(f"Superset {method} {path}: {response.status_code} {response.text[:500]}")
        return response.json()

    def _find(self, resource: str, **equal: object) -> list[dict[str, Any]]:
        filters = ",".join(f"(col:{column},opr:eq,value:{_rison(value)})" for column, value in equal.items())
        return self.call("GET", f"{resource}/", params={"q": f"(filters:!({filters}),page_size:100)"})["result"]

    def database(self, name: str) -> int:
        found = self._find("database", database_name=name)
        if not found:
            raise LookupError(f"Superset has no database named {name!r}")
        return int(found[0]["id"])

    def dataset(self, database: str, schema: str, table: str) -> int:
        """The dataset of a table (its columns read from the database when it is created)."""
        database_id = self.database(database)
        for found in self._find("dataset", table_name=table, schema=schema):
            if found["database"]["id"] == database_id:
                return int(found["id"])
        created = self.call("POST", "dataset/", json={"database": database_id, "schema": schema, "table_name": table})
        return int(created["id"])

    def dashboard(self, title: str, slug: str) -> int:
        found = self.http.get(f"{self.url}/api/v1/dashboard/{slug}", timeout=TIMEOUT)
        if found.ok:
            return int(found.json()["result"]["id"])
        created = self.call("POST", "dashboard/", json={"dashboard_title": title, "slug": slug, "published": True})
        return int(created["id"])

    def chart(
        self,
        name: str,
        dataset: int,
        viz_type: str,
        params: Mapping[str, Any],
        query_context: Mapping[str, Any],
        dashboards: Sequence[int] = (),
    ) -> int:
        """A chart of a dataset: `params` as the browser draws it, `query_context` as the API's
        `chart/<id>/data/` runs it. An existing chart of that name is updated to them."""
        fields = {
            "slice_name": name,
            "viz_type": viz_type,
            "datasource_id": dataset,
            "datasource_type": "table",
            "params": json.dumps({"datasource": f"{dataset}__table", "viz_type": viz_type, **params}),
            "query_context": json.dumps(
                {
                    "datasource": {"id": dataset, "type": "table"},
                    "force": False,
                    "result_format": "json",
                    "result_type": "full",
                    **query_context,
                }
            ),
            "dashboards": list(dashboards),
        }
        for found in self._find("chart", slice_name=name):
            self.call("PUT", f"chart/{found['id']}", json=fields)
            return int(found["id"])
        return int(self.call("POST", "chart/", json=fields)["id"])

    def lay_out(self, dashboard: int, title: str, charts: Sequence[int], per_row: int = 3) -> None:
        """The dashboard's layout: its charts in rows of `per_row`, in the order given (a dashboard
        whose charts are not in its layout shows none of them)."""
        layout: dict[str, Any] = {
            "DASHBOARD_VERSION_KEY": "v2",
            "ROOT_ID": {"type": "ROOT", "id": "ROOT_ID", "children": ["GRID_ID"]},
            "GRID_ID": {"type": "GRID", "id": "GRID_ID", "children": [], "parents": ["ROOT_ID"]},
            "HEADER_ID": {"type": "HEADER", "id": "HEADER_ID", "meta": {"text": title}},
        }
        width = 12 // per_row
        for start in range(0, len(charts), per_row):
            row = f"ROW-{start // per_row + 1}"
            layout["GRID_ID"]["children"].append(row)
            layout[row] = {
                "type": "ROW",
                "id": row,
                "children": [],
                "parents": ["ROOT_ID", "GRID_ID"],
                "meta": {"background": "BACKGROUND_TRANSPARENT"},
            }
            for chart in charts[start : start + per_row]:
                cell = f"CHART-{chart}"
                layout[row]["children"].append(cell)
                layout[cell] = {
                    "type": "CHART",
                    "id": cell,
                    "children": [],
                    "parents": ["ROOT_ID", "GRID_ID", row],
                    "meta": {"chartId": chart, "width": width, "height": 50},
                }
        self.call("PUT", f"dashboard/{dashboard}", json={"position_json": json.dumps(layout)})

    def chart_data(self, chart: int) -> Any:
        """A chart's data as its saved query computes it, from Superset's cache when it holds it."""
        return self.call("GET", f"chart/{chart}/data/")


def _rison(value: object) -> str:
    """A value in Rison, the notation of Superset's `q` parameter (a string quoted, ' and ! escaped)."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    return "'" + str(value).replace("!", "!!").replace("'", "!'") + "'"
