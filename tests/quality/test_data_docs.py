"""Each run's suites land in one great-expectations Data Docs site under the run's folder."""

from __future__ import annotations

import re
import subprocess
import sys
import threading
from datetime import date, datetime, timedelta, timezone
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

from ingestion.warehouse import connect
from quality.gx_runner import data_docs, docs_index
from quality.suites import validate_table

D = date(2026, 3, 2)
PROVIDER = "0x" + "22" * 20
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def warehouse(tmp_path: Path) -> Path:
    """One provider and one deal whose structure ('bullet') is not an allowed value."""
    path = tmp_path / "w.duckdb"
    con = connect(path)
    con.execute("insert into raw.providers values ('P1', 'Prov', 'TH', true, '2026-01-01')")
    con.execute(f"""insert into raw.deals values
        ('D1', 'P1', 'gpu', 'bullet', 1000, '2026-03-01', '2027-03-01', 0.1, null, null,
         null, null, 1.3, '{PROVIDER}', '0x{'44' * 20}')""")
    con.close()
    return path


def _text(page: Path) -> str:
    """The page's words, tags dropped and blanks squeezed."""
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page.read_text(encoding="utf-8")))


def _run(warehouse: Path, docs: Path, tables: list[str]) -> Path:
    con = connect(warehouse)
    try:
        with data_docs(docs) as index:
            results = [validate_table(con, t, D, D) for t in tables]
    finally:
        con.close()
    assert [r.passed for r in results] == [t != "raw.deals" for t in tables]
    return index


def test_the_run_index_lists_both_suites_and_the_failing_page_names_column_and_rule(
        warehouse: Path, tmp_path: Path):
    docs = tmp_path / "reports" / "quality" / "run-1"
    index = _run(warehouse, docs, ["raw.providers", "raw.deals"])
    assert index == docs / "index.html" == docs_index(docs)
    listing = index.read_text(encoding="utf-8")
    for page in ("validations/raw_providers/run-1/", "validations/raw_deals/run-1/",
                 "expectations/raw_deals.html"):
        assert page in listing, page
    assert (docs / "static").is_dir()  # styles and scripts the pages link to

    passing = _text(next(docs.glob("validations/raw_providers/run-1/*/raw_providers.html")))
    assert ("Expectation Suite: raw_providers Data asset: raw_providers Status: Succeeded"
            in passing)
    assert "Unsuccessful Expectations 0 " in passing
    # each expectation's status is a word, not only a CDN icon font
    assert "Status Expectation Observed Value passed " in passing
    assert " failed " not in passing
    failing = _text(next(docs.glob("validations/raw_deals/run-1/*/raw_deals.html")))
    assert "Expectation Suite: raw_deals Data asset: raw_deals Status: Failed" in failing
    assert "Unsuccessful Expectations 1 " in failing
    assert re.search(r"structure Status Expectation Observed Value failed values must belong "
                     r"to this set: fixed_rate revenue_share \. 1 unexpected values found\. 100% of 1 "
                     r"total rows\. Unexpected Value Count deal_id bullet 1 D1", failing), failing


class _StaticRows(HTMLParser):
    """The table rows of a page as a browser without scripts or network shows them: text
    and links outside <script>, <style>, <template> and <noscript>."""

    SKIP = {"script", "style", "template", "noscript"}

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[tuple[str, list[str]]] = []
        self._skipping = 0
        self._row: tuple[list[str], list[str]] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self.SKIP:
            self._skipping += 1
        elif self._skipping:
            return
        elif tag == "tr":
            self._row = ([], [])
        elif tag == "a" and self._row is not None:
            self._row[1].extend(v for k, v in attrs if k == "href" and v)

    def handle_endtag(self, tag: str) -> None:
        if tag in self.SKIP:
            self._skipping -= 1
        elif tag == "tr" and self._row is not None and not self._skipping:
            self.rows.append((re.sub(r"\s+", " ", " ".join(self._row[0])).strip(), self._row[1]))
            self._row = None

    def handle_data(self, data: str) -> None:
        if self._row is not None and not self._skipping:
            self._row[0].append(data)


def _static_rows(index: Path) -> list[tuple[str, list[str]]]:
    parser = _StaticRows()
    parser.feed(index.read_text(encoding="utf-8"))
    parser.close()
    return parser.rows


def _row_linking(rows: list[tuple[str, list[str]]], prefix: str) -> tuple[str, str]:
    """The one row with a link under `prefix`: its text and that link."""
    found = [(text, href) for text, hrefs in rows for href in hrefs if href.startswith(prefix)]
    assert len(found) == 1, (prefix, rows)
    return found[0]


def test_the_index_lists_the_run_validations_without_scripts_or_network(
        warehouse: Path, tmp_path: Path):
    docs = tmp_path / "reports" / "quality" / "run-7"
    before = datetime.now(timezone.utc).replace(microsecond=0)
    index = _run(warehouse, docs, ["raw.providers", "raw.deals"])
    after = datetime.now(timezone.utc) + timedelta(seconds=1)
    rows = _static_rows(index)

    for suite, status in (("raw_providers", "Passed"), ("raw_deals", "Failed")):
        text, href = _row_linking(rows, f"validations/{suite}/run-7/")
        assert status in text.split() and suite in text.split(), text
        assert ({"Passed", "Failed"} - {status}).isdisjoint(text.split()), text
        stamp = re.search(r"(\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}) UTC", text)
        assert stamp, text
        moment = datetime.strptime(stamp[1], "%Y-%m-%d %H:%M:%S").replace(tzinfo=timezone.utc)
        assert before <= moment <= after, (moment, before, after)
        assert not urlsplit(href).scheme and not href.startswith("/"), href  # stays in the site
        page = docs / unquote(href)
        assert page.is_file(), page
        assert f"Expectation Suite: {suite} Data asset: {suite} Status: " in _text(page)
        suite_page = [h for h in dict(rows)[text] if h.startswith("expectations/")]
        assert suite_page == [f"expectations/{suite}.html"], suite_page
        assert (docs / suite_page[0]).is_file()
    # the failing row comes first, so a long run's failures are not below the fold
    listed = [t for t, hrefs in rows if any(h.startswith("validations/") for h in hrefs)]
    assert len(listed) == 2 and listed[0].startswith("Failed"), listed


def test_two_runs_in_one_process_keep_their_own_sites(warehouse: Path, tmp_path: Path):
    sites = {"run-a": ["raw.providers"], "run-b": ["raw.deals"]}
    errors: list[BaseException] = []

    def one(run: str) -> None:
        try:
            _run(warehouse, tmp_path / run, sites[run])
        except BaseException as e:  # noqa: BLE001 - re-raised below in the test's thread
            errors.append(e)

    threads = [threading.Thread(target=one, args=(run,)) for run in sites]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    a = (tmp_path / "run-a" / "index.html").read_text(encoding="utf-8")
    b = (tmp_path / "run-b" / "index.html").read_text(encoding="utf-8")
    assert "validations/raw_providers/run-a/" in a and "raw_deals" not in a
    assert "validations/raw_deals/run-b/" in b and "raw_providers" not in b


def test_suites_checked_by_another_process_of_the_run_stay_in_the_index(
        warehouse: Path, tmp_path: Path):
    docs = tmp_path / "run-1"
    _run(warehouse, docs, ["raw.providers"])
    other = (
        "import sys; from datetime import date; from pathlib import Path\n"
        "from ingestion.warehouse import connect\n"
        "from quality.gx_runner import data_docs\n"
        "from quality.suites import validate_table\n"
        "con = connect(Path(sys.argv[1]))\n"
        "with data_docs(Path(sys.argv[2])):\n"
        "    validate_table(con, 'raw.deals', date(2026, 3, 2), date(2026, 3, 2))\n"
    )
    subprocess.run([sys.executable, "-c", other, str(warehouse), str(docs)],
                   cwd=ROOT, check=True, capture_output=True, timeout=120)
    listing = (docs / "index.html").read_text(encoding="utf-8")
    assert "validations/raw_providers/run-1/" in listing
    assert "validations/raw_deals/run-1/" in listing
    rows = _static_rows(docs / "index.html")
    assert "Passed" in _row_linking(rows, "validations/raw_providers/run-1/")[0].split()
    assert "Failed" in _row_linking(rows, "validations/raw_deals/run-1/")[0].split()
    # and this process, whose site handle predates the other's write, keeps both too
    _run(warehouse, docs, ["raw.providers"])
    listing = (docs / "index.html").read_text(encoding="utf-8")
    assert "validations/raw_deals/run-1/" in listing
    assert listing.count("validations/raw_providers/run-1/") >= 2
