#!/bin/bash
# Superset's one-shot init (components/analytics/superset.py); runs to completion before the web
# server starts, and again whenever its container is replaced, so every step is idempotent. The
# passwords and data-source URIs are in the 0400 JSON files beside it, read by the Python steps:
# never on a command line, where `ps` shows them.
set -euo pipefail
here=$(dirname "$0")
superset db upgrade
# Roles and permissions first: the accounts below are given roles that `init` makes (Alpha).
superset init
python "$here/accounts.py" superset "$here/accounts.json"
python "$here/databases.py" "$here/databases.json"
