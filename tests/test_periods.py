"""Periods are calendar months: arithmetic across year ends, and a clear error otherwise."""

from __future__ import annotations

import pytest

from pipeline.errors import DataError
from pipeline.model.periods import is_month, months_between, shift_month


def test_months_count_across_a_year_end() -> None:
    assert months_between("2025-11", "2026-02") == 3
    assert months_between("2026-02", "2025-11") == -3
    assert shift_month("2026-01", -1) == "2025-12"
    assert shift_month("2025-12", 13) == "2027-01"


def test_a_label_that_is_not_a_month_is_named() -> None:
    assert not is_month("2026-13") and not is_month("adhoc") and is_month("2026-12")
    with pytest.raises(DataError, match="period 'adhoc' is not a month"):
        months_between("adhoc", "2026-01")
