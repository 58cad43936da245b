from datetime import date

import pytest

from orchestration.assets.dbt import dbt_build_invocation


def test_one_day_window_passes_the_same_start_and_end():
    args, env = dbt_build_invocation(date(2026, 3, 1), date(2026, 3, 1))
    assert args == ["build"]
    assert env == {"AIDNAV_START_DATE": "2026-03-01", "AIDNAV_END_DATE": "2026-03-01"}


def test_backfill_window_is_inclusive_of_both_ends():
    _, env = dbt_build_invocation(date(2026, 1, 25), date(2026, 3, 5))
    assert env == {"AIDNAV_START_DATE": "2026-01-25", "AIDNAV_END_DATE": "2026-03-05"}


def test_reversed_window_is_refused():
    with pytest.raises(ValueError, match="before start"):
        dbt_build_invocation(date(2026, 3, 2), date(2026, 3, 1))
