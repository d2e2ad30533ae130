"""docs/faults.md names, per fault class, the test that proves it: every name must still be a test here."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_every_test_the_fault_table_names_exists() -> None:
    table = (ROOT / "docs" / "faults.md").read_text(encoding="utf-8")
    named = set(re.findall(r"`(test_[a-z0-9_]+)`", table))
    assert len(named) >= 25
    defined = set()
    for path in (ROOT / "tests").glob("test_*.py"):
        defined |= set(re.findall(r"^def (test_[a-z0-9_]+)\(", path.read_text(encoding="utf-8"), flags=re.MULTILINE))
    missing = sorted(named - defined)
    assert not missing, f"docs/faults.md names tests that do not exist: {missing}"
