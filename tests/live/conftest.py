import pytest


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "live: runs stand-in images on the Docker Engine that DOCKER_HOST names")
