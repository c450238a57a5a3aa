"""What reviewers read, from Jinja2 templates: the package's own, or a fork's.

The drift issue, the promotion PR, the failure issue, the HTML report's verdict, the model card
and the dashboard's pages are rendered from ``pipeline/reporting/templates/``. A fork points
the ``templates_dir`` setting at a folder of its own; a template found there replaces the
package's of the same name, the rest stay. The templates get the run's JSON results
(``drift``, ``retrain``, ...) and the sections Driftgate renders from them, so a fork can
reorder, drop or add to what is said without re-deriving a figure.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

from jinja2 import ChoiceLoader, Environment, FileSystemLoader, PackageLoader, StrictUndefined

from pipeline.errors import ConfigError


@functools.lru_cache(maxsize=8)
def _environment(templates_dir: str) -> Environment:
    loaders: list[Any] = []
    if templates_dir:
        if not Path(templates_dir).is_dir():
            raise ConfigError(f"templates_dir {templates_dir} is not a folder")
        loaders.append(FileSystemLoader(templates_dir))
    loaders.append(PackageLoader("pipeline.reporting", "templates"))
    return Environment(
        loader=ChoiceLoader(loaders),
        # HTML templates escape what they are given; Markdown ones write it as it is.
        autoescape=lambda name: bool(name and name.endswith(".html.j2")),
        undefined=StrictUndefined,  # a misspelt name fails, rather than vanishing
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def render(template: str, templates_dir: str = "", **context: Any) -> str:
    """Template ``template`` filled with ``context``; a fork's copy in ``templates_dir`` first."""
    from jinja2 import TemplateError

    try:
        return _environment(templates_dir).get_template(template).render(**context)
    except TemplateError as error:
        where = templates_dir or "the package's templates"
        raise ConfigError(f"template {template} ({where}): {error}") from error
