"""Every setting the connector reads is in the README's Configuration table and in .env.example, and
nothing is documented that it does not read."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NAME = re.compile(r"\b((?:CONNECTOR|SHOPIFY|TRACKING|WOOCOMMERCE)_[A-Z_]+|DATABASE_URL)\b")


def _read() -> set[str]:
    return set(re.findall(r'"((?:CONNECTOR|SHOPIFY|TRACKING|WOOCOMMERCE)_[A-Z_]+|DATABASE_URL)"',
                          (ROOT / "connector" / "settings.py").read_text()))


def _table() -> set[str]:
    text = (ROOT / "README.md").read_text()
    section = text[text.index("## Configuration"):]
    section = section[:section.index("\n## ", 1)]
    rows = [line for line in section.splitlines() if line.startswith("| `")]
    return {name for row in rows for name in NAME.findall(row.split("|")[1])}


def test_the_readme_table_names_every_setting_read_and_no_other():
    assert _table() == _read()


def test_env_example_names_every_setting_read_and_no_other():
    assert set(NAME.findall((ROOT / ".env.example").read_text())) == _read()
