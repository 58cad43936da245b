"""Write the demo book's registry and landing files (deterministic, write-once)."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

from tqdm import tqdm

from demo.book import DEFAULT_CHAIN_ID, DemoBook, build_portfolio, fleet_key_name
from demo.files import write_if_changed
from demo.gpu_telemetry import render_batch, sign_batch, simulate_gpus
from demo.invoices import build_invoices, render_invoice_files
from demo.registry import render_addresses, render_registry
from demo.robot_telemetry import simulate_robots


def build_book(end_day: date, days: int = 30, seed: int = 7, sample_interval_s: int = 3600,
               scale: float = 1.0, n_holders: int = 24, chain_id: int = DEFAULT_CHAIN_ID) -> DemoBook:
    """The whole book in memory (portfolio, telemetry simulation, invoices); writes nothing."""
    book = build_portfolio(end_day, days, seed, sample_interval_s, scale, n_holders, chain_id)
    book.gpu_sim = simulate_gpus(book)
    book.robot_sim = simulate_robots(book)
    book.invoices = build_invoices(book, book.gpu_sim)
    return book


def generate_offchain(data_dir: Path, end_day: date, days: int = 30, seed: int = 7,
                      sample_interval_s: int = 3600, progress: bool = True, *,
                      scale: float = 1.0, n_holders: int = 24,
                      chain_id: int = DEFAULT_CHAIN_ID) -> DemoBook:
    """Write registry/*.csv and landing/ for days [end_day - days + 1 .. end_day].

    Deterministic for the arguments: a second run finds identical files and leaves them
    untouched. addresses.csv keeps the contract rows that deployment added.
    """
    data_dir = Path(data_dir)
    book = build_book(end_day, days, seed, sample_interval_s, scale, n_holders, chain_id)
    registry = data_dir / "registry"
    landing = data_dir / "landing"
    for name, data in render_registry(book).items():
        write_if_changed(registry / name, data, immutable=False)
    addresses = render_addresses(book, registry / "addresses.csv")
    if addresses is not None:
        write_if_changed(registry / "addresses.csv", addresses, immutable=False)

    for rel, data in render_invoice_files(book.invoices).items():
        write_if_changed(landing / "invoices" / rel, data, immutable=True)

    sim = book.gpu_sim
    rows_by_node: dict[int, list[int]] = {}
    for r, ni in enumerate(sim.gpu_node):
        rows_by_node.setdefault(ni, []).append(r)
    jobs = [(d, ni) for d in range(book.days) for ni in range(len(book.nodes))]
    for d, ni in tqdm(jobs, desc="GPU telemetry (node-days)", unit="batch", disable=not progress,
                      mininterval=0.5):
        data = render_batch(book, sim, ni, d, rows_by_node[ni])
        if not data:
            continue  # node offline all day: it sent nothing
        node = book.nodes[ni]
        day = (book.first_day + timedelta(days=d)).isoformat()
        path = landing / "gpu_telemetry" / day / node.node_id / f"{node.node_id}-{day}.jsonl"
        sig_path = path.with_name(path.name + ".sig")
        if path.exists() and sig_path.exists() and path.read_bytes() == data:
            continue
        write_if_changed(path, data, immutable=True)
        write_if_changed(sig_path, sign_batch(data, node.key_name), immutable=True)

    for fleet, by_day in book.robot_sim.files.items():
        for d, data in by_day.items():
            day = (book.first_day + timedelta(days=d)).isoformat()
            path = landing / "robot_telemetry" / day / fleet / f"robots-{day}.jsonl"
            write_if_changed(path, data, immutable=True)
            # the fleet has a registered key (its robots' node_address): it signs each file
            write_if_changed(path.with_name(path.name + ".sig"),
                             sign_batch(data, fleet_key_name(fleet)), immutable=True)
    return book
