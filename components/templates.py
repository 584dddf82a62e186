"""Renders the files under configs/ with Jinja2, and reads those that need no rendering.

A template that names a value it was not given fails at once (StrictUndefined), so a
missing setting can never reach a service as an empty string.
"""

from pathlib import Path
from typing import Any

import jinja2
import pulumi

CONFIGS_DIR = Path(__file__).resolve().parent.parent / "configs"

_environment = jinja2.Environment(
    loader=jinja2.FileSystemLoader(CONFIGS_DIR),
    undefined=jinja2.StrictUndefined,
    keep_trailing_newline=True,
    trim_blocks=True,
    lstrip_blocks=True,
    autoescape=False,
)


def render(template: str, **context: Any) -> str:
    """Render `configs/<template>` with plain values."""
    return _environment.get_template(template).render(**context)


def render_output(template: str, **context: pulumi.Input[Any]) -> pulumi.Output[str]:
    """Render `configs/<template>` once every Output in the context is known.

    The result is secret as soon as one input is (Output.all carries secrecy through), so a
    rendered file holding a password stays encrypted in state and masked in previews.
    """
    return pulumi.Output.all(**context).apply(lambda values: render(template, **values))


def static_config(path: str) -> str:
    """A file under configs/ that needs no rendering (a script, or a file with Go templates of its own)."""
    return (CONFIGS_DIR / path).read_text()
