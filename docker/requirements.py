"""Print the runtime requirements of pyproject.toml (and the named extras), one per line.

The image builds install these in a layer of their own, before the code: a code-only change
rebuilds only the small layer that installs Driftgate itself (``pip install --no-deps``).

    python docker/requirements.py pyproject.toml postgres,spark-connect
"""

from __future__ import annotations

import sys
import tomllib


def requirements(pyproject: str, extras: str) -> list[str]:
    with open(pyproject, "rb") as stream:
        project = tomllib.load(stream)["project"]
    wanted = [name.strip() for name in extras.split(",") if name.strip()]
    optional = project.get("optional-dependencies", {})
    unknown = [name for name in wanted if name not in optional]
    if unknown:
        raise SystemExit(f"error: {pyproject} has no extra {', '.join(unknown)}")
    found = list(project.get("dependencies", []))
    for name in wanted:
        found.extend(optional[name])
    return found


if __name__ == "__main__":
    print("\n".join(requirements(sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else "")))
