"""Resolves every `superset ...` line of a shell script against Superset's own click CLI and prints
the command path and the options click parsed, as JSON. An unknown command or option makes this
exit non-zero.

Run with the Python of a venv holding apache-superset: `python parse_superset_cli.py SCRIPT`.
"""

import importlib.util
import json
import shlex
import sys
import types
from pathlib import Path

# superset.cli.test_db imports `rich`, which the lean install here may lack; the commands checked
# here do not use it.
if importlib.util.find_spec("rich") is None:
    console = types.ModuleType("rich.console")
    console.Console = object
    sys.modules.update({"rich": types.ModuleType("rich"), "rich.console": console})

import click
from superset.cli.main import superset

parsed = []
for line in Path(sys.argv[1]).read_text().splitlines():
    argv = shlex.split(line, comments=True)
    if argv[:1] != ["superset"]:
        continue
    command, args, path = superset, argv[1:], []
    while isinstance(command, click.Group):
        name, command, args = command.resolve_command(click.Context(command), args)
        path.append(name)
    context = command.make_context(" ".join(path), list(args), resilient_parsing=False)
    parsed.append({"command": path, "options": context.params})
print(json.dumps(parsed))
