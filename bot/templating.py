"""User-facing text: Jinja2 templates under templates/, compiled once per process.

templates/ holds the Chinese text; templates/en/ holds English siblings under the same names
(templates/en/menu/menu.j2 beside templates/menu/menu.j2), given the same context. The renderer
is the one place that picks between them: the turn's language (dialogs.language, set before the
turn from the person's profile and what they wrote) asks for English, and a template without an
English sibling is rendered in Chinese. Nothing else (dialogs, services, workers) chooses.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, Template

from dialogs.language import ENGLISH, LANGUAGE

TEMPLATES_DIR = Path(__file__).resolve().parent.parent / "templates"
#: The folder of templates/ that holds the English siblings.
ENGLISH_DIR = "en"


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
    """Renders a template by name, in the turn's language: its English sibling for a person
    answered in English when it has one, else the Chinese template."""

    def __init__(self, directory: Path = TEMPLATES_DIR):
        every = compiled(directory)
        prefix = ENGLISH_DIR + "/"
        #: The Chinese templates, by name (menu/menu.j2).
        self.templates = {name: t for name, t in every.items() if not name.startswith(prefix)}
        #: The English siblings, by the name of their Chinese template.
        self.english = {name[len(prefix):]: t for name, t in every.items() if name.startswith(prefix)}

    def __call__(self, name: str, **context: Any) -> str:
        template = self.english.get(name) if LANGUAGE.get().code == ENGLISH else None
        return (template or self.templates[name]).render(**context).strip()
