"""The layout's rules, read from the sources: Dagster is imported only under orchestration/,
the command line imports no Dagster even lazily through a module it loads at start, and no
two modules import each other in a circle at import time."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

from aidnav.config import REPO_ROOT

PACKAGES = ("aidnav", "ledger", "ingestion", "modelling", "quality", "publishing", "onchain",
            "orchestration", "demo")


def _modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in sorted((REPO_ROOT / package).rglob("*.py")):
            parts = path.relative_to(REPO_ROOT).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            found[name] = path
    return found


def _parse(source: str) -> ast.Module:
    """ast.parse, again after CPython 3.11's spurious "AST constructor recursion depth
    mismatch" (python/cpython#106905): its AST builder keeps a depth counter that another
    thread compiling at the same moment throws off, and an earlier test of the same worker
    process can leave such a thread (Dagster's, SQLAlchemy's) running."""
    for attempt in range(3):
        try:
            return ast.parse(source)
        except SystemError as error:
            if "recursion depth mismatch" not in str(error) or attempt == 2:
                raise
    raise AssertionError("unreachable")


def _imports(path: Path, top_level_only: bool) -> set[str]:
    """Modules `path` imports; with `top_level_only`, those run at import time (not inside
    a function, and not under `if TYPE_CHECKING`)."""
    tree = _parse(path.read_text(encoding="utf-8"))
    nodes = tree.body if top_level_only else list(ast.walk(tree))
    names: set[str] = set()
    for node in nodes:
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names |= {f"{node.module}.{alias.name}" for alias in node.names}
    return names


def test_the_package_list_is_the_wheels():
    pyproject = (REPO_ROOT / "pyproject.toml").read_text()
    line = next(x for x in pyproject.splitlines() if x.startswith("packages = "))
    assert sorted(ast.literal_eval(line.split("=", 1)[1].strip())) == sorted(PACKAGES)
    beside = {p.name for p in REPO_ROOT.iterdir()
              if p.is_dir() and (p / "__init__.py").exists() and p.name != "tests"}
    assert beside == set(PACKAGES), "a package beside the others is missing from the list"


def test_dagster_is_imported_only_under_orchestration():
    offenders = [f"{name} imports {imported}"
                 for name, path in _modules().items() if not name.startswith("orchestration")
                 for imported in _imports(path, top_level_only=False)
                 if imported.split(".")[0] in {"dagster", "dagster_dbt", "dagster_postgres"}]
    assert offenders == []


def test_no_import_circle_at_import_time():
    modules = _modules()
    graph = {name: {m for m in _imports(path, top_level_only=True) if m in modules and m != name}
             for name, path in modules.items()}
    # a package's __init__ imports its modules; a module importing its own package is no
    # circle of code, only of names
    graph = {name: {m for m in deps if not name.startswith(m + ".")} for name, deps in graph.items()}
    circles, state = [], {}

    def visit(node: str, trail: list[str]) -> None:
        state[node] = "open"
        for dep in sorted(graph[node]):
            if state.get(dep) == "open":
                circles.append(trail[trail.index(dep):] + [dep])
            elif dep not in state:
                visit(dep, trail + [dep])
        state[node] = "done"

    for name in sorted(graph):
        if name not in state:
            visit(name, [name])
    assert circles == []


def test_the_command_line_starts_without_dagster():
    code = ("import sys, aidnav.cli; aidnav.cli.build_parser(); "
            "print(sorted(m for m in sys.modules if m.split('.')[0].startswith('dagster')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=REPO_ROOT).stdout.strip()
    assert out == "[]"
