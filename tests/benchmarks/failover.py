"""Crash the PostgreSQL leader under concurrent writes and print what it cost.

Runs the integration test's scenario (tests/integration/pgcluster.py) on 127.0.0.1 without
its assertions: failover seconds, rows acknowledged, rows lost. Needs what
.ci/install.d/20-pgha.sh installs, and root (PostgreSQL runs as the postgres user).

    python -m tests.benchmarks.failover [--runs N] [--writers N]
"""

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the repository root

from tests.integration.pgcluster import PgHaCluster, find_tools, run_crash_failover

TARGET_FAILOVER_SECONDS = 20


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1, help="fresh clusters to crash, one after another")
    parser.add_argument("--writers", type=int, default=4, help="concurrent writers through HAProxy")
    args = parser.parse_args()

    tools, missing = find_tools()
    if tools is None:
        print("cannot run: " + "; ".join(missing), file=sys.stderr)
        return 2

    failovers = []
    lost_total = 0
    for run in range(1, args.runs + 1):
        started = time.monotonic()
        with PgHaCluster(tools) as cluster:
            try:
                cluster.start()
                report = run_crash_failover(cluster, writers=args.writers)
            except Exception:
                print(cluster.log_tails(), file=sys.stderr)
                raise
        failovers.append(report.failover_seconds)
        lost_total += report.rows_lost
        print(
            f"run {run}: failover {report.failover_seconds:.1f} s ({report.old_leader} -> {report.new_leader}), "
            f"rows acknowledged {report.rows_acknowledged}, rows lost {report.rows_lost}, "
            f"writer errors {report.writer_errors}, rejoined as replica {report.rejoined_as_replica}, "
            f"rows missing on replica port {report.replica_port_rows_missing}, "
            f"whole run {time.monotonic() - started:.1f} s",
            flush=True,
        )

    print(
        f"failover seconds: min {min(failovers):.1f}, median {statistics.median(failovers):.1f}, "
        f"max {max(failovers):.1f} (target {TARGET_FAILOVER_SECONDS} s); rows lost in all runs: {lost_total}"
    )
    return 0 if lost_total == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
