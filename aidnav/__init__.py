"""aidnav: the daily NAV, yield accrual and staker-rewards pipeline."""

__version__ = "0.1.0"
