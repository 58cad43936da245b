"""Publishing a day: the pre-flight that decides whether a day may be posted, the report a
posting commits to (and its restatements), the idempotent publisher with its intents, and
what BI users read (the daily HTML report, its charts, the mart exports)."""
