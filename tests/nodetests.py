"""Test files for Node's own runner (`node --test`, tests/js/...) as pytest tests: one pytest test per
case, failing with node's report of it. `cases(path, call)` reads the cases' names from the file
(`test("name", …)`, or the file's own wrapper `call`); `run(path)` runs the file once (TAP);
`check(report, path, name)` fails unless that case passed."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
JS = ROOT / "tests" / "js"


def cases(path: Path, call: str = "test") -> list[str]:
    return re.findall(rf'^{re.escape(call)}\("((?:[^"\\]|\\.)*)"', path.read_text(encoding="utf-8"), flags=re.M)


def run(path: Path) -> str:
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed (scripts/test installs nodejs)")
    r = subprocess.run([node, "--test", "--test-reporter=tap", str(path)], cwd=JS, capture_output=True, text=True,
                       timeout=300)
    return r.stdout + r.stderr


def check(report: str, path: Path, name: str) -> None:
    if re.search(rf"^ok \d+ - {re.escape(name)}$", report, flags=re.M):
        return
    start = report.find(f"# Subtest: {name}")
    detail = report[start:start + 4000] if start >= 0 else report[-4000:]
    pytest.fail(f"node --test {path.relative_to(ROOT)}: not passed:\n{detail}", pytrace=False)
