"""User-facing text: Jinja2 templates under templates/, compiled once per process."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, Template

TEMPLATES_DIR = Path(__file__).resolve().parent.parent / "templates"


@functools.cache
def compiled(directory: Path = TEMPLATES_DIR) -> dict[str, Template]:
    """Every template under `directory`, compiled: once per process, whatever number of apps it
    builds (templates do not change while it runs; a deploy restarts it)."""
    env = Environment(
        loader=FileSystemLoader(directory),
        autoescape=False,  # plain text for chat; XML escaping happens in the channel
        undefined=StrictUndefined,
        keep_trailing_newline=False,
        auto_reload=False,
    )
    return {name: env.get_template(name) for name in env.list_templates(extensions=["j2"])}


class Renderer:
    """Renders a template by name."""

    def __init__(self, directory: Path = TEMPLATES_DIR):
        self.templates = compiled(directory)

    def __call__(self, name: str, **context: Any) -> str:
        return self.templates[name].render(**context).strip()
