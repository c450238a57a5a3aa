"""The architecture's rules that an import graph cannot express.

The layers themselves are import-linter contracts (pyproject.toml, run by scripts/test.sh).
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "pipeline"
# Only these read the process environment; everything else is handed what it needs.
READS_ENVIRONMENT = {"cli.py", "config.py"}


def environment_reads(source: str) -> list[int]:
    """Lines that touch ``os.environ``, ``os.getenv`` or an imported ``environ``/``getenv``."""
    lines = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Attribute) and node.attr in ("environ", "getenv", "environb"):
            lines.append(node.lineno)
        elif isinstance(node, ast.ImportFrom) and node.module == "os":
            if any(alias.name in ("environ", "getenv", "environb") for alias in node.names):
                lines.append(node.lineno)
    return lines


def test_environment_reads_are_spotted() -> None:
    assert environment_reads("import os\nx = os.environ.get('A')\n") == [2]
    assert environment_reads("from os import getenv\n") == [1]
    assert environment_reads("import os\nos.path.join('a')\n") == []


def test_only_the_cli_and_config_read_the_environment() -> None:
    offenders = {
        str(path.relative_to(PACKAGE)): found
        for path in sorted(PACKAGE.rglob("*.py"))
        if path.relative_to(PACKAGE).as_posix() not in READS_ENVIRONMENT
        and (found := environment_reads(path.read_text(encoding="utf-8")))
    }
    assert offenders == {}


def test_the_orchestrator_is_a_table_of_contents() -> None:
    lines = (PACKAGE / "cycle.py").read_text(encoding="utf-8").count("\n")
    assert lines < 300, f"cycle.py has {lines} lines: move step bodies to pipeline/steps/"
