"""Every link of README.md and docs/*.md leads to something inside the repository.

A relative link must name a file or folder of the checkout (a `#fragment` one of its headings, as
GitHub makes their anchors), and none may climb out of it with `../`. The README links nowhere
outside the repository at all: what a user needs is stated in it or in docs/. Paths the pages
name in backticks (`components/catalog.py`) must exist too, so a moved file is noticed.
"""

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
TOP_LEVEL = {path.name for path in ROOT.iterdir() if not path.name.startswith(".")} | {".ci", ".github"}
# What the checkout does not hold but a run makes (.gitignore's folders: build/, .venv/, policy/venv/).
MADE_BY_A_RUN = tuple(
    line.strip().strip("/") + "/"
    for line in (ROOT / ".gitignore").read_text().splitlines()
    if line.strip().endswith("/")
)

_FENCE = re.compile(r"^(```|~~~)")
_INLINE_LINK = re.compile(r"!?\[(?:[^\]\\]|\\.)*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
_REFERENCE = re.compile(r"^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+.*)?$")
_CODE_SPAN = re.compile(r"`[^`]*`")
_SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")
# A repository path in backticks: a top-level folder of the checkout, then more segments.
_PATH_IN_CODE = re.compile(r"`((?:\.?[\w-]+)(?:/[\w.-]+)+/?)`")


def prose_lines(text: str) -> list[tuple[int, str]]:
    """The lines of a Markdown page outside fenced and indented code blocks, numbered from 1."""
    lines, fenced, previous_blank = [], False, True
    for number, line in enumerate(text.splitlines(), 1):
        if _FENCE.match(line.lstrip()):
            fenced = not fenced
            continue
        indented_code = previous_blank and line.startswith("    ") and not line.lstrip().startswith(("-", "*"))
        if not fenced and not indented_code:
            lines.append((number, line))
        if not (indented_code and line.strip()):
            previous_blank = not line.strip()
    return lines


def links(page: Path) -> list[tuple[int, str]]:
    """Every link target of a page, with its line: inline links and images, reference definitions."""
    found = []
    for number, line in prose_lines(page.read_text()):
        if match := _REFERENCE.match(line):
            found.append((number, match.group(1)))
            continue
        found += [(number, target) for target in _INLINE_LINK.findall(_CODE_SPAN.sub("``", line))]
    return found


def github_anchor(heading: str) -> str:
    """The anchor GitHub gives a heading: its text (code spans kept, HTML tags dropped) in lower case,
    punctuation dropped, spaces as hyphens."""
    parts = heading.strip().split("`")
    text = "".join(part if index % 2 else re.sub(r"<[^>]*>", "", part) for index, part in enumerate(parts))
    return re.sub(r"[^\w\- ]", "", text.lower()).replace(" ", "-")


def anchors(page: Path) -> set[str]:
    seen: dict[str, int] = {}
    found = set()
    for _, line in prose_lines(page.read_text()):
        if match := re.match(r"^#{1,6}\s+(.*?)\s*#*\s*$", line):
            anchor = github_anchor(match.group(1))
            count = seen.get(anchor, 0)
            seen[anchor] = count + 1
            found.add(anchor if count == 0 else f"{anchor}-{count}")
    return found


def relative_links() -> list[tuple[Path, int, str]]:
    return [
        (page, number, target)
        for page in PAGES
        for number, target in links(page)
        if not _SCHEME.match(target) and not target.startswith("//")
    ]


def _id(value: object) -> str:
    if isinstance(value, Path):
        return value.relative_to(ROOT).as_posix()
    return str(value)


def test_the_pages_are_there():
    assert ROOT / "README.md" in PAGES
    assert {"architecture.md", "configuration.md", "contributing.md", "operations.md"} <= {p.name for p in PAGES}
    assert relative_links(), "no relative link found: the parser is broken"


@pytest.mark.parametrize(("page", "line", "target"), relative_links(), ids=_id)
def test_a_relative_link_resolves_inside_the_repository(page, line, target):
    path, _, fragment = target.partition("#")
    where = f"{page.relative_to(ROOT)}:{line}: {target}"
    resolved = (page.parent / path).resolve() if path else page
    assert resolved.is_relative_to(ROOT), f"{where} leads out of the repository"
    assert resolved.exists(), f"{where}: no such file in the repository"
    if fragment and resolved.suffix == ".md":
        assert fragment in anchors(resolved), f"{where}: {resolved.name} has no heading with that anchor"


def test_the_readme_links_nowhere_outside_the_repository():
    text = (ROOT / "README.md").read_text()
    outside = [target for _, target in links(ROOT / "README.md") if _SCHEME.match(target) or target.startswith("//")]
    assert not outside, f"README.md links outside the repository: {outside}"
    assert "../" not in text, "README.md names a path outside the repository"


@pytest.mark.parametrize("page", PAGES, ids=_id)
def test_the_repository_paths_a_page_names_exist(page):
    missing = []
    for number, line in prose_lines(page.read_text()):
        for path in _PATH_IN_CODE.findall(line):
            if path.split("/")[0] not in TOP_LEVEL or f"{path.rstrip('/')}/".startswith(MADE_BY_A_RUN):
                continue
            if "..." in path:  # a placeholder: configs/<name>/...
                continue
            if not (ROOT / path).exists():
                missing.append(f"{page.relative_to(ROOT)}:{number}: {path}")
    assert not missing, "paths named in backticks that are not in the repository:\n" + "\n".join(missing)


def test_the_checks_catch_what_they_look_for(tmp_path):
    page = tmp_path / "page.md"
    page.write_text(
        "# A page\n## The object store: MinIO or SeaweedFS\n\n"
        "[in](#a-page) [store](#the-object-store-minio-or-seaweedfs) ![img](pic.png) `[not](a link)`\n"
        "[ref]: ../outside.md\n\n    [in code](nowhere.md)\n"
    )
    assert links(page) == [
        (4, "#a-page"),
        (4, "#the-object-store-minio-or-seaweedfs"),
        (4, "pic.png"),
        (5, "../outside.md"),
    ]
    assert anchors(page) == {"a-page", "the-object-store-minio-or-seaweedfs"}
    assert github_anchor("Host ports: `datalyptica:ports.<name>`") == "host-ports-datalypticaportsname"
    assert (
        github_anchor("How far each service is proven (the proof ladder)")
        == "how-far-each-service-is-proven-the-proof-ladder"
    )
