"""Run one checkpoint of this project and exit 1 if any of its expectations failed.

The quality layer's job container runs it: `docker start -a datalyptica-great-expectations`.
Locally: `GX_TRINO_URL=trino://me@localhost:8080/iceberg python gx/run_checkpoint.py stg_orders`.
"""

import sys
from pathlib import Path

import great_expectations as gx


def run(checkpoint: str) -> bool:
    context = gx.get_context(mode="file", context_root_dir=str(Path(__file__).resolve().parent))
    result = context.checkpoints.get(checkpoint).run()
    for validation in result.run_results.values():
        statistics = validation.statistics
        print(f"{validation.suite_name}: {statistics['successful_expectations']} of "
              f"{statistics['evaluated_expectations']} expectations met")
    return result.success


if __name__ == "__main__":
    sys.exit(0 if run(sys.argv[1] if len(sys.argv) > 1 else "stg_orders") else 1)
