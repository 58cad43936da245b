"""The telemetry lake on dask's in-process scheduler: the daily figures by hand, duplicates
across deliveries, late deliveries, the partition layout, an unreachable scheduler."""

from __future__ import annotations

import socket
import time
from datetime import date
from decimal import Decimal

import pyarrow.parquet as pq
import pytest

from ingestion.lake.engine import SchedulerUnreachable, run_gpu_telemetry
from ingestion.lake.lake import Lake, lake_url
from tests.lake.lake_fixtures import (NOW, REGISTRY, gpu, lake_files, ledger_of, sample,
                                      write_batch)

DAY = date(2026, 3, 1)


def _run(landing, lake, seen=None, **kw):
    return run_gpu_telemetry(landing, lake, REGISTRY, seen or {}, now=NOW, scheduler="", **kw)


def _daily(run) -> dict[tuple[date, str], dict]:
    return {(r["day"], r["asset_id"]): r for r in run.daily.to_pylist()}


def test_daily_figures_by_hand(tmp_path):
    landing, lake = tmp_path / "landing", tmp_path / "lake"
    # GPU 0, one minute apart: +60,000 mJ in 60 s (1,000 W: counts), a fall to 1,000 (a
    # counter reset: 0), +200,000,000 mJ in 60 s (3,333 kW, over the 2,000 W bound, whose
    # most is 2,000 x 1,000 x 60 = 120,000,000 mJ: 0), then +30,000 mJ (500 W: counts)
    write_batch(landing, "2026-03-01", 0, "b1", [
        sample("2026-03-01T10:00:00Z", 0, 5_000_000, util=10),
        sample("2026-03-01T10:01:00Z", 0, 5_060_000, util=20),
        sample("2026-03-01T10:02:00Z", 0, 1_000, util=30),
        # the same instant as 10:03Z, written with another offset
        sample("2026-03-01T11:03:00+01:00", 0, 200_001_000, util=40),
        sample("2026-03-01T10:04:00Z", 0, 200_031_000, util=50),
        # 23:30 at UTC-1 is 00:30 UTC on March 2: the next day's partition
        sample("2026-03-01T23:30:00-01:00", 0, 200_091_000, util=70),
    ])
    run = _run(landing, lake)
    assert run.stats.rows_loaded == 6 and run.stats.rows_quarantined == 0
    daily = _daily(run)
    d1 = daily[(DAY, gpu(0))]
    assert d1["valid_samples"] == 5
    assert d1["util_sum"] == Decimal(10 + 20 + 30 + 40 + 50)
    assert d1["energy_in_day_mj"] == Decimal(60_000 + 0 + 0 + 30_000)
    assert d1["first_energy_mj"] == Decimal(5_000_000)
    assert d1["last_energy_mj"] == Decimal(200_031_000)
    assert d1["node_id"] == "node-0000"
    d2 = daily[(date(2026, 3, 2), gpu(0))]
    assert (d2["valid_samples"], d2["energy_in_day_mj"]) == (1, Decimal(0))
    assert run.partitions == (("node-0000", DAY), ("node-0000", date(2026, 3, 2)))
    files = sorted(lake_files(lake))
    assert files == ["day=2026-03-01/node=node-0000/samples.parquet",
                     "day=2026-03-02/node=node-0000/samples.parquet"]
    meta = pq.ParquetFile(lake / files[0]).metadata
    assert meta.num_rows == 5
    assert meta.row_group(0).column(0).compression == "ZSTD"


def test_duplicates_across_deliveries_count_once(tmp_path):
    landing = tmp_path / "landing"
    a = [sample(f"2026-03-01T10:0{m}:00Z", 1, 1_000_000 + m * 10_000, util=10) for m in range(3)]
    # a second delivery repeats minutes 1 and 2 (another utilisation: the first copy by
    # file path wins) and adds minute 3
    b = [sample(f"2026-03-01T10:0{m}:00Z", 1, 1_000_000 + m * 10_000, util=90)
         for m in range(1, 4)]
    write_batch(landing, "2026-03-01", 0, "a", a)
    write_batch(landing, "2026-03-02", 0, "b", b)
    together = _daily(_run(landing, tmp_path / "lake1"))[(DAY, gpu(1))]
    assert together["valid_samples"] == 4
    assert together["util_sum"] == Decimal(10 + 10 + 10 + 90)
    assert together["energy_in_day_mj"] == Decimal(30_000)

    # the same deliveries in two runs: the second merges into the partition the first wrote
    only_a = tmp_path / "landing_a"
    write_batch(only_a, "2026-03-01", 0, "a", a)
    first = _run(only_a, tmp_path / "lake2")
    assert _daily(first)[(DAY, gpu(1))]["valid_samples"] == 3
    write_batch(only_a, "2026-03-02", 0, "b", b)
    second = _run(only_a, tmp_path / "lake2", seen=ledger_of(first))
    assert second.stats.files_read == 1 and second.stats.files_skipped == 1
    assert _daily(second)[(DAY, gpu(1))] == together
    assert Lake(tmp_path / "lake2").read("node-0000", DAY).num_rows == 4
    assert (Lake(tmp_path / "lake2").read("node-0000", DAY)
            == Lake(tmp_path / "lake1").read("node-0000", DAY))


def test_late_delivery_rewrites_only_its_partition(tmp_path):
    landing, lake = tmp_path / "landing", tmp_path / "lake"
    for node in (0, 1):
        for day in ("2026-03-01", "2026-03-02"):
            write_batch(landing, day, node, f"n{node}-{day}", [
                sample(f"{day}T0{h}:00:00Z", node * 8 + g, 1_000_000 + h * 60_000)
                for h in range(3) for g in range(8)])
    first = _run(landing, lake)
    assert len(first.partitions) == 4
    before = lake_files(lake)
    time.sleep(0.01)
    # node-0001's March 1 samples gain one, delivered on March 3
    write_batch(landing, "2026-03-03", 1, "late", [sample("2026-03-01T01:30:00Z", 9, 1_030_000)])
    late = _run(landing, lake, seen=ledger_of(first))
    assert late.stats.files_read == 1 and late.stats.files_skipped == 4
    assert late.partitions == (("node-0001", DAY),)
    assert {r["asset_id"] for r in late.daily.to_pylist()} == {gpu(i) for i in range(8, 16)}
    assert _daily(late)[(DAY, gpu(9))]["valid_samples"] == 4
    after = lake_files(lake)
    touched = "day=2026-03-01/node=node-0001/samples.parquet"
    assert set(after) == set(before)
    assert after[touched] != before[touched]
    assert {k: v for k, v in after.items() if k != touched} == \
        {k: v for k, v in before.items() if k != touched}


def test_lake_root_defaults_to_the_data_dir(tmp_path, monkeypatch):
    monkeypatch.delenv("AIDNAV_LAKE_URL", raising=False)
    monkeypatch.setenv("AIDNAV_DATA_DIR", str(tmp_path / "data"))
    assert lake_url() == str((tmp_path / "data" / "lake").resolve())
    monkeypatch.setenv("AIDNAV_LAKE_URL", "s3://bucket/lake")
    assert lake_url() == "s3://bucket/lake"


def test_unreachable_scheduler_is_one_line_naming_it(tmp_path, monkeypatch):
    landing = tmp_path / "landing"
    write_batch(landing, "2026-03-01", 0, "b", [sample("2026-03-01T10:00:00Z", 0, 1)])
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    address = f"tcp://127.0.0.1:{port}"
    monkeypatch.setenv("AIDNAV_DASK_SCHEDULER", address)
    t0 = time.monotonic()
    with pytest.raises(SchedulerUnreachable) as e:
        run_gpu_telemetry(landing, tmp_path / "lake", REGISTRY, {}, now=NOW)
    assert time.monotonic() - t0 < 15
    assert address in str(e.value) and "\n" not in str(e.value)
    assert not (tmp_path / "lake").exists()


def _two_nodes_two_days(landing):
    for node in (0, 1):
        for day in ("2026-03-01", "2026-03-02"):
            write_batch(landing, day, node, f"n{node}-{day}", [
                sample(f"{day}T0{h}:00:00Z", node * 8 + g, 1_000_000 + h * 60_000)
                for h in range(3) for g in range(8)])
    # a repeat of node-0000's March 1 samples, delivered a day late in another folder
    write_batch(landing, "2026-03-02", 0, "repeat", [
        sample(f"2026-03-01T0{h}:00:00Z", g, 1_000_000 + h * 60_000, util=99)
        for h in range(3) for g in range(8)])


def test_the_cut_of_the_work_changes_nothing(tmp_path):
    # one task of each kind, against one task per delivery folder and per partition: the
    # samples pass through the run's fragments either way, and the lake and the figures
    # are the same bytes (the repeat loses to the first copy by file path: utilisation 50)
    landing = tmp_path / "landing"
    _two_nodes_two_days(landing)
    whole = _run(landing, tmp_path / "lake-whole")
    cut = _run(landing, tmp_path / "lake-cut", task_bytes=1, task_samples=1)
    assert whole.daily.equals(cut.daily) and whole.partitions == cut.partitions
    assert {k: v[0] for k, v in lake_files(tmp_path / "lake-whole").items()} == \
        {k: v[0] for k, v in lake_files(tmp_path / "lake-cut").items()}
    assert len(lake_files(tmp_path / "lake-cut")) == 4  # the partitions, no fragment left
    assert {r["util_sum"] for r in cut.daily.to_pylist()} == {Decimal(3 * 50)}


def test_a_failed_run_leaves_no_fragments(tmp_path):
    landing, lake = tmp_path / "landing", tmp_path / "lake"
    _two_nodes_two_days(landing)
    # a partition the reduction cannot read: the run fails after the checks wrote fragments
    bad = lake / "day=2026-03-02" / "node=node-0001" / "samples.parquet"
    bad.parent.mkdir(parents=True)
    bad.write_bytes(b"not parquet")
    with pytest.raises(Exception, match="(?i)parquet"):
        _run(landing, lake, task_bytes=1, task_samples=1)
    # the partitions reduced before the failure stand (a rerun merges into them), the
    # run's fragments are gone
    assert not [f for f in lake_files(lake) if not f.endswith("/samples.parquet")]
    assert not list((lake / "_incoming").iterdir())
    # once the unreadable file is gone, the rerun gives what one clean run gives
    bad.unlink()
    rerun = _run(landing, lake, task_bytes=1, task_samples=1)
    clean = _run(landing, tmp_path / "clean")
    assert rerun.daily.equals(clean.daily)
    assert {k: v[0] for k, v in lake_files(lake).items()} == \
        {k: v[0] for k, v in lake_files(tmp_path / "clean").items()}


def test_the_listing_carries_each_delivery_s_size_for_cutting_the_work(tmp_path):
    # the work is cut by delivered bytes: the one listing of the zone must carry each
    # file's size (a size of 0 everywhere would leave a whole backfill in one task)
    from ingestion.landing import Landing
    from ingestion.lake.engine import delivery_folders

    landing = tmp_path / "landing"
    _two_nodes_two_days(landing)
    files = [f for fs in delivery_folders(Landing(landing)).values() for f in fs]
    assert len(files) == 2 * 5  # 5 batches, each with its .sig
    assert all(f.size == (landing / f.rel).stat().st_size > 0 for f in files)


def test_only_batches_read_before_and_listed_as_then_are_left_out():
    """The unchanged-file rule on a listing: a ledgered batch whose bytes were read (a
    sha256, or a refusal for its content) and that is listed with the recorded size and
    modification time is left out with its .sig; a batch refused from its metadata
    alone, one listed otherwise, or one the filesystem gives no time for, is not."""
    from ingestion.lake.engine import _unchanged_left_out
    from ingestion.landing import LandingFile

    def listed(name: str, size: int = 10, mtime: float | None = 5.0) -> list[LandingFile]:
        rel = f"gpu_telemetry/2026-03-01/node-0000/{name}.jsonl"
        return [LandingFile(rel, "/z/" + rel, size, mtime),
                LandingFile(rel + ".sig", "/z/" + rel + ".sig", 1, mtime)]

    folder = (listed("same") + listed("content") + listed("link") + listed("longer", 11)
              + listed("touched", mtime=6.0) + listed("untimed", mtime=None) + listed("new"))
    rel = "gpu_telemetry/2026-03-01/node-0000/{}.jsonl".format
    seen = {rel("same"): "ab" * 32, rel("content"): "refused:content:" + "cd" * 32,
            rel("link"): "refused:link", rel("longer"): "ef" * 32,
            rel("touched"): "01" * 32, rel("untimed"): "23" * 32}
    unchanged = {r: (10, 5.0) for r in seen}
    kept, skipped = _unchanged_left_out([folder], seen, unchanged)
    assert skipped == 2
    assert [f.rel.split("/")[-1] for f in kept[0]] == [
        "link.jsonl", "link.jsonl.sig", "longer.jsonl", "longer.jsonl.sig", "touched.jsonl",
        "touched.jsonl.sig", "untimed.jsonl", "untimed.jsonl.sig", "new.jsonl", "new.jsonl.sig"]
    # a folder left with nothing to read is no task at all
    assert _unchanged_left_out([listed("same")], seen, unchanged) == ([], 1)


def test_tasks_run_side_by_side_in_process_and_change_nothing(tmp_path, monkeypatch):
    # without a cluster, dask's threaded scheduler runs a task per core at once: two check
    # tasks must be inside `_check_folder` together (a barrier of two that a one-at-a-time
    # scheduler never passes), and one, two or four at once write the same lake and figures
    import threading

    from ingestion.lake import engine

    landing = tmp_path / "landing"
    _two_nodes_two_days(landing)
    check = engine._check_folder
    barrier = threading.Barrier(2, timeout=30)

    def together(*args):
        barrier.wait()
        return check(*args)

    monkeypatch.setattr(engine, "IN_PROCESS_TASKS", 2)
    monkeypatch.setattr(engine, "_check_folder", together)
    side_by_side = _run(landing, tmp_path / "lake-2", task_bytes=1, task_samples=1)
    monkeypatch.setattr(engine, "_check_folder", check)
    for n in (1, 4):
        monkeypatch.setattr(engine, "IN_PROCESS_TASKS", n)
        other = _run(landing, tmp_path / f"lake-{n}", task_bytes=1, task_samples=1)
        assert other.daily.equals(side_by_side.daily) and other.ledger.equals(side_by_side.ledger)
        assert {k: v[0] for k, v in lake_files(tmp_path / f"lake-{n}").items()} == \
            {k: v[0] for k, v in lake_files(tmp_path / "lake-2").items()}
    assert side_by_side.stats.rows_loaded == 2 * 2 * 3 * 8 + 3 * 8


def test_duckdb_threads_share_the_cores_among_the_tasks_run_at_once(monkeypatch):
    from ingestion.lake import engine

    monkeypatch.setattr(engine, "IN_PROCESS_TASKS", 4)
    # 4 cores: one task gets them all, two get two each, four or more one each
    assert [engine._task_threads(engine.in_process, n) for n in (1, 2, 3, 4, 40)] == \
        [4, 2, 1, 1, 1]
    # on a cluster the worker decides (its own thread count)
    assert engine._task_threads(object(), 40) is None


def test_the_ledger_is_asked_about_the_listed_batches_a_group_of_folders_at_a_time(
        tmp_path, monkeypatch):
    # a run never holds the whole ledger: it asks for the rows of the batches it lists (no
    # .sig), whole node folders at a time, about LOOKUP_FILES files a group; a ledger given
    # as a mapping gives the same run
    from ingestion.lake import engine

    landing = tmp_path / "landing"
    _two_nodes_two_days(landing)
    first = _run(landing, tmp_path / "lake-0")
    ledger = ledger_of(first)
    write_batch(landing, "2026-03-02", 1, "late", [sample("2026-03-01T05:00:00Z", 9, 2_000_000)])
    asked: list[list[str]] = []

    def lookup(files):
        asked.append(list(files))
        return {f: ledger[f] for f in files if f in ledger}, {}

    day = "gpu_telemetry/{}/node-{:04d}/{}.jsonl".format
    in_order = [day("2026-03-01", 0, "n0-2026-03-01"), day("2026-03-01", 1, "n1-2026-03-01"),
                day("2026-03-02", 0, "n0-2026-03-02"), day("2026-03-02", 0, "repeat"),
                day("2026-03-02", 1, "late"), day("2026-03-02", 1, "n1-2026-03-02")]
    runs = []
    for group, calls in ((1, [in_order[:1], in_order[1:2], in_order[2:4], in_order[4:]]),
                         (5, [in_order[:4], in_order[4:]]), (50_000, [in_order])):
        monkeypatch.setattr(engine, "LOOKUP_FILES", group)
        asked.clear()
        runs.append(run_gpu_telemetry(landing, tmp_path / f"lake-{group}", REGISTRY, lookup,
                                      now=NOW, scheduler=""))
        assert asked == calls, group
    by_mapping = _run(landing, tmp_path / "lake-mapping", seen=ledger)
    for run in runs:
        # the five ledgered batches are read again and found unchanged, the late one is new
        assert run.stats.files_skipped == by_mapping.stats.files_skipped == 5
        assert run.stats.rows_loaded == by_mapping.stats.rows_loaded == 1
        assert run.daily.equals(by_mapping.daily) and run.fresh == by_mapping.fresh
        assert run.fresh == (day("2026-03-02", 1, "late"),)


def test_the_tasks_get_the_gpus_nodes_and_keys_not_the_registry(tmp_path, monkeypatch):
    # what every task and worker receives: each GPU's node and signing address and each
    # node's address, as one Arrow table and a dict
    import pickle

    from ingestion.lake import engine
    from ingestion.nvml.ingest import GpuFleet

    got = []
    check = engine._check_folder

    def spy(task, fleet):
        got.append(fleet)
        return check(task, fleet)

    monkeypatch.setattr(engine, "_check_folder", spy)
    landing = tmp_path / "landing"
    _two_nodes_two_days(landing)
    _run(landing, tmp_path / "lake")
    assert got and all(type(f) is GpuFleet for f in got)
    gpus = [a for a in REGISTRY.assets if a.asset_type == "gpu"]
    assert got[0].gpus.to_pylist() == [
        {"asset_id": a.asset_id, "node_id": a.node_id, "node_address": a.node_address}
        for a in gpus]
    assert got[0].node_addresses == {"node-0000": gpus[0].node_address,
                                     "node-0001": gpus[8].node_address}
    from demo.bench_gpu import synth_registry

    # a GPU's uuid (22 characters here), node (9) and address (42) and three offsets: under
    # 100 bytes (the registry's unpickled objects take some 660)
    assert len(pickle.dumps(GpuFleet.of(synth_registry(10_000)))) < 100 * 10_000
