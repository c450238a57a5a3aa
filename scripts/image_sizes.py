"""Print each image's size against its budget, and its layers, from podman's own records.

    python scripts/image_sizes.py localhost/driftgate/batch ... --tag local [--times batch=12]

An image over its budget (the batch and api images: 700 MB) is named on stderr; with
``--enforce`` the exit status is then 1.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

MB = 1_000_000
BUDGET_MB = {"batch": 700, "api": 700}


def podman_json(*args: str) -> object:
    done = subprocess.run(["podman", *args], check=True, capture_output=True, text=True)
    return json.loads(done.stdout)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("images", nargs="+")
    parser.add_argument("--tag", default="local")
    parser.add_argument("--times", nargs="*", default=[], help="target=seconds of its build")
    parser.add_argument("--enforce", action="store_true", help="exit 1 when over a budget")
    args = parser.parse_args(argv)
    times = dict(item.split("=", 1) for item in args.times)
    over = []
    print("| image | size | budget | build |")
    print("| --- | ---: | ---: | ---: |")
    layers: dict[str, list[tuple[float, str]]] = {}
    for image in args.images:
        target = image.rsplit("/", 1)[-1]
        ref = f"{image}:{args.tag}"
        inspected = podman_json("image", "inspect", ref)
        assert isinstance(inspected, list)
        size = inspected[0]["Size"] / MB
        budget = BUDGET_MB.get(target)
        if budget is not None and size > budget:
            over.append(f"{target} is {size:.0f} MB, over its {budget} MB budget")
        built = f"{times[target]} s" if target in times else "-"
        print(f"| {target} | {size:.0f} MB | {f'{budget} MB' if budget else '-'} | {built} |")
        history = podman_json("history", "--format", "json", ref)
        assert isinstance(history, list)
        layers[target] = [
            (entry["size"] / MB, " ".join(str(entry.get("CreatedBy", "")).split())[:90])
            for entry in history
            if entry.get("size", 0) > 0
        ]
    for target, found in layers.items():
        print(f"\n{target}: layers with content, newest first")
        print("| size | created by |")
        print("| ---: | --- |")
        for size, created_by in found:
            print(f"| {size:.1f} MB | `{created_by.replace('|', '/')}` |")
    for line in over:
        print(f"{'error' if args.enforce else 'over budget'}: {line}", file=sys.stderr)
    return 1 if over and args.enforce else 0


if __name__ == "__main__":
    sys.exit(main())
