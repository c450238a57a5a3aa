"""Periods: the calendar months batches are named by (``YYYY-MM``)."""

from __future__ import annotations

import re
from datetime import datetime, timezone

from pipeline.errors import DataError

_MONTH = re.compile(r"(\d{4})-(\d{2})")


def month_index(period: str) -> int:
    """Months since year 0: ``2026-11`` -> 24323; consecutive months differ by one."""
    match = _MONTH.fullmatch(period)
    if not match or not 1 <= int(match.group(2)) <= 12:
        raise DataError(f"period {period!r} is not a month (YYYY-MM)")
    return int(match.group(1)) * 12 + int(match.group(2)) - 1


def is_month(period: str) -> bool:
    try:
        month_index(period)
    except DataError:
        return False
    return True


def months_between(earlier: str, later: str) -> int:
    """How many months ``later`` comes after ``earlier`` (negative when before)."""
    return month_index(later) - month_index(earlier)


def shift_month(period: str, months: int) -> str:
    index = month_index(period) + months
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


def current_period() -> str:
    """This month, in UTC: the default period of every command."""
    return datetime.now(timezone.utc).strftime("%Y-%m")


def period_seed(period: str) -> int:
    """A synthetic batch's seed: the period's digits, so a month is the same on every rerun."""
    digits = "".join(ch for ch in period if ch.isdigit())
    return int(digits) if digits else 0
