"""great-expectations' Data Docs pages, made to open offline.

GX writes pages that take Bootstrap, jQuery, Popper, bootstrap-table, Font Awesome and the
datepicker from CDNs, and its logo from a web bucket: from `file://` on a machine with no
network they render unstyled with a broken logo. The same libraries are installed from the
npm registry with the project (`package.json`), copied once into each site's
`static/vendor/`, and every page's CDN address is pointed at its local copy. The vega
scripts, which only draw profiling charts that our suites never produce, are dropped.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

from aidnav.config import NODE_MODULES

VENDOR_DIR = Path("static") / "vendor"  # inside a site

# address prefix on the CDN -> (file or folder under node_modules, where it goes in vendor/)
_VENDORED: tuple[tuple[str, str, str], ...] = (
    ("https://maxcdn.bootstrapcdn.com/bootstrap/4.3.1/css/bootstrap.min.css",
     "bootstrap/dist/css/bootstrap.min.css", "bootstrap.min.css"),
    ("https://stackpath.bootstrapcdn.com/bootstrap/4.3.1/js/bootstrap.min.js",
     "bootstrap/dist/js/bootstrap.min.js", "bootstrap.min.js"),
    ("https://code.jquery.com/jquery-3.7.1.min.js",
     "jquery/dist/jquery.min.js", "jquery.min.js"),
    ("https://cdnjs.cloudflare.com/ajax/libs/popper.js/1.12.9/umd/popper.min.js",
     "popper.js/dist/umd/popper.min.js", "popper.min.js"),
    ("https://unpkg.com/bootstrap-table@1.19.1/dist/bootstrap-table.min.css",
     "bootstrap-table/dist/bootstrap-table.min.css", "bootstrap-table.min.css"),
    ("https://unpkg.com/bootstrap-table@1.19.1/dist/bootstrap-table.min.js",
     "bootstrap-table/dist/bootstrap-table.min.js", "bootstrap-table.min.js"),
    ("https://unpkg.com/bootstrap-table@1.19.1/dist/extensions/filter-control/"
     "bootstrap-table-filter-control.min.js",
     "bootstrap-table/dist/extensions/filter-control/bootstrap-table-filter-control.min.js",
     "bootstrap-table-filter-control.min.js"),
    ("https://unpkg.com/bootstrap-table@1.19.0/dist/extensions/filter-control/"
     "bootstrap-table-filter-control.min.css",
     "bootstrap-table/dist/extensions/filter-control/bootstrap-table-filter-control.min.css",
     "bootstrap-table-filter-control.min.css"),
    ("https://unpkg.com/bootstrap-table@1.19.0/dist/extensions/filter-control/"
     "bootstrap-table-filter-control.css",
     "bootstrap-table/dist/extensions/filter-control/bootstrap-table-filter-control.min.css",
     "bootstrap-table-filter-control.min.css"),
    ("https://cdnjs.cloudflare.com/ajax/libs/font-awesome/6.6.0/css/all.min.css",
     "@fortawesome/fontawesome-free/css/all.min.css", "fontawesome/css/all.min.css"),
    ("https://cdnjs.cloudflare.com/ajax/libs/bootstrap-datepicker/1.9.0/css/"
     "bootstrap-datepicker.min.css",
     "bootstrap-datepicker/dist/css/bootstrap-datepicker.min.css",
     "bootstrap-datepicker.min.css"),
    ("https://cdnjs.cloudflare.com/ajax/libs/bootstrap-datepicker/1.9.0/js/"
     "bootstrap-datepicker.min.js",
     "bootstrap-datepicker/dist/js/bootstrap-datepicker.min.js",
     "bootstrap-datepicker.min.js"),
    ("https://cdn.jsdelivr.net/npm/@forevolve/bootstrap-dark@1.1.0/dist/css/"
     "bootstrap-prefers-dark.css",
     "@forevolve/bootstrap-dark/dist/css/bootstrap-prefers-dark.css",
     "bootstrap-prefers-dark.css"),
)
# Font Awesome's stylesheet takes its fonts from ../webfonts/
_FOLDERS = (("@fortawesome/fontawesome-free/webfonts", "fontawesome/webfonts"),)
_LOGO = re.compile(r'https://great-expectations-web-assets\.s3[^"\']*/logo-long\.png[^"\']*')
_VEGA = re.compile(r'<script[^>]*src="https://cdn\.jsdelivr\.net/npm/vega[^"]*"[^>]*>\s*'
                   r'</script>\s*')
_OWN_STATIC = re.compile(r'\b(href|src)="(?:\.\./)*static/')
_MARKER = ".vendored"


class VendorAssetsMissing(RuntimeError):
    """node_modules lacks a library the Data Docs need: `make install` installs them."""


def vendor_assets(site_root: Path) -> Path:
    """Copy the pages' libraries into `site_root/static/vendor/` (once per site)."""
    dest = site_root / VENDOR_DIR
    if (dest / _MARKER).exists():
        return dest
    tmp = dest.with_name(f".vendor.{os.getpid()}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        for _, source, target in _VENDORED:
            src = NODE_MODULES / source
            if not src.is_file():
                raise VendorAssetsMissing(
                    f"Data Docs: {src} is missing; run `make install` (npm ci) to install "
                    "the pages' libraries")
            (tmp / target).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src, tmp / target)
        for source, target in _FOLDERS:
            shutil.copytree(NODE_MODULES / source, tmp / target)
        (tmp / _MARKER).touch()
        if dest.exists():  # another process of the run got there first
            shutil.rmtree(tmp)
        else:
            dest.parent.mkdir(parents=True, exist_ok=True)
            os.replace(tmp, dest)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return dest


def offline_page(page: Path, site_root: Path) -> bool:
    """Point `page`'s CDN addresses at the site's vendored copies; True when it changed."""
    if not page.is_file():
        return False
    up = os.path.relpath(site_root, page.parent).replace(os.sep, "/")
    vendor = f"{up}/{VENDOR_DIR.as_posix()}"
    text = page.read_text(encoding="utf-8")
    new = _VEGA.sub("", text)
    for url, _, target in _VENDORED:
        new = new.replace(url, f"{vendor}/{target}")
    new = _LOGO.sub(f"{up}/static/images/logo-long.png", new)
    # GX counts one folder too few above a validation page for its own static files
    new = _OWN_STATIC.sub(lambda m: f'{m.group(1)}="{up}/static/', new)
    if new == text:
        return False
    tmp = page.with_name(f".{page.name}.{os.getpid()}.tmp")
    tmp.write_text(new, encoding="utf-8")
    os.replace(tmp, page)
    return True


def remote_addresses(page: Path) -> list[str]:
    """Every http(s) address a page loads (scripts, stylesheets, images): none offline."""
    text = page.read_text(encoding="utf-8")
    return re.findall(r'(?:<script[^>]*\ssrc|<link[^>]*\shref|<img[^>]*\ssrc)='
                      r'"(https?://[^"]+)"', text)
