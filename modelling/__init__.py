"""The dbt side seen from Python: how dbt is invoked on the warehouse (for the daily job and
for replay alike) and the replay of a bundle into the marts without any RPC."""
