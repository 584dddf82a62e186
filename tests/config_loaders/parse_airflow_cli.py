"""Parses every `airflow ...` line of a shell script with Airflow's own CLI parser (AIRFLOW_CONFIG
set by the caller, so the FAB auth manager's `users` commands exist) and prints the commands and
options it resolved, as JSON. A line Airflow would refuse makes this exit non-zero.

Run with the Python of a venv holding apache-airflow and its FAB provider: `python parse_airflow_cli.py SCRIPT`.
"""

import json
import shlex
import sys
from pathlib import Path

from airflow.cli.cli_parser import get_parser

parser = get_parser()
parsed = []
for line in Path(sys.argv[1]).read_text().splitlines():
    argv = shlex.split(line, comments=True)
    if argv[:1] == ["airflow"]:
        args = parser.parse_args(argv[1:])
        options = {k: v for k, v in vars(args).items() if k in ("username", "password", "role", "email")}
        parsed.append({"command": argv[1:3], "options": options})
print(json.dumps(parsed))
