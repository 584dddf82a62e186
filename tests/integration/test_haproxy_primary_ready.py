"""HAProxy answers its primary-ready check with 200 only while the primary listener has an up
server (issue 13, point 7): a real HAProxy on 127.0.0.1, a stand-in for Patroni's REST API whose
/primary answer the test switches."""

import http.server
import subprocess
import threading
import time
import urllib.error
import urllib.request

import pytest

from components import pgha
from tests.integration.pgcluster import find_tools
from tests.required_tools import missing_tool


class _Patroni(http.server.BaseHTTPRequestHandler):
    primary = False

    def do_HEAD(self):  # HAProxy's check: HEAD /primary
        self.send_response(200 if self.path == "/primary" and _Patroni.primary else 503)
        self.end_headers()

    def log_message(self, *args):
        pass


def _status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code
    except urllib.error.URLError:
        return 0  # HAProxy not listening (yet)


def _until(url: str, status: int, timeout: float = 10) -> int:
    deadline = time.monotonic() + timeout
    while (seen := _status(url)) != status and time.monotonic() < deadline:
        time.sleep(0.2)
    return seen


@pytest.mark.integration
def test_haproxy_is_ready_only_while_a_primary_is_up(tmp_path):
    tools, missing = find_tools()
    if tools is None:
        missing_tool("PostgreSQL HA tools missing: " + "; ".join(missing) + " (run .ci/install.d/20-pgha.sh)")
    rest = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Patroni)
    threading.Thread(target=rest.serve_forever, daemon=True).start()
    topology = pgha.PgHaTopology(
        scope="t",
        etcd=(pgha.EtcdMember(name="etcd-1", host="127.0.0.1"),),
        nodes=(pgha.PatroniNode(name="node-1", host="127.0.0.1", pg_port=1, rest_port=rest.server_address[1]),),
    )
    stats_port = 27431
    config = tmp_path / "haproxy.cfg"
    config.write_text(
        pgha.render_haproxy_config(
            topology,
            listen_host="127.0.0.1",
            primary_port=27432,
            replica_port=27433,
            stats_port=stats_port,
            docker_dns=False,
        )
    )
    haproxy = subprocess.Popen(
        [tools.haproxy, "-db", "-f", str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    ready = f"http://127.0.0.1:{stats_port}{pgha.HAPROXY_PRIMARY_READY_PATH}"
    try:
        assert _until(ready, 503) == 503  # no primary yet
        assert _status(f"http://127.0.0.1:{stats_port}/") == 200  # the stats page itself answers anyway
        _Patroni.primary = True
        assert _until(ready, 200) == 200
        _Patroni.primary = False
        assert _until(ready, 503) == 503
    finally:
        haproxy.terminate()
        haproxy.wait(timeout=10)
        rest.shutdown()
