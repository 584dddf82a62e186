"""A one-shot job and a server created after it, with the platform's own Service (components/).

The job passes only once the file /marker/ready exists in the volume `enginejob-marker`, which the
test creates between runs: the real engine shows what a user sees when an init job fails, and what
runs it again (components/service.py's docstring argues it from the providers' source).
"""

import dataclasses
import sys
from pathlib import Path

import pulumi
import pulumi_docker as docker

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))

from components.platform import Platform
from components.service import HealthCheck, InitJob, Server, Service, ServiceArgs
from components.settings import load_settings

BASE = "datalyptica-standin/debian:bookworm"

settings = load_settings({"layers": ["storage"], "prefix": "enginejob", "protectData": False})
platform = Platform(settings)
base = dataclasses.replace(settings.service("haproxy"), image=BASE, cpus=0.25, memory_bytes=64 * 2**20)
volume = docker.Volume("marker", name="enginejob-marker", opts=pulumi.ResourceOptions(provider=platform.docker))
job = Service(
    "job",
    ServiceArgs(
        spec=base.init_job("job"),
        lifecycle=InitJob(),
        command=["test", "-f", "/marker/ready"],
        shared_volumes={"/marker": volume},
    ),
    platform,
)
after = Service(
    "after-job",
    ServiceArgs(
        spec=dataclasses.replace(base, name="after-job"),
        lifecycle=Server(HealthCheck.command("true", interval="1s", start_period="0s")),
        command=["sleep", "infinity"],
        after=[job],
    ),
    platform,
)
pulumi.export("after_job", after.container.id)
