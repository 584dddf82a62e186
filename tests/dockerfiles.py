"""Reads what tests need from images/*/Dockerfile: build args and base images."""

import re
from pathlib import Path

IMAGES_DIR = Path(__file__).resolve().parent.parent / "images"


def dockerfiles() -> list[Path]:
    return sorted(IMAGES_DIR.glob("*/Dockerfile"))


def _instructions(dockerfile: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, with continuation lines joined and comments dropped."""
    text = re.sub(r"\\\n", " ", dockerfile.read_text())
    pairs = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            pairs.append((word.upper(), rest.strip()))
    return pairs


def build_args(dockerfile: Path) -> dict[str, str]:
    """Default values of the ARGs declared before the first FROM (those a FROM line may use)."""
    args = {}
    for instruction, rest in _instructions(dockerfile):
        if instruction == "FROM":
            break
        if instruction == "ARG" and "=" in rest:
            name, _, value = rest.partition("=")
            args[name.strip()] = value.strip().strip('"')
    return args


def base_images(dockerfile: Path) -> list[str]:
    """Every FROM image with its build args substituted, leaving out earlier stages by name."""
    args, stages, images = build_args(dockerfile), set(), []
    for instruction, rest in _instructions(dockerfile):
        if instruction != "FROM":
            continue
        words = [w for w in rest.split() if not w.startswith("--")]
        image = re.sub(r"\$\{(\w+)\}|\$(\w+)", lambda m: args[m.group(1) or m.group(2)], words[0])
        if len(words) >= 3 and words[1].upper() == "AS":
            stages.add(words[2])
        if image not in stages:
            images.append(image)
    return images


def image_version(name: str, arg: str) -> str:
    """The version an image is built from, e.g. image_version("airflow", "AIRFLOW_VERSION")."""
    return build_args(IMAGES_DIR / name / "Dockerfile")[arg]
