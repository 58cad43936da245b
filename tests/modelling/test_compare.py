"""The comparison used by the replay tests must see a wrong cell."""

from __future__ import annotations

from tests.modelling.compare import cell_mismatch, compare_file


def test_usd_tolerance_and_exact_columns():
    assert not cell_mismatch("nav_usd", "1.0000000000", "1.0000000001")
    assert cell_mismatch("nav_usd", "1", "1.000000002")
    assert cell_mismatch("reward_wei", "10", "11")
    assert cell_mismatch("root", "0xab", "0xAB")
    assert cell_mismatch("apy_7d", "", "0")
    assert not cell_mismatch("twab", "20", "20.000")


def test_compare_file_reports_the_cell(tmp_path):
    (tmp_path / "e.csv").write_text("day,reward_wei\n2026-01-26,5\n")
    (tmp_path / "a.csv").write_text("day,reward_wei\n2026-01-26,6\n")
    problems = compare_file(tmp_path / "e.csv", tmp_path / "a.csv")
    assert problems and "reward_wei" in problems[0] and "'6'" in problems[0]
