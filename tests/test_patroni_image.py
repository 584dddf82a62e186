"""images/patroni/Dockerfile agrees with what components/pgha.py says of it (hadolint: tests/test_images.py)."""

from pathlib import Path

from components import pgha

DOCKERFILE = Path(__file__).resolve().parent.parent / "images" / "patroni" / "Dockerfile"


def test_dockerfile_matches_the_paths_the_program_uses():
    dockerfile = DOCKERFILE.read_text()
    assert f"FROM postgres:{pgha.IMAGE_PG_MAJOR}-bookworm" in dockerfile
    assert f'CMD ["{pgha.IMAGE_CONFIG_PATH}"]' in dockerfile
    assert f"http://localhost:{pgha.IMAGE_REST_PORT}/health" in dockerfile
    assert pgha.IMAGE_VOLUME_DIR in dockerfile
    assert pgha.IMAGE_DATA_DIR.startswith(pgha.IMAGE_VOLUME_DIR + "/")
    assert pgha.IMAGE_BIN_DIR == f"/usr/lib/postgresql/{pgha.IMAGE_PG_MAJOR}/bin"
