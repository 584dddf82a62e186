"""Does a new version of the program change what a deployed stack holds? The check a refactoring
must pass: deploy Pulumi.<stack>.yaml with the program at REV (a git worktree of it), then
`pulumi preview` this checkout against that state, and list every resource it would create,
delete or replace. Exit status 0 when there is none.

With `--apply`, a deliberate change is then applied as a user would upgrade: `pulumi up` of this
checkout while writers insert rows through HAProxy's primary port; it reports how long the
writes stopped and whether any acknowledged row was lost (exit status 1 if one was).

    .venv/bin/python -m tests.live.upgrade f49bd2e [--stack e2e] [--keep] [--apply]

It runs on the tests' own Docker Engine (started if it is not running, stopped after) with the
stand-in images, the real CLI and providers (`make tools`); the stack is destroyed afterwards
unless `--keep`.
"""

from __future__ import annotations

import argparse
import itertools
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from harness.offline import ROOT
from tests.integration.pgcluster import acknowledged_rows, empty_writes_table, rows_on_primary, writers_running
from tests.live.deploy import LiveDeployment, workspace
from tests.live.dockerd import TestDaemon
from tests.live.pgcluster import DockerPgCluster
from tests.live.stack import daemon_api
from tests.live.standins import build_for

CHANGES_IDENTITY = {"create", "delete", "replace", "create-replacement", "delete-replaced", "discard"}


@contextmanager
def checkout(rev: str) -> Iterator[Path]:
    """The program at `rev` in a git worktree of its own, with this checkout's venv."""
    with tempfile.TemporaryDirectory(prefix="datalyptica-upgrade-") as parent:
        folder = Path(parent) / "program"
        subprocess.run(["git", "worktree", "add", "--detach", str(folder), rev], cwd=ROOT, check=True)
        try:
            (folder / ".venv").symlink_to(ROOT / ".venv")
            yield folder
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(folder)], cwd=ROOT, check=False)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("rev", help="the program as it was: a commit, tag or branch")
    parser.add_argument("--stack", default="e2e")
    parser.add_argument("--keep", action="store_true", help="leave the stack and the daemon running")
    parser.add_argument("--apply", action="store_true", help="then `pulumi up` this checkout under writes")
    args = parser.parse_args(argv)

    daemon = TestDaemon()
    started = daemon.start()
    space = None
    try:
        build_for(daemon)
        with checkout(args.rev) as old:
            space = workspace(args.stack, daemon, source=old, folder=f"{args.stack}-upgrade")
            start = time.monotonic()
            up = space.up()
            print(f"deployed {args.rev} in {time.monotonic() - start:.1f} s: {up.changes()}")
            space.mirror(ROOT)
            preview = space.preview()
        steps = [step for step in preview.steps() if step["op"] != "same"]
        ops = Counter(step["op"] for step in steps)
        print(f"preview of this checkout: {preview.changes()} in {preview.seconds:.1f} s")
        for step in steps:
            print(f"  {step['op']:>20}  {step['urn']}")
        bad = [step for step in steps if step["op"] in CHANGES_IDENTITY]
        print("no resource would be created, deleted or replaced" if not bad else f"{len(bad)} would: {dict(ops)}")
        if args.apply:
            return apply_under_writes(LiveDeployment(space, space.deployment(), up), daemon)
        return 1 if bad else 0
    finally:
        if space is not None and not args.keep:
            space.destroy(check=False)
        if started and not args.keep:
            daemon.stop()


def apply_under_writes(live: LiveDeployment, daemon: TestDaemon, writers: int = 2) -> int:
    """`pulumi up` of this checkout while `writers` insert rows through HAProxy's primary port:
    the longest pause between acknowledged rows, and the acknowledged rows missing afterwards."""
    cluster = DockerPgCluster.of(live, daemon_api(daemon))
    empty_writes_table(cluster)
    with writers_running(cluster, writers, time.monotonic() + 3600) as pool:
        run = live.workspace.up()
        time.sleep(5)  # writes after the last change, so the pause it caused is measured to its end
    acknowledged = acknowledged_rows(pool)
    cluster.wait_for_leader(timeout=60)
    present = rows_on_primary(cluster)
    stamps = sorted(stamp for w in pool for stamp in w.acknowledged_at)
    pause = max((later - earlier for earlier, later in itertools.pairwise(stamps)), default=0.0)
    lost = acknowledged - present
    print(
        f"pulumi up of this checkout: {run.changes()} in {run.seconds:.1f} s; rows acknowledged "
        f"{len(acknowledged)}, lost {len(lost)}, failed attempts {sum(w.errors for w in pool)}, "
        f"longest pause between acknowledged rows {pause:.1f} s"
    )
    return 1 if lost else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
