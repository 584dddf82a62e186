"""QualityLayer: Great Expectations as a job that validates tables through Trino.

The project (gx/, a File Data Context) is uploaded into the job container, so a changed suite
or checkpoint shows in `pulumi preview`. The job is created, never started by `pulumi up`:
run it with `docker start -a datalyptica-great-expectations` (with the stack's prefix); it
exits 1 when an expectation fails.
"""

from pathlib import Path

from components.endpoints import TrinoEndpoint
from components.layer import Layer
from components.platform import Platform
from components.service import File, OnDemandJob, ServiceArgs

GX_PROJECT_SOURCE = Path(__file__).resolve().parent.parent / "gx"
GX_PROJECT_DIR = "/usr/app/gx"  # owned by the image's gx user: GX writes uncommitted/ there
GX_TRINO_USER = "great-expectations"  # Trino has no authentication here: the name labels GX's queries
GX_SKIPPED = frozenset({"uncommitted", "plugins"})
CHECKPOINT = "stg_orders"


def gx_project_files() -> list[File]:
    return File.tree(GX_PROJECT_SOURCE, GX_PROJECT_DIR, GX_SKIPPED)


class QualityLayer(Layer):
    layer = "quality"

    def __init__(self, platform: Platform, trino: TrinoEndpoint):
        super().__init__(platform)
        self.great_expectations = self.service(
            "great-expectations",
            ServiceArgs(
                spec=self.spec("great-expectations"),
                lifecycle=OnDemandJob(),
                uses=[trino],
                command=["python", f"{GX_PROJECT_DIR}/run_checkpoint.py", CHECKPOINT],
                # great_expectations.yml reads ${GX_TRINO_URL}; it holds no password (Trino has none here).
                env={"GX_TRINO_URL": trino.sqlalchemy_url(GX_TRINO_USER)},
                files=gx_project_files(),
            ),
        )
        self.finish({"job": self.great_expectations.container.name})
