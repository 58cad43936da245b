"""The process's great-expectations context is kept between suites (building one costs
seconds), so nothing of one validation may leak into the next or stay in memory."""

from __future__ import annotations

import gc
import weakref

import great_expectations as gx
import numpy as np
import pandas as pd

from quality.gx_runner import run_suite


def _in_range(column: str) -> list:
    return [gx.expectations.ExpectColumnValuesToBeBetween(column=column, min_value=0,
                                                          max_value=10)]


def test_a_suite_run_again_sees_only_its_new_frame():
    good = pd.DataFrame({"id": ["a", "b"], "v": [1, 2]})
    bad = pd.DataFrame({"id": ["a", "b", "c"], "v": [1, 11, 12]})
    first = run_suite("t.reused", good, _in_range("v"), ["id"])
    second = run_suite("t.reused", bad, _in_range("v"), ["id"])
    third = run_suite("t.reused", good, _in_range("v"), ["id"])
    assert first.passed and third.passed and (first.rows, third.rows) == (2, 2)
    [failure] = second.failures
    assert second.rows == 3 and failure.unexpected_count == 2
    assert failure.sample_values == (11, 12)
    assert [row["id"] for row in failure.rows] == ["b", "c"]


def test_a_validated_frame_is_freed_without_a_collection():
    frames = [pd.DataFrame({"id": np.arange(1000).astype(str), "v": np.arange(1000) % 10})
              for _ in range(2)]
    refs = [weakref.ref(f) for f in frames]
    gc.disable()  # freed by reference counting alone: nothing of GX's holds the frame
    try:
        for i, frame in enumerate(frames):
            assert run_suite(f"t.freed_{i}", frame, _in_range("v"), ["id"]).passed
        del frame, frames
        assert [r() is None for r in refs] == [True, True]
    finally:
        gc.enable()
