"""The stand-in images' folders and their builder's bookkeeping, without Docker (tests/live/standins.py)."""

import shutil
import threading
import time
from pathlib import Path

import pytest

from components import catalog
from tests.live import standins as builder
from tests.live.standins import BASE, STANDINS_DIR, StandinError

FOLDERS = sorted(path for path in STANDINS_DIR.iterdir() if path.is_dir())


def test_there_is_a_base_and_stand_ins_on_it():
    names = [folder.name for folder in FOLDERS]
    assert BASE in names and len(names) > 1, names


@pytest.mark.parametrize("folder", FOLDERS, ids=lambda path: path.name)
def test_every_stand_in_has_its_files_and_a_tag_that_resolves(folder):
    assert (folder / "CONTRACT.md").is_file()
    assert (folder / "Dockerfile").is_file() or folder.name == BASE
    assert (folder / "make-rootfs.sh").is_file() or folder.name != BASE
    lines = (folder / "tag").read_text().splitlines()
    assert len(lines) == 1, f"{folder.name}/tag must be one line"
    tag = builder.resolve_tag(lines[0])
    assert tag in (folder / "CONTRACT.md").read_text(), "the contract names the image it stands in for"


@pytest.mark.parametrize("folder", [f for f in FOLDERS if f.name != BASE], ids=lambda path: path.name)
def test_stand_ins_are_built_only_from_the_base_or_other_stand_ins(folder):
    standins = builder.discover()
    tags = {standin.tag for standin in standins.values()}
    first_instruction = next(
        line for line in (folder / "Dockerfile").read_text().splitlines() if line.strip() and not line.startswith("#")
    )
    assert first_instruction.split()[0] == "FROM" and first_instruction.split()[1] in tags, first_instruction
    assert standins[folder.name].parents


def test_no_two_stand_ins_share_a_tag():
    tags = [standin.tag for standin in builder.discover().values()]
    assert len(tags) == len(set(tags))


def test_the_stand_ins_are_built_base_first_and_each_after_what_it_is_from():
    order = list(builder.discover())
    assert order[0] == BASE
    for position, standin in enumerate(builder.discover().values()):
        assert all(order.index(parent) < position for parent in standin.parents), standin.name


def test_a_service_tag_is_the_catalogs_image_and_nothing_else_resolves():
    assert builder.resolve_tag("service:etcd\n") == catalog.SERVICES["etcd"].image
    assert builder.resolve_tag("service:nessie", {"nessie": "ghcr.io/projectnessie/nessie:0.99.0"}).endswith(":0.99.0")
    assert builder.resolve_tag("image:postgres:15-bookworm") == "postgres:15-bookworm"
    for bad in (
        "service:no-such-service",
        "service:patroni",
        "image:postgres",
        "image:localhost:5000/x",
        "postgres:15-bookworm",
    ):
        with pytest.raises(StandinError):
            builder.resolve_tag(bad)


def make_tree(root: Path, standins: dict[str, tuple[str, str | None]]) -> Path:
    """standins: name -> (tag line, the image its Dockerfile is FROM, None for the base)."""
    for name, (tag, parent) in standins.items():
        folder = root / name
        folder.mkdir(parents=True)
        (folder / "tag").write_text(tag + "\n")
        (folder / "CONTRACT.md").write_text(f"# {name}\n")
        if parent is None:
            (folder / "make-rootfs.sh").write_text("debootstrap\n")
        else:
            (folder / "Dockerfile").write_text(f"FROM {parent} AS build\nRUN true\nFROM {parent}\n")
    return root


@pytest.fixture
def tree(tmp_path):
    return make_tree(
        tmp_path / "standins",
        {
            "early": ("image:early:1", "middle:2"),  # before middle by name, after it by FROM
            "middle": ("image:middle:2", "base:1"),
            "alpha": ("image:alpha:3", "base:1"),
            BASE: ("image:base:1", None),
        },
    )


def test_dependency_order_follows_from_lines_not_names(tree):
    standins = builder.discover(tree)
    order = list(standins)
    assert order[0] == BASE
    assert order.index("middle") < order.index("early")
    assert standins["early"].parents == ("middle",)


def test_naming_a_stand_in_builds_what_it_is_from_too(tree):
    standins = builder.discover(tree)
    assert list(builder.with_parents(standins, ["early"])) == [BASE, "middle", "early"]
    assert list(builder.with_parents(standins, ["alpha"])) == [BASE, "alpha"]
    with pytest.raises(StandinError, match="no stand-in 'nope'"):
        builder.with_parents(standins, ["nope"])


def fake_builds(seconds: float = 0.05, failing: str | None = None):
    """A build function that only records when each stand-in started and ended."""
    events: list[tuple[str, str]] = []
    lock = threading.Lock()

    def build(name: str) -> builder.StandinBuild:
        with lock:
            events.append(("start", name))
        time.sleep(seconds)
        with lock:
            events.append(("end", name))
        if name == failing:
            raise StandinError(f"{name} failed")
        return builder.StandinBuild(name, name, seconds, cached=False)

    return build, events


def test_stand_ins_build_in_parallel_each_after_what_it_is_from(tree):
    standins = builder.discover(tree)
    build, events = fake_builds()
    heard: list[str] = []

    builds = builder.build_in_order(standins, build, on_build=lambda b: heard.append(b.name), parallel=3)

    assert [b.name for b in builds] == list(standins)  # the order of the standins given
    assert sorted(heard) == sorted(standins)
    position = {event: index for index, event in enumerate(events)}
    for name, standin in standins.items():
        for parent in standin.parents:
            assert position[("end", parent)] < position[("start", name)], (parent, name)
    # middle and alpha are both only FROM the base: they run at the same time
    assert position[("start", "alpha")] < position[("end", "middle")]
    assert position[("start", "middle")] < position[("end", "alpha")]


def test_at_most_parallel_builds_run_at_once(tree):
    build, events = fake_builds()
    builder.build_in_order(builder.discover(tree), build, parallel=1)
    assert [kind for kind, _ in events] == ["start", "end"] * 4


def test_a_failed_build_stops_what_is_built_on_it(tree):
    build, events = fake_builds(failing="middle")
    with pytest.raises(StandinError, match="middle failed"):
        builder.build_in_order(builder.discover(tree), build, parallel=3)
    assert ("start", "early") not in events  # early is FROM middle
    assert ("end", "alpha") in events  # already running: it finishes


def test_a_from_line_naming_no_stand_in_is_refused(tmp_path):
    root = make_tree(tmp_path / "standins", {BASE: ("image:base:1", None), "odd": ("image:odd:1", "debian:bookworm")})
    with pytest.raises(StandinError, match="odd: FROM debian:bookworm is neither"):
        builder.discover(root)


def test_from_lines_in_a_circle_are_refused(tmp_path):
    root = make_tree(
        tmp_path / "standins",
        {
            BASE: ("image:base:1", None),
            "one": ("image:one:1", "two:1"),
            "two": ("image:two:1", "one:1"),
        },
    )
    with pytest.raises(StandinError, match="circle"):
        builder.discover(root)


def hashes(tree: Path, ca_dir: Path) -> dict[str, str]:
    return builder.input_hashes(builder.discover(tree), host_ca_dir=ca_dir)


def test_the_hash_changes_with_an_input_and_for_what_is_built_on_it_only(tree, tmp_path):
    ca_dir = tmp_path / "ca"
    ca_dir.mkdir()
    before = hashes(tree, ca_dir)
    assert before == hashes(tree, ca_dir), "the same inputs hash the same"
    assert len(set(before.values())) == len(before)

    (tree / "middle" / "Dockerfile").write_text((tree / "middle" / "Dockerfile").read_text() + "RUN echo\n")
    after = hashes(tree, ca_dir)
    assert {name for name in before if before[name] != after[name]} == {"middle", "early"}


@pytest.mark.parametrize("change", ["new file", "contract", "tag", "executable bit"])
def test_every_file_of_a_folder_is_an_input(tree, tmp_path, change):
    ca_dir = tmp_path / "ca"
    ca_dir.mkdir()
    before = hashes(tree, ca_dir)
    alpha = tree / "alpha"
    if change == "new file":
        (alpha / "entrypoint.sh").write_text('exec "$@"\n')
    elif change == "contract":
        (alpha / "CONTRACT.md").write_text("# alpha, reworded\n")
    elif change == "tag":
        (alpha / "tag").write_text("image:alpha:4\n")
    else:
        (alpha / "tag").chmod(0o755)
    after = hashes(tree, ca_dir)
    assert {name for name in before if before[name] != after[name]} == {"alpha"}


def test_the_hosts_ca_certificates_are_inputs_of_the_base(tree, tmp_path):
    ca_dir = tmp_path / "ca"
    ca_dir.mkdir()
    before = hashes(tree, ca_dir)
    (ca_dir / "egress.crt").write_text("-----BEGIN CERTIFICATE-----\n")
    (ca_dir / "notes.txt").write_text("not a certificate\n")
    after = hashes(tree, ca_dir)
    assert all(before[name] != after[name] for name in before)
    (ca_dir / "notes.txt").write_text("still not a certificate\n")
    assert hashes(tree, ca_dir) == after


def test_the_real_folders_hash_to_the_same_wherever_they_are_copied(tmp_path):
    copy = tmp_path / "standins"
    shutil.copytree(STANDINS_DIR, copy)
    ca_dir = tmp_path / "ca"
    ca_dir.mkdir()
    assert hashes(copy, ca_dir) == hashes(STANDINS_DIR, ca_dir)


def test_a_stand_in_is_built_from_the_by_hash_tag_of_what_it_is_from():
    by_hash = {"datalyptica-standin/debian:bookworm": builder.by_hash_tag(BASE, "ab" * 32)}
    dockerfile = (
        "# FROM datalyptica-standin/debian:bookworm in a comment stays\n"
        "FROM datalyptica-standin/debian:bookworm AS build\nRUN make\n"
        "from --platform=linux/amd64 datalyptica-standin/debian:bookworm\nCOPY --from=build /out /\n"
    )
    pinned = builder.pinned_dockerfile(dockerfile, by_hash).splitlines()
    assert pinned[0] == "# FROM datalyptica-standin/debian:bookworm in a comment stays"
    assert pinned[1] == f"FROM datalyptica-standin/by-hash:base-{'ab' * 16} AS build"
    assert pinned[3] == f"from --platform=linux/amd64 datalyptica-standin/by-hash:base-{'ab' * 16}"
    assert pinned[2] == "RUN make" and pinned[4] == "COPY --from=build /out /"


def test_by_hash_tags_are_valid_docker_tags_and_differ_by_hash():
    first, second = builder.by_hash_tag("postgres", "0" * 64), builder.by_hash_tag("postgres", "1" * 64)
    assert first != second
    tag = first.rpartition(":")[2]
    assert len(tag) <= 128 and all(ch.isalnum() or ch in "_.-" for ch in tag)


def test_of_the_stand_ins_ready_the_slowest_start_first(tree, monkeypatch):
    standins = builder.discover(tree)
    assert list(standins).index("alpha") < list(standins).index("middle")  # by name
    monkeypatch.setattr(builder, "SLOWEST_FIRST", ("middle",))
    build, events = fake_builds()
    builder.build_in_order(standins, build, parallel=1)
    started = [name for kind, name in events if kind == "start"]
    assert started.index("middle") < started.index("alpha")  # both ready once the base is built
