"""Simulated state reports of the Robot-as-a-Service cleaning fleet (every 8 hours)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import numpy as np

from demo.book import DemoBook

REPORTS_PER_DAY = 3
ERROR_CODES = (("E-207", "brush entangled"), ("E-118", "water tank low"),
               ("E-331", "bumper sensor dirty"), ("E-402", "wheel slip"))


@dataclass
class RobotSimulation:
    # fleet_id -> day index -> JSON Lines bytes
    files: dict[str, dict[int, bytes]]
    records: int


def simulate_robots(book: DemoBook) -> RobotSimulation:
    rng = np.random.default_rng([book.seed, 3])
    robots = [a for a in book.assets if a.asset_type == "robot"]
    inc = book.incidents
    files: dict[str, dict[int, list[str]]] = {}
    count = 0
    t0 = datetime(book.first_day.year, book.first_day.month, book.first_day.day, tzinfo=timezone.utc)
    for i, r in enumerate(robots):
        age_days = (book.first_day - r.acquired_date).days
        op = int(age_days * 16 * 3600 * rng.uniform(0.9, 1.05))
        clean = int(op * 0.76)
        area = round(clean * 0.35, 1)
        dist = round(clean * 0.46, 1)
        water = round(clean * 0.0009, 1)
        seq = int(op / 30)
        offset_min = int(rng.integers(0, 20))
        open_error: dict | None = None
        for d in range(book.days):
            for rep in range(REPORTS_PER_DAY):
                ts = t0 + timedelta(days=d, hours=8 * rep, minutes=offset_min)
                # malls are cleaned mostly at night (KL is UTC+8): 16:00-24:00 UTC busiest
                hours = float(rng.uniform(4.5, 6.0) if rep == 2 else rng.uniform(4.0, 5.5))
                run = int(hours * 3600)
                if d in inc.robot_offline_days and r.asset_id == inc.robot_offline:
                    continue  # powered off: no report, counters frozen
                op += run
                c = int(run * rng.uniform(0.70, 0.82))
                clean += c
                area = round(area + c * rng.uniform(0.32, 0.38), 1)
                dist = round(dist + c * rng.uniform(0.42, 0.50), 1)
                water = round(water + c * 0.0009, 1)
                seq += run // 30
                errors = []
                if open_error is not None and rng.random() < 0.5:
                    open_error = None
                if open_error is None and rng.random() < 0.01:
                    code, _ = ERROR_CODES[int(rng.integers(0, len(ERROR_CODES)))]
                    open_error = {"code": code, "level": "WARNING",
                                  "since": (ts - timedelta(minutes=int(rng.integers(1, 50)))).strftime(
                                      "%Y-%m-%dT%H:%M:%SZ")}
                if r.asset_id == inc.robot_critical and d == inc.robot_critical_day and rep == 2:
                    errors.append({"code": "E-905", "level": "CRITICAL",
                                   "since": (ts - timedelta(minutes=37)).strftime("%Y-%m-%dT%H:%M:%SZ")})
                if open_error is not None:
                    errors.append(open_error)
                critical = any(e["level"] == "CRITICAL" for e in errors)
                mode = "SERVICE" if critical else ("CLEANING" if rep != 1 else
                                                   ("CHARGING" if rng.random() < 0.4 else "IDLE"))
                soc = round(float(rng.uniform(35, 95)), 1)
                rec = {
                    "robot_id": r.asset_id,
                    "ts": ts.strftime("%Y-%m-%dT%H:%M:%SZ"),
                    "seq": seq,
                    "mode": mode,
                    "task": {"task_id": f"t-{(d * 3 + rep) % 997}",
                             "status": "RUNNING" if mode == "CLEANING" else "PAUSED",
                             "completion_pct": int(rng.integers(5, 100))},
                    "battery": {"soc_pct": soc, "charging": mode == "CHARGING",
                                "voltage_v": round(23.0 + soc * 0.03, 1)},
                    "position": {"map_id": r.site.split("-", 1)[1], "x_m": round(float(rng.uniform(0, 80)), 1),
                                 "y_m": round(float(rng.uniform(0, 40)), 1),
                                 "theta_rad": round(float(rng.uniform(-3.14, 3.14)), 2), "localized": True},
                    "counters": {"operating_s": op, "cleaning_s": clean, "area_cleaned_m2": area,
                                 "distance_m": dist, "water_l": water},
                    "errors": errors,
                }
                files.setdefault(r.node_id, {}).setdefault(d, []).append(
                    json.dumps(rec, separators=(",", ":")))
                count += 1
    out: dict[str, dict[int, bytes]] = {}
    for fleet, by_day in files.items():
        out[fleet] = {}
        for d, lines in by_day.items():
            lines.sort(key=lambda s: (s[s.index('"ts":'):s.index('"ts":') + 27], s[:30]))
            out[fleet][d] = ("\n".join(lines) + "\n").encode()
    return RobotSimulation(out, count)
