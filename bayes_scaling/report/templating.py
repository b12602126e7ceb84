"""The Jinja2 environment every HTML the package writes is rendered with (``report/templates``: autoescaped, an
undefined name an error). Kept apart from the figures so that rendering a small piece of HTML (a notebook's view of
a fit) does not import matplotlib."""

from __future__ import annotations

from functools import cache

import jinja2
from markupsafe import Markup


@cache
def environment() -> jinja2.Environment:
    """The templates' environment: autoescaping on, and an undefined name raises instead of rendering empty."""
    return jinja2.Environment(
        loader=jinja2.PackageLoader("bayes_scaling", "report/templates"),
        autoescape=jinja2.select_autoescape(enabled_extensions=("html", "j2"), default_for_string=True),
        undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=False,
    )


def render(template: str, **context) -> Markup:
    """``template`` (a path under ``report/templates``) rendered with ``context``; the result is safe HTML."""
    return Markup(environment().get_template(template).render(**context).strip())
