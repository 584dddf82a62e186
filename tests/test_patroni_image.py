"""images/patroni/Dockerfile agrees with what components/pgha.py says of it (hadolint: tests/test_images.py)."""

import re
from pathlib import Path

from components import pgha
from dockerfiles import base_images, build_args

DOCKERFILE = Path(__file__).resolve().parent.parent / "images" / "patroni" / "Dockerfile"


def test_dockerfile_matches_the_paths_the_program_uses():
    dockerfile = DOCKERFILE.read_text()
    assert build_args(DOCKERFILE)["PG_MAJOR"] == str(pgha.DEFAULT_PG_MAJOR)
    assert set(base_images(DOCKERFILE)) == {f"postgres:{pgha.DEFAULT_PG_MAJOR}-bookworm"}
    assert f'CMD ["{pgha.IMAGE_CONFIG_PATH}"]' in dockerfile
    assert f"http://localhost:{pgha.IMAGE_REST_PORT}/health" in dockerfile
    volume_parent, _, volume_name = pgha.IMAGE_VOLUME_DIR.rpartition("/")
    assert f"-m 0700 /postgres-home/{volume_name}" in dockerfile
    assert f"COPY --from=data-dir /postgres-home/ {volume_parent}/" in dockerfile
    assert pgha.IMAGE_DATA_DIR.startswith(pgha.IMAGE_VOLUME_DIR + "/")
    assert pgha.image_bin_dir(15) == "/usr/lib/postgresql/15/bin"


def test_the_stack_picks_the_postgresql_major(deploy):
    image = deploy(layers=["storage"], postgresMajor=15).named("patroni-image", "docker:index/remoteImage:RemoteImage")
    assert image.inputs["build"]["buildArgs"] == {"PG_MAJOR": "15"}
    assert settings_default_major() == pgha.DEFAULT_PG_MAJOR


def settings_default_major() -> int:
    from components.settings import Settings

    return Settings().postgres_major


def test_pg_major_picks_the_base_image_and_nothing_else():
    """A stand-in base of another major builds the same image: no path below names the major."""
    instructions = [line for line in DOCKERFILE.read_text().splitlines() if line and not line.startswith("#")]
    uses = [line for line in instructions if "PG_MAJOR" in line]
    assert uses[0].startswith("ARG PG_MAJOR=")
    assert all(line.startswith("FROM postgres:${PG_MAJOR}-bookworm") for line in uses[1:]), uses
    assert not [line for line in instructions if re.search(r"postgresql[/-]\d", line)]
