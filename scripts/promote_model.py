"""Promote a registered version: `python scripts/promote_model.py --model-version N | --run-id ID`.

A thin entry point for `pipeline promote`: the gates are re-checked, `champion` moves and the
former champion is kept as `previous`.
"""

import sys

from pipeline.cli import main

if __name__ == "__main__":
    sys.exit(main(["promote", *sys.argv[1:]]))
