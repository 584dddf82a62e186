"""images/patroni/Dockerfile agrees with what components/pgha.py says of it (hadolint: tests/test_images.py)."""

from pathlib import Path

from components import pgha

DOCKERFILE = Path(__file__).resolve().parent.parent / "images" / "patroni" / "Dockerfile"


def test_dockerfile_matches_the_paths_the_program_uses():
    dockerfile = DOCKERFILE.read_text()
    assert f"ARG PG_MAJOR={pgha.DEFAULT_PG_MAJOR}" in dockerfile
    assert "FROM postgres:${PG_MAJOR}-bookworm" in dockerfile
    assert f'CMD ["{pgha.IMAGE_CONFIG_PATH}"]' in dockerfile
    assert f"http://localhost:{pgha.IMAGE_REST_PORT}/health" in dockerfile
    assert pgha.IMAGE_VOLUME_DIR in dockerfile
    assert pgha.IMAGE_DATA_DIR.startswith(pgha.IMAGE_VOLUME_DIR + "/")
    assert pgha.image_bin_dir(15) == "/usr/lib/postgresql/15/bin"


def test_the_stack_picks_the_postgresql_major(deploy):
    image = deploy(layers=["storage"], postgresMajor=15).named("patroni-image", "docker:index/image:Image")
    assert image.inputs["build"]["args"] == {"PG_MAJOR": "15"}
    assert settings_default_major() == pgha.DEFAULT_PG_MAJOR


def settings_default_major() -> int:
    from components.settings import Settings

    return Settings().postgres_major
