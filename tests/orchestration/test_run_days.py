"""The run's days have one owner (`orchestration.partitions`): how a run over some days
asks for them, and how every asset and check of that run reads them back."""

from datetime import date

import dagster as dg
import pytest

from orchestration.partitions import daily_partitions, run_days, run_partitions

SEEN: dict[str, list[date]] = {}


@dg.asset(partitions_def=daily_partitions, backfill_policy=dg.BackfillPolicy.single_run())
def days_probe(context: dg.AssetExecutionContext) -> None:
    SEEN["asset"] = run_days(context)


@dg.asset_check(asset=days_probe)
def days_probe_check(context: dg.AssetCheckExecutionContext) -> dg.AssetCheckResult:
    SEEN["check"] = run_days(context)
    return dg.AssetCheckResult(passed=True)


def materialize(partition_key: str | None, tags: dict[str, str]) -> None:
    SEEN.clear()
    with dg.DagsterInstance.ephemeral() as instance:
        result = dg.materialize([days_probe, days_probe_check], instance=instance,
                                partition_key=partition_key, tags=tags)
    assert result.success


def test_one_day_is_a_partition_run_and_reads_back_as_that_day():
    key, tags = run_partitions(date(2026, 3, 1), date(2026, 3, 1))
    assert (key, tags) == ("2026-03-01", {})
    materialize(key, tags)
    assert SEEN == {"asset": [date(2026, 3, 1)], "check": [date(2026, 3, 1)]}


def test_a_range_is_one_backfill_run_and_reads_back_as_every_day_of_it():
    # 2026-02-27 .. 2026-03-02: four days across the end of February (28 days in 2026)
    key, tags = run_partitions(date(2026, 2, 27), date(2026, 3, 2))
    assert key is None
    assert tags == {"dagster/asset_partition_range_start": "2026-02-27",
                    "dagster/asset_partition_range_end": "2026-03-02"}
    materialize(key, tags)
    expected = [date(2026, 2, 27), date(2026, 2, 28), date(2026, 3, 1), date(2026, 3, 2)]
    assert SEEN == {"asset": expected, "check": expected}


def test_a_reversed_range_is_refused():
    with pytest.raises(ValueError, match="before start"):
        run_partitions(date(2026, 3, 2), date(2026, 3, 1))
