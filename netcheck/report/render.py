"""Templates → text: Jinja2 over ``templates/``, autoescaped for HTML, plain for Markdown.

In: a template name and the report object. Out: the document as a string. The HTML templates
carry their CSS inline and load nothing; charts arrive as SVG strings already escaped by
``charts`` and are inserted with ``|safe``. Markdown templates use the ``md`` filter, which
escapes the characters that would break a table cell or start markup.
"""

from __future__ import annotations

import functools
import re

import jinja2

_MD_SPECIAL = re.compile(r"([\\`*_|<>\[\]])")


def md(value: object) -> str:
    """Text safe inside a Markdown paragraph or table cell."""
    return _MD_SPECIAL.sub(r"\\\1", str(value)).replace("\n", " ")


@functools.cache
def _env(html: bool) -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("netcheck.report", "templates"),
        autoescape=html,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["md"] = md
    return env


def render(name: str, *, html: bool, **context: object) -> str:
    return _env(html).get_template(name).render(**context)
