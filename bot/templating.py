"""User-facing text: Jinja2 templates under templates/, compiled once at start-up."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, Template

TEMPLATES_DIR = Path(__file__).resolve().parent.parent / "templates"


class Renderer:
    """Renders a template by name; every template is loaded and compiled in the constructor."""

    def __init__(self, directory: Path = TEMPLATES_DIR):
        self.env = Environment(
            loader=FileSystemLoader(directory),
            autoescape=False,  # plain text for chat; XML escaping happens in the channel
            undefined=StrictUndefined,
            keep_trailing_newline=False,
            auto_reload=False,
        )
        self.templates: dict[str, Template] = {name: self.env.get_template(name) for name in self.env.list_templates(extensions=["j2"])}

    def __call__(self, name: str, **context: Any) -> str:
        return self.templates[name].render(**context).strip()
