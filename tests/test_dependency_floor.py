"""The lowest versions pyproject.toml allows are the ones the program works with (issue 13, point 11).

pulumi-docker 5.0 and 5.1 have no `owner` on ContainerUploadArgs, which File.args passes: with them
the program fails with a TypeError. 5.2.0 is the first with it, and it requires pulumi 3.231.
The whole floor was installed into a throwaway venv and the OLAP layer's mocks tests ran there:
    python3 -m venv /tmp/floor && /tmp/floor/bin/pip install pulumi-docker==5.2.0 pulumi==3.231.0 \\
        pulumi-random==4.16.0 pulumi-minio==0.16.0 pulumi-postgresql==3.14.0 pydantic==2.7.0 \\
        jinja2==3.1.0 'pytest>=8,<10' 'pyyaml>=6,<7'
    /tmp/floor/bin/python -m pytest tests/test_olap.py tests/test_idempotence.py
This test holds the requirement to what that run proved, and the installed SDK to what the floor has.
"""

import inspect
import re
import tomllib

import pulumi_docker as docker

from harness.offline import ROOT

FLOORS = {"pulumi": "3.231", "pulumi-docker": "5.2"}


def _floors() -> dict[str, str]:
    dependencies = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    return {m.group(1): m.group(2) for line in dependencies if (m := re.match(r"^([a-z-]+)>=([\d.]+)", line))}


def test_the_floor_is_the_first_release_with_what_the_program_uses():
    assert {name: _floors()[name] for name in FLOORS} == FLOORS


def test_the_installed_sdk_takes_an_uploads_owner():
    assert "owner" in inspect.signature(docker.ContainerUploadArgs).parameters
