"""The benchmark's baseline over the synthetic signed fleet (`demo.bench_gpu`), delivered
compressed as the node agent writes (zstd by default, gzip) or plain: every signature
checked, then one DuckDB pass that validates, deduplicates and sums per GPU. Expected
figures are worked out by hand from the fleet's recipe."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal

import pytest

from demo.bench import baseline_gpu_days
from demo.bench_gpu import node_key, synth_day
from ingestion.nvml.signature import sign_batch
from tests.lake.lake_fixtures import NOW, REGISTRY, sample, write_batch

DAY = date(2026, 3, 1)
# the recipe: GPU slot i of a node reports at every minute m of the day, util (m + i) % 101,
# energy 1,000,000 + 60 m x 700 mJ, so 1,439 deltas of 42,000 mJ each
DAY_ENERGY_MJ = Decimal(1439 * 42_000)


def util_sum(slot: int) -> Decimal:
    return Decimal(sum((m + slot) % 101 for m in range(1440)))


@pytest.mark.parametrize("codec, suffix", [("zstd", ".jsonl.zst"), ("gzip", ".jsonl.gz"),
                                           ("none", ".jsonl")])
def test_baseline_reads_signed_batches_in_every_codec_and_counts_only_valid_samples(
        tmp_path, codec, suffix):
    landing = tmp_path / "landing"
    assert synth_day(landing, REGISTRY, compression=codec) == 16 * 1440
    names = {p.name for p in (landing / "gpu_telemetry" / "2026-03-01").glob("*/*")}
    assert len(names) == 2 * 24 * 2 and all(n.endswith((suffix, suffix + ".sig")) for n in names)

    last = 1_000_000 + 1439 * 60 * 700  # every GPU's 23:59 reading
    # a later delivery by node 0: a copy of GPU 0's first sample (its path sorts after the
    # original, so it is ignored), a new reading of GPU 1, GPU 2 at 2,500 W (implausible),
    # GPU 9 (registered to node 1, so not node 0's to sign)
    write_batch(landing, "2026-03-02", 0, "late", [
        sample("2026-03-01T00:00:00Z", 0, 5),
        sample("2026-03-01T23:59:30Z", 1, last + 100, util=77),
        {**sample("2026-03-01T23:59:40Z", 2, last + 10), "power_w": 2500},
        sample("2026-03-01T23:59:50Z", 9, last + 10)])
    # a batch in node 1's folder signed with node 0's key: refused whole
    rel = write_batch(landing, "2026-03-02", 1, "forged",
                      [sample("2026-03-01T23:59:30Z", 8, last + 100)])
    data = (landing / rel).read_bytes()
    (landing / (rel + ".sig")).write_text(json.dumps(sign_batch(data, node_key(0))))

    base = baseline_gpu_days(tmp_path, DAY, DAY, now=NOW, registry=REGISTRY)
    expected = []
    for g in range(16):
        n, util, energy = 1440, util_sum(g % 8), DAY_ENERGY_MJ
        if g == 1:
            n, util, energy = 1441, util + 77, energy + 100
        expected.append((DAY, f"GPU-bench-{g:06d}", n, util, energy))
    assert base.rows == expected
    assert base.batches == 2 * 24 + 2 and base.samples == 16 * 1440 + 1
