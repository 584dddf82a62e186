#!/bin/bash
# The stand-in's /entrypoint: what upstream's entrypoint_prod.sh does for the commands the program
# runs (CONTRACT.md): wait for the metadata database (and the Celery broker for scheduler/celery),
# run `bash`/`python` as given, anything else as an `airflow` subcommand.
set -euo pipefail
umask 0002

: "${CONNECTION_CHECK_MAX_COUNT:=20}"
: "${CONNECTION_CHECK_SLEEP_TIME:=3}"

retry() {
    local what=$1 count=0
    shift
    until "$@" >/dev/null 2>&1; do
        count=$((count + 1))
        if [ "$count" -ge "$CONNECTION_CHECK_MAX_COUNT" ]; then
            echo "ERROR: $what not reachable after $count tries" >&2
            "$@"
            exit 1
        fi
        echo "waiting for $what ($count/$CONNECTION_CHECK_MAX_COUNT)" >&2
        sleep "$CONNECTION_CHECK_SLEEP_TIME"
    done
}

broker_reachable() {
    python3 - "$(airflow config get-value celery broker_url)" <<'PY'
import socket, sys
from urllib.parse import urlsplit
url = urlsplit(sys.argv[1])
socket.create_connection((url.hostname or "localhost", url.port or 6379), timeout=5).close()
PY
}

if [ -n "${_PIP_ADDITIONAL_REQUIREMENTS:-}" ]; then
    echo "WARNING: installing _PIP_ADDITIONAL_REQUIREMENTS at start; build them into an image instead" >&2
    # shellcheck disable=SC2086  # a list of requirements
    pip install --no-cache-dir ${_PIP_ADDITIONAL_REQUIREMENTS}
fi

if [ "$CONNECTION_CHECK_MAX_COUNT" -gt 0 ]; then
    retry "the metadata database" airflow db check
fi

command=${1:-}
case "$command" in
    bash | python) exec "$@" ;;
    airflow) shift; command=${1:-} ;;
esac

if [[ $command =~ ^(scheduler|celery)$ ]] && [ "$CONNECTION_CHECK_MAX_COUNT" -gt 0 ]; then
    retry "the Celery broker" broker_reachable
fi

exec airflow "$@"
