"""How fast and how heavy the dashboard's pages are, opened from disk in Debian's chromium.

    bash scripts/cycle.sh && python bench/dashboard.py [--repeat 5]

Builds the site from this checkout's runs (`pipeline dashboard`), opens each of its own pages
``--repeat`` times in headless chromium (Playwright) and prints the load time (navigation start
to the load event, charts drawn) and the bytes of the page with its scripts, against the goals
of 2 s and 5 MB. The copied Evidently reports are linked, not part of a page, and not measured.
"""

from __future__ import annotations

import argparse
import re
import shutil
import statistics
import tempfile
from pathlib import Path

from pipeline.config import load_settings
from pipeline.steps.dashboard import dashboard_step

GOAL_SECONDS, GOAL_BYTES = 2.0, 5_000_000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    settings = load_settings()
    models = [settings.model(name) for name in sorted(settings.models)]
    chromium = shutil.which("chromium") or "/usr/bin/chromium"
    with tempfile.TemporaryDirectory() as folder:
        site = Path(folder) / "site"
        dashboard_step(settings, models, site)
        pages = [site / "index.html", *sorted((site / "models").glob("*.html"))]
        print(f"| page | load (median of {args.repeat}) | bytes with scripts |")
        print("| --- | ---: | ---: |")
        worst_time = worst_size = 0.0
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            for path in pages:
                times = []
                for _ in range(args.repeat):
                    page.goto(path.as_uri())
                    page.wait_for_load_state("load")
                    millis = page.evaluate(
                        "performance.getEntriesByType('navigation')[0].loadEventEnd"
                    )
                    times.append(float(millis) / 1000)
                html = path.read_text(encoding="utf-8")
                scripts = re.findall(r'<script src="([^"]+)"', html)
                size = path.stat().st_size + sum((path.parent / s).stat().st_size for s in scripts)
                median = statistics.median(times)
                worst_time, worst_size = max(worst_time, median), max(worst_size, size)
                print(f"| {path.relative_to(site)} | {median:.2f} s | {size:,} |")
            browser.close()
    ok = worst_time <= GOAL_SECONDS and worst_size <= GOAL_BYTES
    print(
        f"\nslowest {worst_time:.2f} s (goal {GOAL_SECONDS:g} s), heaviest {worst_size:,} bytes "
        f"(goal {GOAL_BYTES:,}): {'met' if ok else 'MISSED'}"
    )


if __name__ == "__main__":
    main()
