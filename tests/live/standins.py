"""Builds the stand-in images under tests/live/standins/, each tagged with the upstream name it replaces.

Each folder is one stand-in: a Dockerfile, a CONTRACT.md (what the program relies on from the
upstream image, and where that was read), and a `tag` file of one line, `service:<catalog service>`
(the stand-in takes the image the e2e stack runs for that service: the catalog's default unless
Pulumi.e2e.yaml names another) or `image:<name:tag>`.
The folder `base` has no Dockerfile: its make-rootfs.sh debootstraps Debian, imported as the
image every other stand-in is FROM.

A stand-in is built again only when its inputs change: the files of its folder, its tag, and the
inputs of the stand-ins it is FROM, hashed into the image label `datalyptica.standin.hash`.

Each stand-in is also tagged `datalyptica-standin/by-hash:<name>-<hash>`, and a stand-in is built
FROM that tag of its parents (the builder rewrites its FROM lines): dockerd's BuildKit remembers
which image a tag named the first time it resolved it and keeps building on that one after the
tag moves, until the daemon restarts. A tag per input hash never moves.

    python -m tests.live.standins [names...]     (DOCKER_HOST picks the Docker Engine)
    python -m tests.live.standins --ahead        (all, on the tests' own Docker Engine: make tools)
"""

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from components import catalog
from tests.dockerfiles import base_images

if TYPE_CHECKING:
    from tests.live.dockerd import TestDaemon

STANDINS_DIR = Path(__file__).resolve().parent / "standins"
STACK = "e2e"  # the stack whose images the stand-ins stand in for
BASE = "base"
HASH_LABEL = "datalyptica.standin.hash"
BY_HASH_REPOSITORY = "datalyptica-standin/by-hash"
DOCKER = "/usr/bin/docker"  # the 20.10 client: BuildKit through DOCKER_BUILDKIT=1
# CA certificates the base trusts besides Debian's (this machine's egress CA), so TLS works in builds.
HOST_CA_DIR = Path("/usr/local/share/ca-certificates")
BASE_ENV = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
LOG_TAIL_LINES = 40
# Most stand-ins wait on downloads (Debian, PyPI, Maven Central, Go modules) more than on the 2
# cores, so three build at once, each as soon as what it is FROM is built.
PARALLEL_BUILDS = 3
# The stand-ins that compile (SeaweedFS and etcd from Go modules) or install most, slowest first as
# measured from nothing on 2 cores (2026-12-07: 1,110, 334, 255 and 98 s), and trixie and java21,
# which most of the JVM stand-ins are FROM: each starts as soon as it can, so the builds that mostly
# download fill the other slots instead of keeping them waiting at the end.
SLOWEST_FIRST = ("seaweedfs", "etcd", "trixie", "java21", "pyspark-notebook", "jupyterhub")


class StandinError(RuntimeError):
    pass


@dataclass(frozen=True)
class Standin:
    name: str
    folder: Path
    tag: str
    parents: tuple[str, ...]  # the stand-ins its FROM lines name


@dataclass(frozen=True)
class StandinBuild:
    name: str
    tag: str
    seconds: float
    cached: bool


def stack_images(stack: str = STACK) -> dict[str, str]:
    """Service -> the image the stack runs: the catalog's default unless the stack file sets one.

    A stand-in whose software must differ from the pinned release (Nessie: Maven Central serves
    0.99.0, not the catalog's 0.108.4) is of the image the e2e stack names, never a relabelled one."""
    from harness.offline import settings_of

    settings = settings_of(stack)
    return {name: settings.service(name).image for name in catalog.SERVICES}


def resolve_tag(line: str, images: Mapping[str, str] | None = None) -> str:
    """The image name a `tag` file's line stands for (service images: the e2e stack's)."""
    kind, _, value = line.strip().partition(":")
    if kind == "service":
        images = stack_images() if images is None else images
        if value not in images:
            raise StandinError(f"tag {line.strip()!r}: no service {value!r} in components/catalog.py")
        image = images[value]
        if image.startswith("build:"):
            raise StandinError(
                f"tag {line.strip()!r}: the catalog builds {value!r} from images/, nothing to stand in for"
            )
        return image
    if kind == "image":
        name, _, tag = value.rpartition(":")
        if not name or not tag or "/" in tag:
            raise StandinError(f"tag {line.strip()!r}: an image needs an explicit tag (name:tag)")
        return value
    raise StandinError(f"tag {line.strip()!r}: expected 'service:<catalog service>' or 'image:<name:tag>'")


def read_tag(folder: Path) -> str:
    tag_file = folder / "tag"
    if not tag_file.is_file():
        raise StandinError(f"stand-in {folder.name}: no tag file")
    return resolve_tag(tag_file.read_text())


def discover(root: Path = STANDINS_DIR) -> dict[str, Standin]:
    """Every stand-in under root, in build order: base first, each after what it is FROM."""
    folders = sorted(path for path in root.iterdir() if path.is_dir())
    tags = {folder.name: read_tag(folder) for folder in folders}
    names_by_tag = {tag: name for name, tag in tags.items()}
    standins = {}
    for folder in folders:
        parents = () if folder.name == BASE else _parents(folder, names_by_tag)
        standins[folder.name] = Standin(folder.name, folder, tags[folder.name], parents)
    return _in_build_order(standins)


def _parents(folder: Path, names_by_tag: Mapping[str, str]) -> tuple[str, ...]:
    dockerfile = folder / "Dockerfile"
    if not dockerfile.is_file():
        raise StandinError(f"stand-in {folder.name}: no Dockerfile")
    parents = []
    for image in base_images(dockerfile):
        if image not in names_by_tag:
            raise StandinError(f"stand-in {folder.name}: FROM {image} is neither the base nor another stand-in")
        if names_by_tag[image] not in parents:
            parents.append(names_by_tag[image])
    if not parents:
        raise StandinError(f"stand-in {folder.name}: its Dockerfile has no FROM")
    return tuple(parents)


def _in_build_order(standins: Mapping[str, Standin]) -> dict[str, Standin]:
    ordered: dict[str, Standin] = {}
    visiting: set[str] = set()

    def visit(name: str) -> None:
        if name in ordered:
            return
        if name in visiting:
            raise StandinError(f"stand-in {name}: its FROM lines go round in a circle")
        visiting.add(name)
        for parent in standins[name].parents:
            visit(parent)
        ordered[name] = standins[name]

    if BASE in standins:
        visit(BASE)
    for name in standins:
        visit(name)
    return ordered


def with_parents(standins: Mapping[str, Standin], names: Iterable[str]) -> dict[str, Standin]:
    """The named stand-ins and everything they are built on, in build order."""
    wanted: set[str] = set()

    def add(name: str) -> None:
        if name not in standins:
            raise StandinError(f"no stand-in {name!r} (there are: {', '.join(standins)})")
        if name not in wanted:
            wanted.add(name)
            for parent in standins[name].parents:
                add(parent)

    for name in names:
        add(name)
    return {name: standin for name, standin in standins.items() if name in wanted}


def _hash_files(digest: "hashlib._Hash", root: Path, files: Iterable[Path]) -> None:
    for path in sorted(files):
        relative = path.relative_to(root).as_posix().encode()
        content = path.read_bytes()
        digest.update(b"file %d:%s %d:" % (len(relative), relative, len(content)))
        digest.update(content)
        digest.update(b"mode %o\n" % (path.stat().st_mode & 0o111))  # make-rootfs.sh runs by its x bit


def input_hash(standin: Standin, parent_hashes: Mapping[str, str], host_ca_dir: Path = HOST_CA_DIR) -> str:
    """What the stand-in's image is made of: its folder's files, its tag, the hashes of what it is FROM."""
    digest = hashlib.sha256()
    digest.update(b"tag %s\n" % standin.tag.encode())
    _hash_files(digest, standin.folder, (p for p in standin.folder.rglob("*") if p.is_file()))
    for parent in sorted(standin.parents):
        digest.update(b"from %s %s\n" % (parent.encode(), parent_hashes[parent].encode()))
    if standin.name == BASE and host_ca_dir.is_dir():
        _hash_files(digest, host_ca_dir, host_ca_dir.glob("*.crt"))
    return digest.hexdigest()


def input_hashes(standins: Mapping[str, Standin], host_ca_dir: Path = HOST_CA_DIR) -> dict[str, str]:
    """Hashes of stand-ins given in build order (parents first)."""
    hashes: dict[str, str] = {}
    for name, standin in standins.items():
        hashes[name] = input_hash(standin, hashes, host_ca_dir)
    return hashes


def by_hash_tag(name: str, input_hash: str) -> str:
    return f"{BY_HASH_REPOSITORY}:{name}-{input_hash[:32]}"


def pinned_dockerfile(text: str, by_hash: Mapping[str, str]) -> str:
    """The Dockerfile with each FROM of a stand-in's tag turned to its by-hash tag (by_hash: tag -> tag)."""

    def pin(match: re.Match) -> str:
        image = match.group("image")
        return match.group("head") + by_hash.get(image, image)

    return re.sub(r"^(?P<head>\s*FROM\s+(?:--\S+\s+)*)(?P<image>\S+)", pin, text, flags=re.MULTILINE | re.IGNORECASE)


class Docker:
    def __init__(self, docker_host: str | None = None):
        self.env = dict(os.environ, DOCKER_BUILDKIT="1")
        host = docker_host or os.environ.get("DOCKER_HOST")
        if host:
            self.env["DOCKER_HOST"] = host

    def run(self, *args: str, **kwargs) -> subprocess.CompletedProcess:
        return subprocess.run([DOCKER, *args], env=self.env, capture_output=True, text=True, **kwargs)

    def label(self, image: str, label: str) -> str | None:
        """The image's label, "" if it has none, None if there is no such image."""
        result = self.run("image", "inspect", "--format", f'{{{{ index .Config.Labels "{label}" }}}}', image)
        if result.returncode != 0:
            return None
        value = result.stdout.strip()
        return "" if value == "<no value>" else value

    def layers(self, image: str) -> list[str]:
        result = self.run("image", "inspect", "--format", "{{json .RootFS.Layers}}", image)
        return json.loads(result.stdout) if result.returncode == 0 else []


def build_standins(
    only: Iterable[str] | None = None,
    *,
    docker_host: str | None = None,
    root: Path = STANDINS_DIR,
    on_build: Callable[[StandinBuild], None] | None = None,
) -> list[StandinBuild]:
    """Builds the stand-ins (all, or those named and what they are FROM) whose inputs changed.

    on_build hears of each stand-in as soon as it is done (a fresh build takes minutes).
    """
    standins = discover(root)
    hashes = input_hashes(standins)
    if only is not None:
        standins = with_parents(standins, only)
    docker = Docker(docker_host)
    by_hash = {standin.tag: by_hash_tag(name, hashes[name]) for name, standin in standins.items()}
    tags = {name: standin.tag for name, standin in standins.items()}

    def build(name: str) -> StandinBuild:
        return _build_one(docker, standins[name], hashes[name], by_hash, tags)

    return build_in_order(standins, build, on_build)


def build_in_order(
    standins: Mapping[str, Standin],
    build: Callable[[str], StandinBuild],
    on_build: Callable[[StandinBuild], None] | None = None,
    parallel: int = PARALLEL_BUILDS,
) -> list[StandinBuild]:
    """Each stand-in once every stand-in it is FROM is built, `parallel` at a time: of those ready,
    the ones of SLOWEST_FIRST first, then in `standins`' order.

    The first failure stops new builds; the ones running finish, then it is raised."""
    built: dict[str, StandinBuild] = {}
    waiting = dict(standins)
    with ThreadPoolExecutor(parallel) as pool:
        running: dict[Future[StandinBuild], str] = {}
        while waiting or running:
            ready = [name for name, standin in waiting.items() if set(standin.parents) <= built.keys()]
            for name in sorted(ready, key=_slowness_rank):
                del waiting[name]
                running[pool.submit(build, name)] = name
            finished, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in finished:
                done = built[running.pop(future)] = future.result()
                if on_build is not None:
                    on_build(done)
    return [built[name] for name in standins]


def _slowness_rank(name: str) -> int:
    return SLOWEST_FIRST.index(name) if name in SLOWEST_FIRST else len(SLOWEST_FIRST)


def build_for(daemon: "TestDaemon", on_build: Callable[[StandinBuild], None] | None = None) -> list[StandinBuild]:
    """Every stand-in on the tests' own daemon, which restarts after anything was rebuilt:
    dockerd's BuildKit keeps building FROM the image a tag first named until the daemon
    restarts, and images/* must build on the stand-ins just made."""
    builds = build_standins(docker_host=daemon.host, on_build=on_build)
    if any(not build.cached for build in builds):
        daemon.restart()
    return builds


def _build_one(
    docker: Docker, standin: Standin, wanted_hash: str, by_hash: Mapping[str, str], tags: Mapping[str, str]
) -> StandinBuild:
    start = time.monotonic()
    cached = docker.label(standin.tag, HASH_LABEL) == wanted_hash and _on_its_parent(docker, standin, tags)
    if not cached:
        if standin.name == BASE:
            _import_base(docker, standin, wanted_hash)
        else:
            _docker_build(docker, standin, wanted_hash, by_hash)
            if not _on_its_parent(docker, standin, tags):
                raise StandinError(
                    f"stand-in {standin.name} ({standin.tag}): built, but not on the current "
                    f"image of {' or '.join(standin.parents)}"
                )
    tagged = docker.run("tag", standin.tag, by_hash[standin.tag])
    if tagged.returncode != 0:
        raise StandinError(_failure(standin, "docker tag", tagged.stderr))
    _untag_older_builds(docker, standin.name, by_hash[standin.tag])
    return StandinBuild(standin.name, standin.tag, time.monotonic() - start, cached)


def _untag_older_builds(docker: Docker, name: str, current: str) -> None:
    """Drops the by-hash tags of the stand-in's earlier inputs, so their images can go (untagging only)."""
    listed = docker.run("image", "ls", "--format", "{{.Repository}}:{{.Tag}}", BY_HASH_REPOSITORY)
    for tag in listed.stdout.split():
        if tag.startswith(f"{BY_HASH_REPOSITORY}:{name}-") and tag != current:
            docker.run("image", "rm", "--no-prune", tag)


def _on_its_parent(docker: Docker, standin: Standin, tags: Mapping[str, str]) -> bool:
    """Whether the image's layers start with those of a stand-in it is FROM (tags: name -> tag), as tagged now."""
    if standin.name == BASE:
        return True
    layers = docker.layers(standin.tag)
    parents = [docker.layers(tags[name]) for name in standin.parents]
    return any(parent and layers[: len(parent)] == parent for parent in parents)


def _docker_build(docker: Docker, standin: Standin, wanted_hash: str, by_hash: Mapping[str, str]) -> None:
    with tempfile.TemporaryDirectory() as scratch, tempfile.TemporaryFile("w+") as log:
        dockerfile = Path(scratch, "Dockerfile")
        dockerfile.write_text(pinned_dockerfile((standin.folder / "Dockerfile").read_text(), by_hash))
        result = subprocess.run(
            [
                DOCKER,
                "build",
                "--network",
                "host",
                "--progress",
                "plain",
                "--file",
                str(dockerfile),
                "--label",
                f"{HASH_LABEL}={wanted_hash}",
                "--tag",
                standin.tag,
                str(standin.folder),
            ],
            env=docker.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            text=True,
        )
        if result.returncode != 0:
            log.seek(0)
            raise StandinError(_failure(standin, "docker build", log.read()))


def _import_base(docker: Docker, standin: Standin, wanted_hash: str) -> None:
    """debootstrap into a scratch directory, then `docker import` it (labelled, with Debian's PATH and CMD)."""
    script = standin.folder / "make-rootfs.sh"
    rootfs = Path(tempfile.mkdtemp(prefix="datalyptica-standin-rootfs-"))
    try:
        made = subprocess.run(["bash", str(script), str(rootfs), str(HOST_CA_DIR)], capture_output=True, text=True)
        if made.returncode != 0:
            raise StandinError(_failure(standin, script.name, made.stdout + made.stderr))
        tar = subprocess.Popen(["tar", "--numeric-owner", "-C", str(rootfs), "-c", "."], stdout=subprocess.PIPE)
        imported = docker.run(
            "import",
            "--change",
            f"ENV {BASE_ENV}",
            "--change",
            'CMD ["bash"]',
            "--change",
            f"LABEL {HASH_LABEL}={wanted_hash}",
            "-",
            standin.tag,
            stdin=tar.stdout,
        )
        tar.stdout.close()
        if tar.wait() != 0 or imported.returncode != 0:
            raise StandinError(_failure(standin, "tar | docker import", imported.stdout + imported.stderr))
    finally:
        shutil.rmtree(rootfs, ignore_errors=True)


def _failure(standin: Standin, step: str, log: str) -> str:
    tail = "\n".join(log.splitlines()[-LOG_TAIL_LINES:])
    return f"stand-in {standin.name} ({standin.tag}): {step} failed; the last lines of its log:\n{tail}"


def _print_build(build: StandinBuild) -> None:
    print(
        f"{build.name:<12} {build.tag:<45} {build.seconds:7.1f} s  {'cached' if build.cached else 'built'}", flush=True
    )


def build_ahead() -> None:
    """`make tools`: every stand-in built on the tests' own daemon (build_for) while the engine
    compiles beside it; a daemon started here is stopped again, and the tests start it afresh.
    Where no daemon can start, says so and leaves it to the live tests, which skip or fail."""
    from tests.live.dockerd import DaemonUnavailable, TestDaemon

    daemon = TestDaemon()
    try:
        started = daemon.start()
    except DaemonUnavailable as reason:
        print(f"== stand-ins not built ahead: {reason}")
        return
    print("== stand-ins, on the tests' own Docker Engine", flush=True)
    try:
        build_for(daemon, on_build=_print_build)
    finally:
        if started:
            daemon.stop()


def main(argv: list[str]) -> int:
    try:
        if argv == ["--ahead"]:
            build_ahead()
        else:
            build_standins(argv or None, on_build=_print_build)
    except StandinError as error:
        print(error, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
