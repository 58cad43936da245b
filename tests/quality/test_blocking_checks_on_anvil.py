"""Each blocking gate, end to end: a small demo book on a real anvil, one input corrupted,
`aidnav run` for the day fails with a message naming the cause, and the oracle's
`latestDay()` does not move. A large move with an audited override then posts, and the
override is in the day's NAV report."""

from __future__ import annotations

import json
import shutil

import pytest
from tests.quality.anvil_book import D1, D2, D3, Book, book_with_d1_posted

# The tests share one book; each one leaves it as it found it (or, for the override test,
# with D2 posted), so their order does not matter.
pytestmark = [pytest.mark.chain, pytest.mark.slow, pytest.mark.xdist_group("quality_e2e")]


def _deliver_one_node_on_d3(b: Book) -> None:
    # a telemetry delivery fault on D3: all but one node's batches never arrive
    nodes = sorted((b.data / "landing" / "gpu_telemetry" / D3.isoformat()).iterdir())
    held = b.data.parent / "held_back"
    held.mkdir()
    for node in nodes[1:]:
        shutil.move(str(node), held / node.name)


@pytest.fixture(scope="module")
def book(tmp_path_factory: pytest.TempPathFactory):
    with book_with_d1_posted(tmp_path_factory.mktemp("quality_e2e"),
                             _deliver_one_node_on_d3) as b:
        yield b


def test_a_large_move_is_blocked_then_posts_with_an_audited_override(book: Book):
    # a legitimate but large event: a T-bill buffer of 100k USD lands on D2 (NAV +3.6 %)
    reserves = book.data / "registry" / "offchain_reserves.csv"
    reserves.write_text(reserves.read_text() + f"{D2},100000,T-bill buffer\n")
    assert book.latest_day() == D1  # the other tests of this module never post
    refused = book.run(D2)
    assert refused.returncode == 1
    assert "check nav_ready_to_publish failed" in refused.stderr
    assert "beyond the 100 bps guardrail" in refused.stderr
    assert book.latest_day() == D1
    assert not (book.data / "reports" / "nav" / f"{D2}.json").exists()

    override = book.data / "overrides" / f"{D2}.json"
    override.parent.mkdir(parents=True, exist_ok=True)
    override.write_text(json.dumps({"reason": "T-bill buffer bought 2026-11-19, memo IC-7",
                                    "approver": "risk@aidnav"}))
    allowed = book.run(D2)
    assert allowed.returncode == 0, allowed.stderr[-3000:]
    assert book.latest_day() == D2
    report = json.loads((book.data / "reports" / "nav" / f"{D2}.json").read_text())
    assert report["override"] == {"reason": "T-bill buffer bought 2026-11-19, memo IC-7",
                                  "approver": "risk@aidnav"}


def test_a_doctored_published_report_blocks_the_next_day(book: Book):
    posted = book.latest_day()  # D1, or D2 when the override test ran first
    path = book.data / "reports" / "nav" / f"{D1}.json"
    original = path.read_bytes()
    path.write_bytes(original.replace(b'"nav_usd"', b'"nav_usd" ', 1))
    try:
        refused = book.run(D3)
    finally:
        path.write_bytes(original)
    assert refused.returncode == 1
    assert "check published_reports_unchanged failed" in refused.stderr
    assert f"{D1}.json: sha256" in refused.stderr
    assert book.latest_day() == posted


def test_a_collapse_of_gpu_telemetry_coverage_blocks_the_day(book: Book):
    posted = book.latest_day()
    refused = book.run(D3)
    assert refused.returncode == 1
    assert "check nav_ready_to_publish failed" in refused.stderr
    assert "fleet GPU telemetry coverage" in refused.stderr and "pipeline fault" in refused.stderr
    assert book.latest_day() == posted


def test_a_deal_funding_that_differs_from_the_registry_blocks_the_day(book: Book):
    posted = book.latest_day()
    deals = book.data / "registry" / "deals.csv"
    original = deals.read_text()
    deals.write_text(original.replace("0x6b46c091d9c04c23bd1426f73fcc2f63e11e8874",
                                      "0x00000000000000000000000000000000000000aa", 1))
    try:
        refused = book.run(D3)
    finally:
        deals.write_text(original)
    assert refused.returncode == 1
    assert "check deal_funding_matches_registry failed" in refused.stderr
    assert "deal D-TH-001: no USDC transfer of 150000" in refused.stderr
    assert book.latest_day() == posted
