#!/bin/bash
# Airflow's one-shot init (components/analytics/airflow.py); runs to completion before any other
# Airflow container starts, and again whenever its container is replaced, so every step is
# idempotent. The admin's password is in the 0400 JSON file beside it, read by accounts.py: never
# on a command line, where `ps` shows it.
set -euo pipefail
here=$(dirname "$0")
airflow db migrate
python "$here/accounts.py" airflow "$here/accounts.json"
