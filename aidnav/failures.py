"""Why a run failed, in one line, and whether trying again can help.

A failure is read as a chain of errors (the one raised, then its cause, then the cause's
cause...), each known by its class names and its message: from a live exception inside a
step, or from the record a finished run keeps of it. `classify` maps the chain to a
`Cause`: one line `<cause> — <remedy>`, whether a second try can pass (a connection, a
timeout, a lock held by another run) and whether it is the operator's slip (exit 2).

Everything else fails the same way on every try and is not retried: out of memory, a bad
cast or another data error, an invalid registry, a signer that cannot sign, a disk that
is full or read-only. An error not known here is not retried either: a bug repeats.
"""

from __future__ import annotations

import builtins
import errno
import os
import re
import shutil
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from pathlib import Path

# classes by name, so that the record of a finished run (names only) classifies as the
# live exception does; the RPC's live classes are onchain.transactions.TRANSIENT_ERRORS
RPC_ERRORS = frozenset({
    "ConnectionError", "ConnectionRefusedError", "ConnectionResetError", "ConnectionAbortedError",
    "NewConnectionError", "MaxRetryError", "ProviderConnectionError", "RpcUnavailable",
})
TIMEOUT_ERRORS = frozenset({"Timeout", "TimeoutError", "ReadTimeout", "ConnectTimeout",
                            "ReadTimeoutError", "ConnectTimeoutError", "TimeExhausted"})
LOCK_ERRORS = frozenset({"WarehouseBusy"})
# HTTP answers of a node that is rate limiting, restarting or behind a failing proxy
BUSY_HTTP_STATUS = r"(429|502|503|504) "
MEMORY_ERRORS = frozenset({"MemoryError", "OutOfMemoryException"})
DATA_ERRORS = frozenset({
    "ConversionException", "OutOfRangeException", "DataError", "InvalidOperation",
    "InvoiceRejected", "BundleError",
})
LOCK_MESSAGES = ("could not set lock on file", "database is locked", "conflicting lock")
DISK_FULL_MESSAGES = ("no space left on device", "database or disk is full", "disk quota exceeded")
READ_ONLY_MESSAGES = ("read-only file system", "attempt to write a readonly database")
DENIED_MESSAGES = ("permission denied",)
DATA_MESSAGES = ("conversion error", "could not cast", "overflow in", "out of range error",
                 "invalid input error")
MEMORY_MESSAGES = ("out of memory",)
# a dbt node's unique id, as a KeyError names it when the parsed manifest lacks the node
DBT_NODE_KEY = r"'(model|seed|snapshot|test|source|unit_test)\.[\w.]+'"
# dagster-dbt's failed `dbt build` lists dbt's own error messages after this line
DBT_ERRORS_MARKER = "Errors parsed from dbt logs:"
# below this much free space, an unexplained "disk I/O error" is a full disk
DISK_FULL_BELOW_BYTES = 1 << 20
# free space a run must find before it starts: a day of the small demo book writes about
# 20 MiB (warehouse, reports, Dagster's event log), a full book more
MIN_FREE_BYTES = 64 << 20

RPC_REMEDY = ("start the node or point AIDNAV_RPC_URL at one that answers "
              "(`aidnav chain up` starts the local anvil), then run again")


@dataclass(frozen=True)
class ErrorLink:
    """One error of a chain: its class names (the class and its bases), its message
    without the class prefix, and the file it names, when it is an OSError."""

    name: str
    names: frozenset[str]
    message: str
    path: str | None = None

    @classmethod
    def of(cls, cls_name: str, message: str) -> "ErrorLink":
        """A link known by its class name only (a finished run's record): a builtin
        class brings its bases (ConnectionRefusedError is a ConnectionError)."""
        names = {cls_name}
        builtin = getattr(builtins, cls_name, None)
        if isinstance(builtin, type) and issubclass(builtin, BaseException):
            names |= {k.__name__ for k in builtin.__mro__}
        text = message.strip()
        prefix = re.match(r"^[\w.]*\b" + re.escape(cls_name) + r": ?", text)
        return cls(cls_name, frozenset(names), text[prefix.end():] if prefix else text)


@dataclass(frozen=True)
class Cause:
    kind: str
    line: str  # "<cause> — <remedy>"
    transient: bool = False
    operator: bool = False  # the operator's slip: the command exits 2

    @property
    def exit_code(self) -> int:
        return 2 if self.operator else 1


class BeforeInception(ValueError):
    """A day asked for lies before the book's inception."""

    def __init__(self, day: date, inception: date):
        self.day, self.inception = day, inception
        super().__init__(f"{day} is before the book's inception {inception}")


def check_not_before_inception(days: Iterable[date], inception: date) -> None:
    """Raise BeforeInception for the first day earlier than `inception`."""
    for day in sorted(days):
        if day < inception:
            raise BeforeInception(day, inception)


def check_data_dir(data_dir: Path, min_free_bytes: int = MIN_FREE_BYTES) -> None:
    """Before a run: the data directory takes writes and has room for one run; raises
    the OSError (EROFS, EACCES, ENOSPC...) that names the directory otherwise."""
    data_dir = Path(data_dir)
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
        probe = data_dir / f".write-probe-{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise OSError(exc.errno, exc.strerror, str(data_dir)) from None
    free = shutil.disk_usage(data_dir).free
    if free < min_free_bytes:
        raise OSError(errno.ENOSPC, f"No space left on device: {free / 2**20:.1f} MiB free, "
                      f"a run needs {min_free_bytes / 2**20:.0f} MiB", str(data_dir))


def chain_of(exc: BaseException) -> list[ErrorLink]:
    """A live exception and its causes, outermost first."""
    links: list[ErrorLink] = []
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        path = getattr(current, "filename", None) if isinstance(current, OSError) else None
        links.append(ErrorLink(type(current).__name__,
                               frozenset(k.__name__ for k in type(current).__mro__),
                               str(current), str(path) if path else None))
        current = current.__cause__ or (
            None if current.__suppress_context__ else current.__context__)
    return links


def classify_exception(exc: BaseException, **context) -> Cause:
    return classify(chain_of(exc), **context)


def _first(links: list[ErrorLink], names: frozenset[str]) -> ErrorLink | None:
    return next((link for link in links if link.names & names), None)


def _with_message(links: list[ErrorLink], needles: tuple[str, ...]) -> ErrorLink | None:
    return next((link for link in links if any(n in link.message.lower() for n in needles)),
                None)


def _with_errno(links: list[ErrorLink], numbers: tuple[int, ...]) -> ErrorLink | None:
    pattern = re.compile(r"\[Errno (\d+)\]")
    for link in links:
        found = pattern.search(link.message)
        if found and int(found.group(1)) in numbers:
            return link
    return None


def _path(links: list[ErrorLink], fallback: Path | str | None) -> str:
    for link in links:
        if link.path:
            return link.path
    for link in links:
        quoted = re.search(r"""['"](/[^'"]+)['"]""", link.message)
        if quoted:
            return quoted.group(1)
    return str(fallback) if fallback else "the data directory"


def _dbt_errors(links: list[ErrorLink]) -> str | None:
    """dbt's own error messages of a failed `dbt build`, when the chain holds them."""
    for link in links:
        if DBT_ERRORS_MARKER in link.message:
            return link.message.split(DBT_ERRORS_MARKER, 1)[1].strip() or None
    return None


def _rpc_url(links: list[ErrorLink], rpc_url: str | None) -> str:
    """The node that did not answer: the URL an error names (the publisher names the
    target it sent to), else the configured one, else the host and port of the socket."""
    for link in links:
        named = re.search(r"\bhttps?://[^\s)'\"]+", link.message)
        if named:
            return named.group(0)
    if rpc_url:
        return rpc_url
    for link in links:
        found = re.search(r"host='([^']+)', port=(\d+)", link.message)
        if found:
            return f"http://{found.group(1)}:{found.group(2)}"
    return "the configured RPC node (AIDNAV_RPC_URL)"


def _short(message: str, limit: int = 160) -> str:
    text = " ".join(message.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _signer_remedy(message: str) -> str:
    text = message.lower()
    if "cannot decrypt" in text:
        return "give the keystore's password in AIDNAV_KEYSTORE_PASSWORD"
    if "does not exist" in text or "not a json keystore" in text:
        return "point AIDNAV_KEYSTORE at the publisher's keystore file"
    if "hex private key" in text:
        return "set AIDNAV_SIGNER_KEY to the 32-byte key as 64 hex digits"
    return ("set AIDNAV_SIGNER_KEY, or AIDNAV_KEYSTORE and AIDNAV_KEYSTORE_PASSWORD, "
            "for the publisher's key")


def classify(links: list[ErrorLink], *, rpc_url: str | None = None,
             data_dir: Path | str | None = None) -> Cause:
    """The cause of a failure from its chain of errors (outermost first); `rpc_url` and
    `data_dir` name the node and the folder when the errors do not."""
    if not links:
        return Cause("unknown", "the run failed without an error — run again with -v")
    if link := _first(links, frozenset({"BeforeInception"})):
        return Cause("before_inception",
                     f"{link.message} — run a day from the inception on", operator=True)
    if link := _first(links, frozenset({"SignerError"})):
        return Cause("signer", f"signer: {_short(link.message, 240)} — "
                     f"{_signer_remedy(link.message)}", operator=True)
    if link := _first(links, frozenset({"RegistryError"})):
        return Cause("registry", f"registry: {link.message} — correct the registry file "
                     "and run again", operator=True)
    if found := (_with_errno(links, (errno.ENOSPC, errno.EDQUOT))
                 or _with_message(links, DISK_FULL_MESSAGES)):
        return Cause("disk_full", f"disk full: {_path([found, *links], data_dir)} — free "
                     "space on that disk (or move AIDNAV_DATA_DIR), then run again")
    if found := (_with_errno(links, (errno.EROFS,)) or _with_message(links, READ_ONLY_MESSAGES)):
        return Cause("not_writable", f"not writable: {_path([found, *links], data_dir)} — "
                     "mount it read-write or set AIDNAV_DATA_DIR to a writable directory",
                     operator=True)
    if found := (_with_errno(links, (errno.EACCES, errno.EPERM))
                 or _with_message(links, DENIED_MESSAGES)):
        return Cause("permission", f"permission denied: {_path([found, *links], data_dir)} — "
                     "give the user running aidnav access to it, or set AIDNAV_DATA_DIR to a "
                     "directory it owns", operator=True)
    if (link := _with_message(links, ("disk i/o error",))) and data_dir is not None:
        probe = Path(data_dir)
        while not probe.exists() and probe != probe.parent:
            probe = probe.parent
        if shutil.disk_usage(probe).free < DISK_FULL_BELOW_BYTES:
            return Cause("disk_full", f"disk full: {data_dir} — free space on that disk "
                         "(or move AIDNAV_DATA_DIR), then run again")
    if link := next((x for x in links if "KeyError" in x.names
                     and re.fullmatch(DBT_NODE_KEY, x.message.strip())), None):
        return Cause("dbt_manifest", f"the dbt manifest has no {link.message.strip()} (the "
                     "project changed since it was parsed) — parse it again: cd dbt_project "
                     "&& ../.venv/bin/dbt parse --profiles-dir .", operator=True)
    dbt = _dbt_errors(links)
    if link := (_first(links, MEMORY_ERRORS) or _with_message(links, MEMORY_MESSAGES)):
        detail = dbt or link.message or link.name
        return Cause("out_of_memory", f"out of memory ({_short(detail)}) — not retried, it "
                     "fails the same way: run fewer days at once or give the job more memory")
    if link := _first(links, RPC_ERRORS):
        detail = "connection refused" if "refused" in " ".join(
            x.message.lower() for x in links) else _short(link.message, 100)
        return Cause("rpc_unreachable", f"RPC unreachable at {_rpc_url(links, rpc_url)} "
                     f"({detail}) — {RPC_REMEDY}", transient=True, operator=True)
    if link := next((x for x in links if "HTTPError" in x.names
                     and re.match(BUSY_HTTP_STATUS, x.message)), None):
        return Cause("rpc_busy", f"the node at {_rpc_url(links, rpc_url)} answered "
                     f"{_short(link.message.split(' for url')[0], 60)} — it is busy or "
                     "restarting; run again", transient=True)
    if link := _first(links, frozenset({"SchedulerUnreachable"})):
        # its message names the address and the remedy; retried like an RPC node that is
        # restarting, then an operator's setting to correct
        return Cause("dask_unreachable", _short(link.message, 300), transient=True,
                     operator=True)
    if link := _first(links, TIMEOUT_ERRORS):
        return Cause("timeout", f"timed out: {_short(link.message)} — the node or the disk "
                     "was slow; run again", transient=True)
    if link := (_first(links, LOCK_ERRORS) or _with_message(links, LOCK_MESSAGES)):
        return Cause("lock", f"busy: {_short(link.message, 240)} — wait for the other run "
                     "to end, then run again", transient=True)
    if link := (_first(links, DATA_ERRORS) or _with_message(links, DATA_MESSAGES)):
        return Cause("data", f"data error: {_short(dbt or link.message, 240)} — not retried, "
                     "it fails the same way until the delivery is corrected or quarantined")
    if dbt:
        return Cause("unknown", f"dbt build failed: {_short(dbt, 240)} — not retried; the "
                     "dbt log in the run's target folder has the rest")
    innermost = next((x for x in reversed(links) if x.message), links[-1])
    return Cause("unknown", f"{innermost.name}: {_short(innermost.message, 240)} — "
                 "not retried; run again with -v for the traceback")
