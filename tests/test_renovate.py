"""Renovate's configuration finds every pin it is meant to keep fresh.

Its custom managers are regular expressions over files; these tests run the same expressions (as
Python reads them) over the same files, so a pin that would silently fall out of Renovate's view
(a new image in the catalog, a Dockerfile written another way) fails here.
"""

import json
import re
from pathlib import Path

from components import catalog

ROOT = Path(__file__).resolve().parent.parent
CONFIG = json.loads((ROOT / "renovate.json").read_text())
DOCKERFILES = sorted(ROOT.glob("images/*/Dockerfile"))


def python_regex(pattern: str) -> re.Pattern[str]:
    """A JavaScript pattern as Python's re reads it: named groups are (?P<name>...)."""
    return re.compile(re.sub(r"\(\?<(?=[A-Za-z])", "(?P<", pattern))


def managers_for(path: Path) -> list[dict]:
    relative = path.relative_to(ROOT).as_posix()
    return [
        manager
        for manager in CONFIG["customManagers"]
        if any(python_regex(pattern.strip("/")).search(relative) for pattern in manager["managerFilePatterns"])
    ]


def found_in(path: Path) -> dict[str, str]:
    """depName -> currentValue of what the custom managers extract from `path`."""
    found = {}
    text = path.read_text()
    for manager in managers_for(path):
        for pattern in manager["matchStrings"]:
            for match in python_regex(pattern).finditer(text):
                name = match.groupdict().get("depName") or manager["depNameTemplate"]
                found[name] = match["currentValue"]
    return found


def test_every_catalog_image_is_found():
    images = {d.image for d in catalog.SERVICES.values() if not d.image.startswith("build:")}
    found = found_in(ROOT / "components" / "catalog.py")
    assert {f"{name}:{tag}" for name, tag in found.items()} == images


def test_every_dockerfile_base_is_found():
    plain_from = re.compile(r"^FROM (\S+?):([\w.-]+)(?:\s|$)", re.MULTILINE)
    skipped_by_dockerfile_manager = set(
        next(rule for rule in CONFIG["packageRules"] if rule.get("matchManagers") == ["dockerfile"])["matchDepNames"]
    )
    for dockerfile in DOCKERFILES:
        text = dockerfile.read_text()
        bases = re.findall(r"^FROM (\S+)", text, re.MULTILINE)
        assert bases, dockerfile
        custom = found_in(dockerfile)
        for base in bases:
            name = base.split(":")[0]
            if "$" in base:  # a tag from an ARG: a custom manager's, and the Dockerfile manager keeps off it
                assert name in custom, f"{dockerfile}: no custom manager finds {base}"
                assert name in skipped_by_dockerfile_manager
            else:  # Renovate's own Dockerfile manager reads a literal tag
                assert plain_from.search(text), f"{dockerfile}: {base} has no tag"
                assert name not in custom


def test_arg_tags_read_as_the_arguments_value():
    airflow = found_in(ROOT / "images" / "airflow" / "Dockerfile")
    version = re.search(r"^ARG AIRFLOW_VERSION=(\S+)", (ROOT / "images/airflow/Dockerfile").read_text(), re.M)
    assert version is not None
    assert airflow == {"apache/airflow": version[1]}


def test_every_annotated_version_is_found():
    makefile = ROOT / "Makefile"
    annotated = re.findall(r"^# renovate: datasource=\S+ depName=(\S+)\n[A-Z_]+ := (\S+)$", makefile.read_text(), re.M)
    assert ("github.com/rhysd/actionlint", "1.7.12") in annotated
    assert found_in(makefile) == dict(annotated)


def test_the_pulumi_cli_of_the_preview_is_found():
    preview = ROOT / ".github" / "workflows" / "preview.yml"
    (version,) = set(re.findall(r"pulumi-version: (\S+)", preview.read_text()))
    assert found_in(preview) == {"pulumi": version}


def test_the_generated_requirements_are_left_to_make_lock():
    rule = next(rule for rule in CONFIG["packageRules"] if rule.get("matchFileNames") == ["requirements.txt"])
    assert rule["enabled"] is False
