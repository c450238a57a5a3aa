"""Run the monthly cycle's drift detection the way similar projects do: `--simulate-drift`.

A thin entry point: `python scripts/drift_detection.py [--simulate-drift] [--model NAME]`
is `pipeline run` with the same options.
"""

import sys

from pipeline.cli import main

if __name__ == "__main__":
    sys.exit(main(["run", *sys.argv[1:]]))
