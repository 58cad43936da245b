"""Where the test suite finds its reference data: inside the repository, under
tests/fixtures/, never beside it. Every test that needs the worked example or the NVML
probe takes its path from here (or from the fixtures of tests/conftest.py)."""

from __future__ import annotations

from pathlib import Path

FIXTURES = Path(__file__).resolve().parent / "fixtures"

# The worked example: registry, landing deliveries and chain events (`input/`) and the
# independently computed marts they must give (`expected/`), over 2026-01-25..2026-03-05.
WORKED_EXAMPLE = FIXTURES / "worked_example"
WORKED_EXAMPLE_INPUT = WORKED_EXAMPLE / "input"
WORKED_EXAMPLE_EXPECTED = WORKED_EXAMPLE / "expected"

# Real NVML readings from one H100 (see tests/fixtures/nvml/README.md).
NVML_H100_PROBE = FIXTURES / "nvml" / "h100_probe.json"
