"""Delivery limits: every bound a landing file, line or value must respect to be loaded.
One place for all of them; the readers import them, the docs quote them.

Numbers are bounded so that whatever the landing zone holds, every mart's arithmetic stays
inside the warehouse types (DECIMAL(38,18): 20 integer digits; DECIMAL(38,6): 32; HUGEINT:
about 1.7e38). A value outside its bound is quarantined (file, line, field, the bound),
never loaded: a loaded value that overflows a mart would fail every later run, because the
row stays in `raw` and its file in the ledger.

Each bound is far above anything physical, and far enough below the type limit that the
sums of a day stay inside it. The derivations below name the mart expression each bound
protects.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

# --- GPU samples (METHODOLOGY section 1): (lower, upper) inclusive, per field -------------
# Plausibility ranges of the methodology: util 0-100 %, power 0-2000 W, temperature
# -20-130 C.
#
# energy_mj, a lifetime counter in mJ. fct_gpu_operation_daily computes energy_kwh as
# exact_div_18(energy_mj * 1e6, 3.6e15), i.e. HUGEINT energy_mj * 1e6 * 1e18 < 1.7e38: a
# GPU-day's sum of positive deltas must stay below 1.7e14 mJ. One delta is at most the
# counter itself, so the counter is bounded at 1e14 mJ = 1e11 J, 3.2 years at 1 kW since the
# driver was last loaded (NVML restarts the counter then); a physical day at the 2000 W
# bound is 1.728e11 mJ, a thousandth of it.
ENERGY_MJ_MAX = Decimal(10) ** 14
# mem_used_mib: DOUBLE, not used by a mart; 1e9 MiB is about 1 PiB per GPU.
MEM_USED_MIB_MAX = 10**9
# sm_clock_mhz: DOUBLE, not used by a mart; 1e5 MHz is 100 GHz.
SM_CLOCK_MHZ_MAX = 10**5
# xid_errors, ecc_dbe_count: INTEGER columns of raw.gpu_samples.
INT32_MAX = 2**31 - 1

GPU_NUMERIC: dict[str, tuple[int | Decimal, int | Decimal]] = {
    "gpu_util_pct": (0, 100),
    "mem_util_pct": (0, 100),
    "mem_used_mib": (0, MEM_USED_MIB_MAX),
    "power_w": (0, 2000),
    "temp_c": (-20, 130),
    "energy_mj": (0, ENERGY_MJ_MAX),
    "sm_clock_mhz": (0, SM_CLOCK_MHZ_MAX),
    "xid_errors": (0, INT32_MAX),
    "ecc_dbe_count": (0, INT32_MAX),
}

# --- Robot records: lifetime counters ---------------------------------------------------
# operating_s, cleaning_s: fct_robot_operation_daily computes hours as
# exact_div_18(seconds * 1e6, 3.6e9), HUGEINT seconds * 1e6 * 1e18 < 1.7e38: a robot-day's
# sum of positive deltas must stay below 1.7e14 s. Bounded at 1e10 s (317 years), so that
# even 17,000 counter resets in one day (a record every 5 s) stay inside.
ROBOT_SECONDS_MAX = Decimal(10) ** 10
# area_cleaned_m2: cast to DECIMAL(38,18) in the mart, so a robot-day's sum of positive
# deltas must stay below 1e20 m2. Bounded at 1e10 m2 (a robot at 2,000 m2/h for 570
# years), which leaves room for 1e10 resets in a day.
ROBOT_AREA_M2_MAX = Decimal(10) ** 10

ROBOT_COUNTERS: dict[str, tuple[int | Decimal, int | Decimal]] = {
    "operating_s": (0, ROBOT_SECONDS_MAX),
    "cleaning_s": (0, ROBOT_SECONDS_MAX),
    "area_cleaned_m2": (0, ROBOT_AREA_M2_MAX),
}

# --- Invoices ----------------------------------------------------------------------------
# amount_usd: a deal's revenue share, receivable and income are sums over every invoice of
# the deal (x share pct <= 1, / period days), and the NAV sums every deal; all are
# DECIMAL(38,18) (< 1e20 USD). Bounded at 1e12 USD an invoice (credit notes: >= -1e12), so
# 1e8 invoices at the bound still fit. Scale: the warehouse keeps 18 decimal places, so a
# value with more would be rounded on load; it is quarantined instead.
INVOICE_AMOUNT_USD_MAX = Decimal(10) ** 12
# usage_hours: DECIMAL(38,18) in raw, not summed by a mart; same bound as amounts.
INVOICE_USAGE_HOURS_MAX = Decimal(10) ** 12
DECIMAL_PLACES_MAX = 18
# A service period covers at most a leap year (period_end - period_start + 1 days); its
# revenue is spread over its days, so a 0001..9999 period would spread one invoice over
# 3.65 million days of the deal walk.
INVOICE_PERIOD_DAYS_MAX = 366

# --- Time ---------------------------------------------------------------------------------
# A GPU sample or robot record may be dated at most this long after the end of its
# delivery folder's day (a batch cut at 23:59 and delivered after midnight, clocks a few
# minutes apart), and never after the run's clock: a node cannot report uptime in advance.
TS_AFTER_DELIVERY_DAY_MAX = timedelta(days=1)

# --- Files and lines, per source; checked before a file is read ---------------------------
# A node's daily batch is about 0.4 MB per GPU (1,440 samples of ~300 bytes); a fleet's
# daily robot file about 0.3 MB per robot (2,880 records of ~100 bytes at the contract's
# 30 s); an invoice file a few rows. The limits leave two orders of magnitude above that.
FILE_MAX_BYTES = {
    "gpu_telemetry": 64 << 20,
    "robot_telemetry": 64 << 20,
    "invoices": 16 << 20,
}
# A compressed telemetry delivery (`.jsonl.gz`, `.jsonl.zst`) is bounded twice by its
# source's figure: its size as delivered, checked before it is read, and its content once
# decompressed. Decompression is streamed and stops one chunk past the limit, so a small
# file that expands to gigabytes (a "zip bomb") costs at most the limit in memory and is
# refused whole. A batch compresses about 10x, so the delivered bound is never the tighter.
#
# A zstd frame names the window its decoder must allocate (up to 2 GB); a frame asking for
# more than this is refused as an invalid stream. Level 19 uses 8 MiB; the agent's level 3,
# 2 MiB.
ZSTD_WINDOW_MAX_BYTES = 8 << 20
# One sample, record or invoice row: a few hundred bytes; 64 KiB leaves room for a robot's
# long error list.
LINE_MAX_BYTES = {
    "gpu_telemetry": 64 << 10,
    "robot_telemetry": 64 << 10,
    "invoices": 64 << 10,
}
# A batch's .sig document is about 250 bytes.
SIG_MAX_BYTES = 4 << 10
# How much of a refused line is kept in the quarantine row.
RECORD_PREVIEW_CHARS = 200


def bound_text(lo: int | Decimal, hi: int | Decimal) -> str:
    """`lo..hi` as the reasons quote it (1e14 rather than 100000000000000)."""
    return f"{_num(lo)}..{_num(hi)}"


def sql_number(v: int | Decimal) -> str:
    """An exact SQL literal of a bound (no exponent, so never a DOUBLE)."""
    return format(Decimal(v), "f")


def _num(v: int | Decimal) -> str:
    v = Decimal(v)
    if v != 0 and abs(v) >= 10**6 and v == v.to_integral_value():
        digits = len(str(abs(int(v)))) - 1
        if abs(v) == Decimal(10) ** digits:
            return ("-" if v < 0 else "") + f"1e{digits}"
    return str(int(v)) if v == v.to_integral_value() else str(v)
