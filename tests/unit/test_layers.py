"""The packages' layering: `collab` (the platform) never imports `sessions` (live activities) or the
composition root (`server`); `sessions` builds on `collab` but not on `server`. A platform module that
reached into sessions would make `collab` impossible to import, check or test on its own again."""

from __future__ import annotations

import ast
import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[2]


def imported_packages(package: str) -> dict[str, set[str]]:
    """module path -> the top-level packages it imports (at any depth, TYPE_CHECKING blocks included)."""
    found: dict[str, set[str]] = {}
    for path in sorted((ROOT / package).rglob("*.py")):
        tops: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                tops |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                tops.add(node.module.split(".")[0])
        found[str(path.relative_to(ROOT))] = tops
    return found


def test_the_platform_imports_neither_live_activities_nor_the_composition_root():
    offenders = {m: sorted(t & {"sessions", "server"}) for m, t in imported_packages("collab").items()
                 if t & {"sessions", "server"}}
    assert offenders == {}


def test_live_activities_build_on_the_platform_but_not_on_the_composition_root():
    graph = imported_packages("sessions")
    assert {m for m, t in graph.items() if "server" in t} == set()
    assert any("collab" in t for t in graph.values())  # the scan sees imports at all


def test_the_composition_root_is_what_knows_both():
    tops = set().union(*imported_packages("server").values())
    assert {"collab", "sessions"} <= tops


def test_every_platform_module_imports_with_sessions_absent():
    """Not only no import statement: nothing reaches sessions at import time either."""
    script = (
        "import sys, pkgutil, importlib\n"
        "sys.modules['sessions'] = None\n"  # any import of it fails with ImportError
        "sys.modules['server'] = None\n"
        "import collab\n"
        "names = [m.name for m in pkgutil.walk_packages(collab.__path__, 'collab.')]\n"
        "for name in names: importlib.import_module(name)\n"
        "print(len(names))\n"
    )
    out = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert int(out.stdout) > 50  # every module of the platform was imported
