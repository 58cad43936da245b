"""Compressed deliveries: a GPU batch or a robot file may be delivered as `.jsonl.gz` or
`.jsonl.zst`. The signature covers the bytes as delivered; the lines are the decompressed
ones and load exactly as the plain file's. Decompression stops at the source's size
limit: a small file that expands to a gigabyte is refused whole, one quarantine row, with
the memory of the limit, not of the gigabyte; a corrupt stream is a quarantine row, not a
crash."""

from __future__ import annotations

import gzip
import hashlib
import json
import tracemalloc

import zstandard

from ingestion.bounds import FILE_MAX_BYTES
from ingestion.late_data import ledger_files, new_landing_files
from ingestion.nvml.ingest import ingest_gpu_telemetry
from ingestion.nvml.signature import sign_batch
from ingestion.robots.reader import ingest_robot_telemetry
from tests.ingestion.ingestion_fixtures import GPU_B, TEST_KEY
from tests.ingestion.ingestion_fixtures import sample
from tests.ingestion.ingestion_fixtures import rec

DAY = "2026-02-01"
FOLDER = f"gpu_telemetry/{DAY}/node-t"
LINES = [sample(ts="2026-02-01T00:00:00Z"),
         sample(GPU_B, ts="2026-02-01T00:00:00Z", power_w=301.25),
         sample(ts="2026-02-01T01:00:00Z", gpu_util_pct=101),            # 3: out of range
         sample(ts="2026-02-01T02:00:00Z", energy_mj=123459789)]
CONTENT = b"".join(json.dumps(x).encode() + b"\n" for x in LINES)


def gz(data: bytes) -> bytes:
    return gzip.compress(data)


def zst(data: bytes) -> bytes:
    return zstandard.ZstdCompressor(level=3).compress(data)


def deliver(landing, name, delivered: bytes, signed: bytes | None = None, folder=FOLDER):
    """Write a delivered file and its `.sig` over `signed` (default: the delivered bytes)."""
    d = landing / folder
    d.mkdir(parents=True, exist_ok=True)
    (d / name).write_bytes(delivered)
    sig = sign_batch(delivered if signed is None else signed, TEST_KEY)
    (d / f"{name}.sig").write_text(json.dumps(sig))
    return d / name


def samples_of(con, file):
    return con.execute("""select * exclude (source_file) from raw.gpu_samples where source_file = ?
                          order by line""", [f"{FOLDER}/{file}"]).fetchall()


def quarantine_rows(con, source="gpu_telemetry"):
    return con.execute("select file, line, field, reason from raw.quarantine where source = ? "
                       "order by file, line", [source]).fetchall()


def test_gzip_and_zstd_batches_signed_over_their_bytes_load_the_plain_batch_samples(
        con, registry, landing):
    deliver(landing, "b.jsonl", CONTENT)
    deliver(landing, "b.jsonl.gz", gz(CONTENT))
    deliver(landing, "b.jsonl.zst", zst(CONTENT))
    stats = ingest_gpu_telemetry(con, landing, registry)
    assert (stats.files_read, stats.rows_loaded, stats.rows_quarantined) == (3, 9, 3)
    plain = samples_of(con, "b.jsonl")
    # lines 1, 2 and 4 of the batch (line 3 is out of range), batch id "b" in all three
    assert [(r[0], r[1], r[2]) for r in plain] == [(1, "b", "node-t"), (2, "b", "node-t"),
                                                  (4, "b", "node-t")]
    assert samples_of(con, "b.jsonl.gz") == plain
    assert samples_of(con, "b.jsonl.zst") == plain
    assert [(f.rsplit("/", 1)[1], line, field) for f, line, field, _ in quarantine_rows(con)] == [
        ("b.jsonl", 3, "gpu_util_pct"), ("b.jsonl.gz", 3, "gpu_util_pct"),
        ("b.jsonl.zst", 3, "gpu_util_pct")]
    # the ledger holds the sha256 of the delivered bytes: a second run reads nothing
    again = ingest_gpu_telemetry(con, landing, registry)
    assert (again.files_read, again.files_skipped) == (0, 3)


def test_a_compressed_batch_signed_over_its_decompressed_bytes_is_quarantined(
        con, registry, landing):
    delivered = zst(CONTENT)
    deliver(landing, "b.jsonl.zst", delivered, signed=CONTENT)
    stats = ingest_gpu_telemetry(con, landing, registry)
    assert (stats.rows_loaded, stats.rows_quarantined) == (0, 4)
    rows = quarantine_rows(con)
    assert [line for _, line, _, _ in rows] == [1, 2, 3, 4]
    sha = hashlib.sha256(delivered).hexdigest()
    assert all(r[3].startswith(f"sha256 mismatch: the batch bytes hash to {sha}") for r in rows)


def _gzip_bomb() -> bytes:
    """1 GiB of zeros as one gzip file of about 1 MB: 1,024 members of 1 MiB each
    (RFC 1952 allows a file of several members; `cat a.gz b.gz` makes one)."""
    member = gzip.compress(b"\0" * (1 << 20), compresslevel=9)
    return member * 1024


def _zstd_bomb() -> bytes:
    """1 GiB of zeros as one zstd frame of about 32 KB, streamed without a content size."""
    co = zstandard.ZstdCompressor(level=1).compressobj()
    chunk = b"\0" * (1 << 20)
    return b"".join(co.compress(chunk) for _ in range(1024)) + co.flush()


def test_a_zip_bomb_is_refused_once_at_the_limit_with_small_memory(con, registry, landing):
    limit = FILE_MAX_BYTES["gpu_telemetry"]
    bombs = {"bomb.jsonl.gz": _gzip_bomb(), "bomb.jsonl.zst": _zstd_bomb()}
    for name, data in bombs.items():
        assert len(data) < 1_100_000
        deliver(landing, name, data)
    deliver(landing, "b.jsonl.zst", zst(CONTENT))
    tracemalloc.start()
    try:
        stats = ingest_gpu_telemetry(con, landing, registry)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    # the limit's worth of decompressed bytes at most, never the gigabyte
    assert peak < limit + (16 << 20), f"{peak} bytes allocated"
    assert (stats.files_read, stats.rows_loaded, stats.rows_quarantined) == (3, 3, 3)
    rows = [r for r in quarantine_rows(con) if "bomb" in r[0]]
    assert [(f, line, field) for f, line, field, _ in rows] == [
        (f"{FOLDER}/bomb.jsonl.gz", 0, ""), (f"{FOLDER}/bomb.jsonl.zst", 0, "")]
    for (_, _, _, reason), (codec, data) in zip(rows, [("gzip", bombs["bomb.jsonl.gz"]),
                                                       ("zstd", bombs["bomb.jsonl.zst"])]):
        assert reason == (
            f"file refused: {codec} file of {len(data)} bytes that decompresses to more than "
            f"{limit} bytes: expected at most {limit} bytes once decompressed; decompression "
            "stopped at the limit")
    # refused once: the next run skips both and adds no row
    again = ingest_gpu_telemetry(con, landing, registry)
    assert (again.files_read, again.files_skipped) == (0, 3)
    assert len(quarantine_rows(con)) == 3


def test_an_injected_limit_bounds_the_decompressed_size_too(con, registry, landing):
    small = deliver(landing, "small.jsonl.gz", gz(CONTENT[:len(json.dumps(LINES[0])) + 1]))
    deliver(landing, "large.jsonl.gz", gz(CONTENT))
    # both files are smaller than the limit as delivered; only one fits once decompressed
    limit = len(json.dumps(LINES[0])) + 1
    assert small.stat().st_size < limit and len(gz(CONTENT)) < limit
    stats = ingest_gpu_telemetry(con, landing, registry, max_file_bytes=limit)
    assert (stats.rows_loaded, stats.rows_quarantined) == (1, 1)
    [(file, line, _, reason)] = quarantine_rows(con)
    assert (file, line) == (f"{FOLDER}/large.jsonl.gz", 0)
    assert f"decompresses to more than {limit} bytes" in reason


def test_corrupt_streams_are_quarantined_with_a_reason_and_the_rest_loads(
        con, registry, landing):
    z, g = zst(CONTENT), gz(CONTENT)
    deliver(landing, "cut.jsonl.gz", g[:len(g) // 2])
    deliver(landing, "cut.jsonl.zst", z[:len(z) - 10])
    deliver(landing, "junk.jsonl.zst", b"this is not zstd\n")
    deliver(landing, "junk.jsonl.gz", b"this is not gzip\n")
    deliver(landing, "empty.jsonl.gz", b"")
    # a valid frame whose header asks the decoder for a 16 MiB window
    wide = zstandard.ZstdCompressor(compression_params=zstandard.ZstdCompressionParameters(
        window_log=24)).compressobj()
    deliver(landing, "wide.jsonl.zst", wide.compress(CONTENT) + wide.flush())
    deliver(landing, "good.jsonl.zst", z)
    stats = ingest_gpu_telemetry(con, landing, registry)
    assert (stats.files_read, stats.rows_loaded, stats.rows_quarantined) == (7, 3, 7)
    rows = {f.rsplit("/", 1)[1]: (line, reason) for f, line, _, reason in quarantine_rows(con)
            if "good" not in f}
    assert {name: line for name, (line, _) in rows.items()} == {
        "cut.jsonl.gz": 0, "cut.jsonl.zst": 0, "junk.jsonl.zst": 0, "junk.jsonl.gz": 0,
        "empty.jsonl.gz": 0, "wide.jsonl.zst": 0}
    assert rows["cut.jsonl.gz"][1].startswith("file refused: not a valid gzip stream (EOFError")
    assert "expected a complete gzip-compressed JSON Lines file" in rows["cut.jsonl.gz"][1]
    assert rows["cut.jsonl.zst"][1].startswith("file refused: not a valid zstd stream "
                                               "(truncated")
    assert rows["junk.jsonl.zst"][1].startswith("file refused: not a valid zstd stream "
                                                "(no zstd frame at offset 0")
    assert rows["junk.jsonl.gz"][1].startswith("file refused: not a valid gzip stream "
                                               "(BadGzipFile")
    assert rows["empty.jsonl.gz"][1].startswith("file refused: not a valid gzip stream "
                                                "(empty file")
    assert "Frame requires too much memory" in rows["wide.jsonl.zst"][1]


def test_a_compressed_robot_file_loads_the_plain_file_records(con, registry, landing):
    text = (rec() + "\n" + rec(ts="2026-02-01T01:00:00Z") + "\n").encode()
    d = landing / "robot_telemetry" / DAY / "fleet-1"
    d.mkdir(parents=True)
    (d / "r.jsonl").write_bytes(text)
    (d / "r.jsonl.gz").write_bytes(gz(text))
    (d / "r.jsonl.zst").write_bytes(zst(text))
    (d / "bomb.jsonl.zst").write_bytes(_zstd_bomb())
    stats = ingest_robot_telemetry(con, landing, registry)
    assert (stats.files_read, stats.rows_loaded, stats.rows_quarantined) == (4, 6, 1)
    rows = con.execute("select source_file, line, robot_id, ts from raw.robot_records "
                       "order by source_file, line").fetchall()
    by_file = {}
    for file, line, robot, ts in rows:
        by_file.setdefault(file.rsplit("/", 1)[1], []).append((line, robot, ts))
    assert by_file["r.jsonl.gz"] == by_file["r.jsonl.zst"] == by_file["r.jsonl"]
    assert [line for line, _, _ in by_file["r.jsonl"]] == [1, 2]
    [(file, line, _, reason)] = quarantine_rows(con, "robot_telemetry")
    assert (file.rsplit("/", 1)[1], line) == ("bomb.jsonl.zst", 0)
    assert f"decompresses to more than {FILE_MAX_BYTES['robot_telemetry']} bytes" in reason


def test_the_late_data_sensor_sees_compressed_batches_until_ingested_and_never_their_sig(
        con, registry, landing):
    deliver(landing, "b.jsonl.zst", zst(CONTENT))
    deliver(landing, "c.jsonl.gz", gz(CONTENT))
    (landing / FOLDER / "notes.txt").write_text("not a delivery\n")
    new = new_landing_files(landing, ledger_files(con))
    assert [f.rel for f in new] == [f"{FOLDER}/b.jsonl.zst", f"{FOLDER}/c.jsonl.gz"]
    assert {str(f.first_day) for f in new} == {DAY}
    # the sensor's digest is the ledger's: the sha256 of the delivered bytes
    ingest_gpu_telemetry(con, landing, registry)
    ledger = dict(con.execute("select file, sha256 from raw.ingested_files").fetchall())
    assert {f.rel: f.sha256 for f in new} == ledger
    assert new_landing_files(landing, ledger_files(con)) == []


def test_a_robot_bomb_refused_once_is_never_decompressed_again(con, registry, landing,
                                                                monkeypatch):
    import ingestion.robots.reader as reader

    d = landing / "robot_telemetry" / DAY / "fleet-1"
    d.mkdir(parents=True)
    (d / "bomb.jsonl.zst").write_bytes(_zstd_bomb())
    decompressed: list[str] = []
    real = reader.delivery_content

    def counted(rel, data, max_bytes):
        decompressed.append(rel)
        return real(rel, data, max_bytes)

    monkeypatch.setattr(reader, "delivery_content", counted)
    first = ingest_robot_telemetry(con, landing, registry)
    second = ingest_robot_telemetry(con, landing, registry)
    assert (first.files_read, first.rows_quarantined) == (1, 1)
    assert (second.files_read, second.files_skipped) == (0, 1)
    assert decompressed == [f"robot_telemetry/{DAY}/fleet-1/bomb.jsonl.zst"]  # the first run's
    assert len(quarantine_rows(con, "robot_telemetry")) == 1
