"""Run a list of great-expectations expectations over a DataFrame, plainly.

GX through SQLAlchemy on DuckDB is broken upstream, so every suite validates the
partition's rows as a pandas DataFrame, in one ephemeral context per process.

A run's validations can also go to great-expectations' own Data Docs: one local site per
run directory (index.html, a page per validation and per suite). The site's validation
results are kept as JSON under `<docs dir>/_gx/`, so every process of a run (Dagster runs
each check in its own process) adds to the same index; a file lock orders their writes.
GX's pages load their styles and scripts from CDNs; so that a site reads offline, its index
also lists the run's validations as plain HTML and each expectation's status is a word.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import threading
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pandas as pd

from quality.data_docs_offline import offline_page, vendor_assets

SAMPLE_SIZE = 5
ROW_KEYS = 20  # failing rows whose keys a Failure keeps
DOCS_MAX_ROWS = 1000  # unexpected values / row keys kept per expectation in the Data Docs
_CONTEXT: Any = None
_LOCK = threading.RLock()  # the context and its stores are shared by the process's threads
_SITES: OrderedDict[Path, _Site] = OrderedDict()  # docs dir -> its site, most recent last
_MAX_SITES = 4
_SOURCE = "aidnav"  # the pandas data source of the process's context
_BATCHES: dict[str, Any] = {}  # data asset name -> its batch definition in _SOURCE
_DOCS_DIR: ContextVar[Path | None] = ContextVar("aidnav_data_docs_dir", default=None)


@dataclass(frozen=True)
class Failure:
    expectation: str
    column: str | None
    unexpected_count: int
    sample_values: tuple[Any, ...]
    rows: tuple[dict[str, Any], ...]  # the key columns of the failing rows (up to ROW_KEYS)

    def describe(self) -> str:
        where = f" on {self.column}" if self.column else ""
        return (f"{self.expectation}{where}: {self.unexpected_count} row(s), "
                f"e.g. {list(self.sample_values)}")


@dataclass(frozen=True)
class SuiteResult:
    name: str
    rows: int
    evaluated: int
    failures: tuple[Failure, ...] = field(default_factory=tuple)

    @property
    def passed(self) -> bool:
        return not self.failures


@dataclass(frozen=True)
class _Site:
    tag: str
    builder: Any          # great_expectations SiteBuilder, kept so its templates compile once
    validations: Any      # ValidationResultsStore under <docs dir>/_gx/validations
    expectations: Any     # ExpectationsStore under <docs dir>/_gx/expectations


def _context() -> Any:
    global _CONTEXT
    with _LOCK:
        if _CONTEXT is None:
            os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
            import great_expectations as gx

            ctx = gx.get_context(mode="ephemeral")
            ctx.variables.progress_bars = {"globally": False}
            _CONTEXT = ctx
        return _CONTEXT


def _batch_definition(ctx: Any, name: str) -> Any:
    """The whole-frame batch definition of data asset `name`, in the process's one pandas
    data source: made on first use and kept, since every data source or asset added or
    removed writes the context's whole configuration again (about 65 ms a suite)."""
    if name not in _BATCHES:
        if _SOURCE not in ctx.data_sources.all():
            ctx.data_sources.add_pandas(_SOURCE)
        asset = ctx.data_sources.get(_SOURCE).add_dataframe_asset(name)
        _BATCHES[name] = asset.add_batch_definition_whole_dataframe("all")
    return _BATCHES[name]


def _forget_batches(ctx: Any) -> None:
    """Drop the frames the data source's execution engine keeps from its last validations:
    the source lives as long as the process, and would otherwise hold a frame per suite."""
    manager = ctx.data_sources.get(_SOURCE).get_execution_engine().batch_manager
    manager.reset_batch_cache()
    manager.batch_data_cache.clear()


def _plain(value: Any) -> Any:
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return str(value)


def docs_index(docs_dir: Path) -> Path:
    """Where the Data Docs site of `docs_dir` has its index page."""
    return docs_dir / "index.html"


@contextmanager
def data_docs(docs_dir: Path) -> Iterator[Path]:
    """Within the block, every suite run by this thread (or task) without an explicit
    `docs_dir` also goes to the Data Docs site at `docs_dir`; yields its index.html path."""
    token = _DOCS_DIR.set(docs_dir)
    try:
        yield docs_index(docs_dir)
    finally:
        _DOCS_DIR.reset(token)


def run_suite(name: str, df: pd.DataFrame, expectations: list[Any], key_columns: list[str],
              docs_dir: Path | None = None) -> SuiteResult:
    """Validate `df` against `expectations`; failures carry counts, samples and row keys.

    With `docs_dir` (or inside `data_docs(...)`) the validation is added to that directory's
    Data Docs site, under the suite name `name`."""
    import great_expectations as gx
    from great_expectations.core.run_identifier import RunIdentifier

    docs_dir = docs_dir if docs_dir is not None else _DOCS_DIR.get()
    run_id = RunIdentifier(run_name=docs_dir.name if docs_dir is not None else None,
                           run_time=datetime.now(timezone.utc))
    keys = [c for c in key_columns if c in df.columns]
    result_format: dict[str, Any] = {"result_format": "COMPLETE"}
    if keys and len(df):
        result_format["unexpected_index_column_names"] = keys
    with _LOCK:
        ctx = _context()
        created: list[Any] = []
        try:
            batch = _batch_definition(ctx, name)
            suite = ctx.suites.add(gx.ExpectationSuite(name=name))
            created.append(lambda: ctx.suites.delete(name))
            for expectation in expectations:
                suite.add_expectation(expectation)
            validation = ctx.validation_definitions.add(
                gx.ValidationDefinition(name=name, data=batch, suite=suite))
            created.append(lambda: ctx.validation_definitions.delete(name))
            outcome = validation.run(batch_parameters={"dataframe": df},
                                     result_format=result_format, run_id=run_id)
            store = ctx.validation_results_store  # in memory: keep the process from growing
            for key in store.list_keys():
                if key.run_id == run_id:
                    store.remove_key(key)
        finally:
            for delete in reversed(created):  # names are reused by the next run of the suite
                delete()
            if _BATCHES:
                _forget_batches(ctx)
        if docs_dir is not None:
            _add_to_data_docs(ctx, docs_dir, name, suite, outcome, run_id)
    failures = []
    for r in outcome.results:
        if r.success:
            continue
        kwargs = r.expectation_config.kwargs
        res = r.result or {}
        column = kwargs.get("column") or (
            f"{kwargs.get('column_A')},{kwargs.get('column_B')}" if "column_A" in kwargs
            else ",".join(kwargs.get("column_list", [])) or None
        )
        unexpected = res.get("unexpected_list") or res.get("partial_unexpected_list") or []
        if not unexpected and "observed_value" in res:
            unexpected = [res["observed_value"]]
        index_rows = res.get("unexpected_index_list") or []
        failures.append(Failure(
            expectation=r.expectation_config.type,
            column=column,
            unexpected_count=int(res.get("unexpected_count") or (1 if not index_rows else len(index_rows))),
            sample_values=tuple(_plain(v) for v in list(unexpected)[:SAMPLE_SIZE]),
            rows=tuple(
                {k: _plain(v) for k, v in row.items()} if isinstance(row, dict) else {"index": _plain(row)}
                for row in index_rows[:ROW_KEYS]
            ),
        ))
    return SuiteResult(name=name, rows=len(df), evaluated=len(outcome.results), failures=tuple(failures))


# ---------------------------------------------------------------- Data Docs
def _site(ctx: Any, docs_dir: Path) -> _Site:
    """The process's handle on the site at `docs_dir`: two stores and a site builder."""
    from great_expectations.render.renderer.site_builder import SiteBuilder

    docs_dir = docs_dir.resolve()
    if docs_dir in _SITES:
        _SITES.move_to_end(docs_dir)
        return _SITES[docs_dir]
    tag = hashlib.sha256(str(docs_dir).encode()).hexdigest()[:16]

    def files(sub: str) -> dict[str, Any]:
        return {"class_name": "TupleFilesystemStoreBackend", "base_directory": str(docs_dir / sub)}

    site = _Site(
        tag=tag,
        validations=ctx.add_store(f"validations_{tag}", {
            "class_name": "ValidationResultsStore", "store_backend": files("_gx/validations")}),
        expectations=ctx.add_store(f"expectations_{tag}", {
            "class_name": "ExpectationsStore", "store_backend": files("_gx/expectations")}),
        builder=SiteBuilder(
            data_context=ctx,
            store_backend=files("."),
            site_name=f"quality {docs_dir.name}",
            show_how_to_buttons=False,
            site_section_builders={
                "expectations": {"source_store_name": f"expectations_{tag}"},
                "validations": {"source_store_name": f"validations_{tag}"},
                "profiling": "None",
            },
        ),
    )
    _SITES[docs_dir] = site
    while len(_SITES) > _MAX_SITES:
        _, old = _SITES.popitem(last=False)
        ctx.delete_store(f"validations_{old.tag}")
        ctx.delete_store(f"expectations_{old.tag}")
    return site


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    """An exclusive lock on `path` across processes (each check of a run is one)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _for_docs(outcome: Any, name: str) -> Any:
    """The validation result as the site shows it: suite `name`, lists of unexpected values
    and row keys cut at DOCS_MAX_ROWS so a badly broken window still renders quickly."""
    from great_expectations.core.expectation_validation_result import (
        ExpectationSuiteValidationResult,
        ExpectationValidationResult,
    )

    results = []
    for r in outcome.results:
        res = dict(r.result or {})
        for key in ("unexpected_list", "unexpected_index_list"):
            if isinstance(res.get(key), list):
                res[key] = res[key][:DOCS_MAX_ROWS]
        res.pop("unexpected_index_query", None)  # the same row positions again, as text
        results.append(ExpectationValidationResult(
            success=r.success, expectation_config=r.expectation_config, result=res,
            meta=r.meta, exception_info=r.exception_info))
    meta = dict(outcome.meta)  # pages name the data asset from the batch spec
    meta["batch_spec"] = {**dict(meta.get("batch_spec") or {}), "data_asset_name": name}
    return ExpectationSuiteValidationResult(
        success=outcome.success, results=results, suite_name=name,
        suite_parameters=outcome.suite_parameters, statistics=outcome.statistics,
        meta=meta, batch_id=outcome.batch_id)


def _add_to_data_docs(ctx: Any, docs_dir: Path, name: str, suite: Any, outcome: Any,
                      run_id: Any) -> Path:
    """Store the validation under `docs_dir` and render its pages and the site's index."""
    from great_expectations.data_context.types.resource_identifiers import (
        ExpectationSuiteIdentifier,
        ValidationResultIdentifier,
    )

    site = _site(ctx, docs_dir)
    suite_key = ExpectationSuiteIdentifier(name=name)
    key = ValidationResultIdentifier(suite_key, run_id, batch_identifier=name)
    with _locked(docs_dir / "_gx" / ".lock"):
        site.validations.set(key, _for_docs(outcome, name))
        site.expectations.set(suite_key, suite)
        # SiteBuilder.build, less its copy of the static assets (4 MB) on every call
        for section in site.builder.site_section_builders.values():
            section.build(resource_identifiers=[key, suite_key])
        copied = docs_dir / "_gx" / "static_copied"
        if not copied.exists():
            site.builder.target_store.copy_static_assets()
            copied.touch()
        _label_status_icons(docs_dir / _validation_page(name, run_id))
        _, links = site.builder.site_index_builder.build()
        _add_static_listing(docs_index(docs_dir), docs_dir.name, (links or {}).get(
            "validations_links", []))
        vendor_assets(docs_dir)
        for page in (docs_dir / _validation_page(name, run_id),
                     docs_dir / _expectations_page(name), docs_index(docs_dir)):
            offline_page(page, docs_dir)
    return docs_index(docs_dir)


# GX's pages take Bootstrap, jQuery and Font Awesome from CDNs, and the index's tables are
# filled in by a script from them: offline the index lists nothing and the expectations'
# status column is a blank icon. The validation pages' tables are plain HTML, so they only
# get a status word; the index gets a server-rendered list of the run's validations.
_ICONS = {
    icon: f'{icon} <span class="aidnav-status">{word}</span>'
    for icon, word in (('<i class="fas fa-check-circle text-success" ></i>', "passed"),
                       ('<i class="fas fa-times text-danger" ></i>', "failed"))
}
_LISTING_ID = "aidnav-run-validations"


def _validation_page(name: str, run_id: Any) -> Path:
    """The validation's page within the site, laid out as GX's HtmlSiteStore writes it."""
    return Path("validations", *name.split("."), *run_id.to_tuple(), f"{name}.html")


def _expectations_page(name: str) -> Path:
    """The suite's page within the site, laid out as GX's HtmlSiteStore writes it."""
    *folders, leaf = name.split(".")
    return Path("expectations", *folders, f"{leaf}.html")


def _write(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def _label_status_icons(page: Path) -> None:
    """Put a word next to each expectation's pass/fail icon on `page`."""
    if not page.is_file():
        return
    text = page.read_text(encoding="utf-8")
    labelled = text
    for icon, with_word in _ICONS.items():
        labelled = labelled.replace(icon, with_word)
    if labelled != text:
        _write(page, labelled)


def _utc(moment: Any) -> str:
    if not isinstance(moment, datetime):
        return "" if moment is None else str(moment)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


def _listing(run_name: str, links: list[dict[str, Any]]) -> str:
    """The run's validations as a plain HTML table: failed first, then by suite and time."""
    from html import escape

    rows = sorted(links, key=lambda link: (link.get("validation_success") is not False,
                                           str(link.get("expectation_suite_name")),
                                           _utc(link.get("run_time"))))
    failed = sum(1 for link in rows if link.get("validation_success") is False)
    body = []
    for link in rows:
        ok = link.get("validation_success")
        status = "Passed" if ok else ("Failed" if ok is False else "Unknown")
        colour = "#1b7f3b" if ok else "#b00020"
        suite = escape(str(link.get("expectation_suite_name")))
        page = escape(str(link.get("filepath")), quote=True)
        suite_page = link.get("expectation_suite_filepath")
        suite_cell = (f'<a href="{escape(str(suite_page), quote=True)}">{suite}</a>'
                      if suite_page else suite)
        body.append(
            f'<tr class="aidnav-{status.lower()}">'
            f'<td style="color:{colour};font-weight:bold">{status}</td>'
            f'<td><a href="{page}">{suite}</a></td>'
            f'<td>{escape(str(link.get("asset_name") or ""))}</td>'
            f'<td>{escape(_utc(link.get("run_time")))}</td>'
            f'<td>{suite_cell}</td></tr>')
    cell = "border:1px solid #ccc;padding:2px 8px;text-align:left"
    return (
        f'<div id="{_LISTING_ID}" class="col-12 mb-4">'
        f"<style>#{_LISTING_ID} td, #{_LISTING_ID} th {{{cell}}}</style>"
        f"<h2>Validations of run {escape(run_name)}</h2>"
        f"<p>{len(rows)} validation(s): {failed} failed, {len(rows) - failed} passed.</p>"
        '<table style="border-collapse:collapse">'
        "<thead><tr><th>Status</th><th>Validation</th><th>Data asset</th>"
        "<th>Run time</th><th>Expectation suite</th></tr></thead>"
        f"<tbody>{''.join(body)}</tbody></table></div>\n")


def _add_static_listing(index: Path, run_name: str, links: list[dict[str, Any]]) -> None:
    """Put the run's validations into GX's index page as HTML that needs no script."""
    from html import escape

    page = index.read_text(encoding="utf-8") if index.is_file() else ""
    listing = _listing(run_name, links)
    tabs = page.rfind("<div", 0, max(page.find("ge-index-page-tabs-container"), 0))
    body = page.find(">", page.find("<body")) + 1 if "<body" in page else 0
    if tabs >= 0:  # above GX's tabs (whose tables its script fills in when online)
        page = page[:tabs] + listing + page[tabs:]
    elif body:
        page = page[:body] + listing + page[body:]
    else:  # GX rendered nothing: the listing alone is the index
        page = ('<!DOCTYPE html><html><head><meta charset="utf-8">'
                f"<title>quality {escape(run_name)}</title></head>"
                f"<body>{listing}</body></html>\n")
    _write(index, page)
