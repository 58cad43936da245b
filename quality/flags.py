"""Business flags (warnings, never blocking): each returns the offending rows as dicts."""

from __future__ import annotations

from datetime import date
from typing import Any

import duckdb


def _rows(con: duckdb.DuckDBPyConnection, sql: str, params: list[Any]) -> list[dict[str, Any]]:
    cur = con.execute(sql, params)
    names = [d[0] for d in cur.description]
    return [dict(zip(names, r)) for r in cur.fetchall()]


def collateral_below_minimum(con: duckdb.DuckDBPyConnection, start: date, end: date) -> list[dict[str, Any]]:
    """Deal-days in covenant breach, as the deal mart decides it (one owner for the rule);
    the minimum shown is the registry's, with its default already filled in."""
    return _rows(con, """
        select p.day, p.deal_id, p.collateral_ratio, d.min_collateral_ratio
        from marts.fct_deal_position_daily p join raw.deals d using (deal_id)
        where p.day between ? and ? and p.covenant_breach
        order by p.day, p.deal_id""", [start, end])


def deals_past_due(con: duckdb.DuckDBPyConnection, start: date, end: date) -> list[dict[str, Any]]:
    return _rows(con, """
        select day, deal_id, dpd, receivable from marts.fct_deal_position_daily
        where day between ? and ? and dpd > 0 order by day, deal_id""", [start, end])


def assets_offline(con: duckdb.DuckDBPyConnection, start: date, end: date) -> list[dict[str, Any]]:
    return _rows(con, """
        select day, asset_id, 'gpu' as kind, offline_streak_days from marts.fct_gpu_operation_daily
        where day between ? and ? and status = 'offline'
        union all
        select day, asset_id, 'robot', offline_streak_days from marts.fct_robot_operation_daily
        where day between ? and ? and status = 'offline'
        order by 1, 2""", [start, end, start, end])


def invoiced_hours_above_uptime(con: duckdb.DuckDBPyConnection, start: date, end: date) -> list[dict[str, Any]]:
    """GPU invoices whose usage hours exceed the hours the deal's GPUs were up over the
    invoice's service period (the provider billing capacity that was offline). Latest
    version of each invoice, not void, service period overlapping the window."""
    return _rows(con, """
        with inv as (
            select * from raw.invoices
            qualify row_number() over (partition by invoice_id order by version desc) = 1),
        up as (
            select i.invoice_id, coalesce(sum(g.uptime_hours), 0) as uptime_hours
            from inv i
            join raw.assets a on a.deal_id = i.deal_id and a.asset_type = 'gpu'
            left join marts.fct_gpu_operation_daily g
              on g.asset_id = a.asset_id and g.day between i.period_start and i.period_end
            group by i.invoice_id)
        select i.invoice_id, i.deal_id, i.period_start, i.period_end, i.usage_hours,
               up.uptime_hours
        from inv i join up using (invoice_id)
        where i.status <> 'void' and i.usage_hours > 0
          and i.period_end >= ? and i.period_start <= ?
          -- only periods the telemetry fully covers
          and not exists (select 1 from raw.assets a where a.deal_id = i.deal_id
                          and a.asset_type = 'gpu' and a.acquired_date > i.period_start)
          and i.period_start >= (select min(day) from marts.fct_gpu_operation_daily)
          and i.period_end <= (select max(day) from marts.fct_gpu_operation_daily)
          and i.usage_hours > up.uptime_hours * 1.0001
        order by i.invoice_id""", [start, end])


def unsigned_robot_deliveries(con: duckdb.DuckDBPyConnection, start: date, end: date) -> list[dict[str, Any]]:
    """Fleets whose records of the window (UTC days of `ts`) were accepted unsigned: their
    fleet has no registered node_address, so nothing proves who wrote the files (a signed
    fleet's files are verified at ingestion, `ingestion/robots/reader.py`). One row per
    fleet: files and records loaded, the days they cover."""
    return _rows(con, """
        select r.fleet_id, count(distinct r.source_file) as files, count(*) as records,
               min(cast(timezone('UTC', r.ts) as date)) as first_day,
               max(cast(timezone('UTC', r.ts) as date)) as last_day
        from raw.robot_records r
        where cast(timezone('UTC', r.ts) as date) between ? and ?
          and not exists (select 1 from raw.assets a where a.asset_type = 'robot'
                           and a.node_id = r.fleet_id and a.node_address is not null)
        group by r.fleet_id order by r.fleet_id""", [start, end])
