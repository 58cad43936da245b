"""The stateful accounting rules of METHODOLOGY.md sections 2-5 as pure functions.

Everything here works on plain dataclasses and `decimal.Decimal` (token amounts as
Python ints): no warehouse, no orchestration. The dbt Python models of the project feed
these functions with the staged rows and write their results back to the warehouse.
"""
