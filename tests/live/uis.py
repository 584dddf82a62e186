"""Clients of the analytics layer's UIs as the live tests drive them: each through its own HTTP
API on its published port (127.0.0.1), logged in the way that UI logs people in.

    JupyterHub  form login (NativeAuthenticator, with its _xsrf cookie), then an API token;
                a Kernel runs code in a spawned notebook over the Jupyter server's websocket
    MLflow      the REST API (no login: MLflow has none in this stack)
    Superset    /api/v1/security/login (database users), a CSRF token for every write
    Airflow     /auth/token (the FAB auth manager), a bearer token for /api/v2
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from typing import Any

import requests
import websocket

from tests.integration.pgcluster import wait_for

TIMEOUT = 30  # seconds for one HTTP call


# ---- JupyterHub --------------------------------------------------------------------------------


@dataclass
class JupyterHub:
    url: str
    session: requests.Session = field(default_factory=requests.Session)
    token: str | None = None

    def login(self, username: str, password: str, then: str = "") -> requests.Response:
        """The login form as a browser posts it; the hub answers with a redirect off /hub/login, by
        default to the user's server, which it starts (`then="/hub/home"`: to the home page)."""
        self.session.get(f"{self.url}/hub/login", timeout=TIMEOUT).raise_for_status()
        return self.session.post(
            f"{self.url}/hub/login",
            params={"next": then} if then else None,
            data={"username": username, "password": password, "_xsrf": self._xsrf()},
            timeout=TIMEOUT,
        )

    def _xsrf(self) -> str:
        """The hub's XSRF cookie (each notebook server the session visited sets its own too)."""
        return next((c.value or "" for c in self.session.cookies if c.name == "_xsrf" and c.path == "/hub/"), "")

    def _xsrf_headers(self) -> dict[str, str]:
        return {"X-XSRFToken": self._xsrf()}

    def sign_up(self, username: str, password: str) -> requests.Response:
        self.session.get(f"{self.url}/hub/signup", timeout=TIMEOUT).raise_for_status()
        return self.session.post(
            f"{self.url}/hub/signup",
            data={
                "username": username,
                "signup_password": password,
                "signup_password_confirmation": password,
                "_xsrf": self._xsrf(),
            },
            timeout=TIMEOUT,
        )

    def authorize(self, username: str) -> None:
        """NativeAuthenticator's admin page toggles a signed-up user's approval (logged in as admin)."""
        self.session.get(f"{self.url}/hub/authorize/{username}", timeout=TIMEOUT).raise_for_status()

    def create_token(self, username: str) -> str:
        """An API token of the logged-in user, made through the hub's API with the login session."""
        # The XSRF cookie the login page set belongs to the session before login: a page of the
        # logged-in session sets the one the API checks.
        self.session.get(f"{self.url}/hub/home", timeout=TIMEOUT).raise_for_status()
        response = self.session.post(
            f"{self.url}/hub/api/users/{username}/tokens",
            json={"note": "datalyptica live tests", "expires_in": 3600},
            headers=self._xsrf_headers(),
            timeout=TIMEOUT,
        )
        response.raise_for_status()
        self.token = response.json()["token"]
        return self.token

    def api(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        headers = {"Authorization": f"token {self.token}"}
        return requests.request(method, f"{self.url}/hub/api{path}", headers=headers, timeout=TIMEOUT, **kwargs)

    def user(self, username: str) -> dict[str, Any]:
        response = self.api("GET", f"/users/{username}")
        response.raise_for_status()
        return response.json()

    def spawn(self, username: str, timeout: float = 240) -> None:
        """The user's notebook server, started unless it is already (logging in in starts it), and ready."""
        if not (self.user(username).get("servers") or {}).get(""):
            response = self.api("POST", f"/users/{username}/server")
            assert response.status_code in (201, 202), response.text
        wait_for(
            lambda: (self.user(username).get("servers", {}).get("") or {}).get("ready"),
            timeout=timeout,
            what=f"{username}'s notebook server ready",
        )

    def stop(self, username: str, timeout: float = 120) -> None:
        """The user's server stopped (whether it still ran or not)."""
        if (self.user(username).get("servers") or {}).get(""):
            response = self.api("DELETE", f"/users/{username}/server")
            assert response.status_code in (202, 204), response.text
        wait_for(lambda: not self.user(username).get("servers"), timeout=timeout, what=f"{username}'s server stopped")

    def kernel(self, username: str) -> Kernel:
        """A new Python kernel in the user's notebook server, reached through the hub's proxy."""
        server = f"{self.url}/user/{username}"
        headers = {"Authorization": f"token {self.token}"}
        response = requests.post(f"{server}/api/kernels", json={"name": "python3"}, headers=headers, timeout=TIMEOUT)
        response.raise_for_status()
        kernel_id = response.json()["id"]
        ws_url = server.replace("http://", "ws://", 1) + f"/api/kernels/{kernel_id}/channels"
        return Kernel(server, kernel_id, headers, websocket.create_connection(ws_url, header=headers, timeout=120))


@dataclass
class Kernel:
    """One kernel of a Jupyter server, run over its channels websocket (Jupyter messaging 5.3)."""

    server: str
    kernel_id: str
    headers: dict[str, str]
    ws: websocket.WebSocket
    session_id: str = field(default_factory=lambda: uuid.uuid4().hex)

    def execute(self, code: str) -> str:
        """Run `code`; its stdout. A Python exception in the kernel fails with its traceback."""
        msg_id = uuid.uuid4().hex
        self.ws.send(
            json.dumps(
                {
                    "header": {
                        "msg_id": msg_id,
                        "username": "live-tests",
                        "session": self.session_id,
                        "msg_type": "execute_request",
                        "version": "5.3",
                    },
                    "parent_header": {},
                    "metadata": {},
                    "content": {
                        "code": code,
                        "silent": False,
                        "store_history": False,
                        "user_expressions": {},
                        "allow_stdin": False,
                        "stop_on_error": True,
                    },
                    "channel": "shell",
                    "buffers": [],
                }
            )
        )
        stdout: list[str] = []
        replied = idle = False
        error: dict[str, Any] | None = None
        while not (replied and idle):
            message = json.loads(self.ws.recv())
            if message.get("parent_header", {}).get("msg_id") != msg_id:
                continue
            kind, content = message["msg_type"], message["content"]
            if kind == "stream" and content["name"] == "stdout":
                stdout.append(content["text"])
            elif kind == "error":
                error = content
            elif kind == "execute_reply":
                replied = True
            elif kind == "status" and content["execution_state"] == "idle":
                idle = True
        if error:
            raise AssertionError(
                f"the kernel raised {error['ename']}: {error['evalue']}\n" + "\n".join(error["traceback"])
            )
        return "".join(stdout)

    def close(self) -> None:
        self.ws.close()
        requests.delete(f"{self.server}/api/kernels/{self.kernel_id}", headers=self.headers, timeout=TIMEOUT)


# ---- MLflow ------------------------------------------------------------------------------------


@dataclass
class MLflow:
    url: str

    def call(self, method: str, path: str, **kwargs: Any) -> Any:
        response = requests.request(method, f"{self.url}/api/2.0/{path}", timeout=TIMEOUT, **kwargs)
        assert response.ok, f"{method} {path}: {response.status_code} {response.text[:500]}"
        return response.json() if response.content else None

    def artifact_url(self, artifact_uri: str, path: str) -> str:
        """`mlflow-artifacts:/<exp>/<run>/artifacts` + path, as the artifact proxy serves it."""
        assert artifact_uri.startswith("mlflow-artifacts:/"), artifact_uri
        return f"{self.url}/api/2.0/mlflow-artifacts/artifacts/{artifact_uri.removeprefix('mlflow-artifacts:/')}/{path}"


# ---- Superset ----------------------------------------------------------------------------------


@dataclass
class Superset:
    url: str
    session: requests.Session = field(default_factory=requests.Session)

    def login(self, username: str, password: str) -> None:
        response = self.session.post(
            f"{self.url}/api/v1/security/login",
            json={"username": username, "password": password, "provider": "db", "refresh": True},
            timeout=TIMEOUT,
        )
        assert response.ok, f"Superset login: {response.status_code} {response.text[:300]}"
        self.session.headers["Authorization"] = f"Bearer {response.json()['access_token']}"
        csrf = self.session.get(f"{self.url}/api/v1/security/csrf_token/", timeout=TIMEOUT)
        csrf.raise_for_status()
        self.session.headers.update({"X-CSRFToken": csrf.json()["result"], "Referer": self.url})

    def call(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self.session.request(method, f"{self.url}/api/v1/{path}", timeout=TIMEOUT, **kwargs)
        assert response.ok, f"{method} {path}: {response.status_code} {response.text[:500]}"
        return response.json()


# ---- Airflow -----------------------------------------------------------------------------------


@dataclass
class Airflow:
    url: str
    session: requests.Session = field(default_factory=requests.Session)

    def login(self, username: str, password: str) -> None:
        response = requests.post(
            f"{self.url}/auth/token", json={"username": username, "password": password}, timeout=TIMEOUT
        )
        assert response.status_code in (200, 201), f"Airflow login: {response.status_code} {response.text[:300]}"
        self.session.headers["Authorization"] = f"Bearer {response.json()['access_token']}"

    def call(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self.session.request(method, f"{self.url}/api/v2/{path}", timeout=TIMEOUT, **kwargs)
        assert response.ok, f"{method} {path}: {response.status_code} {response.text[:500]}"
        return response.json() if response.content else None

    def unpause_when_parsed(self, dag_id: str, timeout: float = 180) -> None:
        """The DAG processor parses a shipped DAG after it starts; unpaused, it runs when triggered."""
        wait_for(
            lambda: self.session.get(f"{self.url}/api/v2/dags/{dag_id}", timeout=TIMEOUT).status_code == 200,
            timeout=timeout,
            what=f"{dag_id} listed",
        )
        self.call("PATCH", f"dags/{dag_id}", json={"is_paused": False})

    def trigger(self, dag_id: str, conf: dict[str, Any] | None = None) -> str:
        run = self.call("POST", f"dags/{dag_id}/dagRuns", json={"logical_date": None, "conf": conf or {}})
        return run["dag_run_id"]

    def wait_for_run(self, dag_id: str, run_id: str, timeout: float = 420) -> str:
        def ended() -> str | None:
            state = self.call("GET", f"dags/{dag_id}/dagRuns/{run_id}")["state"]
            return state if state in ("success", "failed") else None

        return wait_for(ended, timeout=timeout, what=f"run {run_id} of {dag_id} ended", interval=3)

    def task_instance(self, dag_id: str, run_id: str, task_id: str) -> dict[str, Any]:
        return self.call("GET", f"dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}")

    def task_log(self, dag_id: str, run_id: str, task_id: str, try_number: int) -> str:
        """A try's log as the API serves it (JSON events in Airflow 3; their text joined)."""
        body = self.call(
            "GET",
            f"dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/logs/{try_number}",
            params={"full_content": "true"},
            headers={"Accept": "application/json"},
        )
        content = body.get("content")
        if isinstance(content, list):
            return "\n".join(_log_line(e) for e in content)
        return str(content)


def _log_line(event: Any) -> str:
    """A task log's JSON event as text, with the exception it carries (type: value, innermost last)."""
    if not isinstance(event, dict):
        return str(event)
    errors = event.get("error_detail") or []
    return "\n".join(
        [event.get("event", ""), *(f"{e.get('exc_type')}: {e.get('exc_value')}" for e in errors if isinstance(e, dict))]
    )
