"""The house's rules: who may import whom (pyproject's [tool.importlinter]), one line in each package's
__init__.py saying what lives there, and units small enough to read (no module over 400 lines, no function
over 60, outside the tests)."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PRODUCTION = ("connector", "adapters", "standins")


def _sources():
    for package in PRODUCTION:
        yield from sorted((ROOT / package).rglob("*.py"))


def test_the_import_contracts_are_kept():
    lint = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run([str(lint), "--no-cache"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "broken" not in result.stdout.lower().replace("0 broken", "")


@pytest.mark.parametrize("init", sorted(p for package in PRODUCTION for p in (ROOT / package).rglob("__init__.py")),
                         ids=lambda p: str(p.relative_to(ROOT)))
def test_every_package_says_what_lives_there(init):
    docstring = ast.get_docstring(ast.parse(init.read_text()))
    assert docstring, f"{init.relative_to(ROOT)} has no docstring"
    assert docstring.strip() and len(docstring.splitlines()[0]) > 20


def test_no_module_over_400_lines_and_no_function_over_60():
    too_big = []
    for path in _sources():
        source = path.read_text()
        if source.count("\n") > 400:
            too_big.append(f"{path.relative_to(ROOT)}: {source.count(chr(10))} lines")
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.end_lineno - node.lineno >= 60:
                too_big.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.name}: "
                               f"{node.end_lineno - node.lineno + 1} lines")
    assert not too_big, "\n".join(too_big)


def test_the_readme_layout_maps_every_package_and_module():
    readme = (ROOT / "README.md").read_text()
    layout = readme[readme.index("## Layout"):readme.index("## Benchmarks")]
    named = set(re.findall(r"[a-z_]+/?", layout))
    missing = [str(path.relative_to(ROOT)) for path in _sources()
               if path.name not in ("__init__.py", "__main__.py") and path.stem not in named]
    missing += [f"{init.parent.relative_to(ROOT)}/" for package in PRODUCTION
                for init in (ROOT / package).rglob("__init__.py") if f"{init.parent.name}/" not in named]
    assert not missing, "not in the README's Layout: " + ", ".join(missing)
