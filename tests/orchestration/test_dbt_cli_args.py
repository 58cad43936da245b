from datetime import date

import pytest

from modelling.dbt import dbt_build_invocation


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


def test_dbt_target_folders_of_earlier_runs_are_pruned_to_the_newest(tmp_path):
    import os

    from orchestration.assets.dbt import prune_dbt_targets

    target = tmp_path / "target"
    target.mkdir()
    (target / "partial_parse.msgpack").write_text("kept")       # the project's own files
    (target / "other_op-1234567-abcdef0").mkdir()                # another asset's run
    folders = []
    for i in range(6):
        p = target / f"aidnav_dbt_models-run{i:04d}-{i:07x}"
        (p / "compiled").mkdir(parents=True)
        (p / "run_results.json").write_text("{}")
        os.utime(p, (1_700_000_000 + i, 1_700_000_000 + i))      # run i is i seconds newer
        folders.append(p)
    current = folders[0]                                         # the oldest mtime: still kept
    removed = prune_dbt_targets(current, keep=2)
    assert sorted(removed) == folders[1:4]
    assert sorted(p.name for p in target.iterdir()) == sorted(
        [current.name, folders[4].name, folders[5].name, "other_op-1234567-abcdef0",
         "partial_parse.msgpack"])


def test_a_runs_partial_parse_file_becomes_the_next_runs_starting_point(tmp_path):
    from orchestration.assets.dbt import keep_partial_parse

    target = tmp_path / "target"
    run = target / "aidnav_dbt_models-abc1234-def5678"
    run.mkdir(parents=True)
    (target / "partial_parse.msgpack").write_bytes(b"written by dbt parse at install")
    assert keep_partial_parse(run) is False          # a run that wrote none changes nothing
    assert (target / "partial_parse.msgpack").read_bytes() == b"written by dbt parse at install"
    (run / "partial_parse.msgpack").write_bytes(b"written by the run")
    assert keep_partial_parse(run) is True
    assert (target / "partial_parse.msgpack").read_bytes() == b"written by the run"
    assert sorted(p.name for p in target.iterdir()) == [run.name, "partial_parse.msgpack"]
