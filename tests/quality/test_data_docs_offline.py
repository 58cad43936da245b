"""The Data Docs pages open offline: no page loads anything from the network, and every
stylesheet, script and image they load is a file inside the site."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path
from urllib.parse import unquote, urlsplit

from ingestion.warehouse import connect
from quality.gx_runner import data_docs
from quality.suites import validate_table

D = date(2026, 3, 2)


def _loaded(page: Path) -> list[str]:
    """Addresses of the stylesheets, scripts and images the page loads."""
    text = page.read_text(encoding="utf-8")
    return re.findall(r'(?:<script[^>]*\ssrc|<link[^>]*\shref|<img[^>]*\ssrc)="([^"]+)"', text)


def test_every_page_loads_only_files_of_its_own_site(tmp_path: Path):
    con = connect(tmp_path / "w.duckdb")
    con.execute("insert into raw.providers values ('P1', 'Prov', 'TH', true, '2026-01-01')")
    docs = tmp_path / "reports" / "quality" / "run-1"
    try:
        with data_docs(docs):
            assert validate_table(con, "raw.providers", D, D).passed
    finally:
        con.close()
    pages = sorted(docs.rglob("*.html"))
    assert len(pages) >= 3  # the index, the suite's page, the validation's page
    for page in pages:
        loaded = _loaded(page)
        assert loaded, page
        remote = [a for a in loaded if urlsplit(a).scheme in ("http", "https")]
        assert remote == [], f"{page.relative_to(docs)} loads {remote}"
        for address in loaded:
            target = (page.parent / unquote(urlsplit(address).path)).resolve()
            assert target.is_file(), f"{page.relative_to(docs)}: {address} is missing"
            assert docs.resolve() in target.parents
    # Font Awesome's stylesheet finds its fonts beside it
    css = next(docs.rglob("all.min.css"))
    fonts = set(re.findall(r'url\(\.\./webfonts/([^)?#]+)', css.read_text()))
    assert fonts and all((css.parent.parent / "webfonts" / f).is_file() for f in fonts)
