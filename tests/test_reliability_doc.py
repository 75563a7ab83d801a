"""RELIABILITY.md names only tests that exist: each `test_…` it cites is defined under tests/."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CITED = re.compile(r"`(?:(?P<path>tests/[\w/]+\.py)::)?(?P<name>test_\w+)(?:\[[^\]`]+\])?`")


def defined_tests() -> dict[str, set[str]]:
    """Test function names by file (relative path)."""
    found: dict[str, set[str]] = {}
    for path in (ROOT / "tests").rglob("test_*.py"):
        names = set(re.findall(r"^(?:async )?def (test_\w+)", path.read_text(), re.MULTILINE))
        found[str(path.relative_to(ROOT))] = names
    return found


def test_every_cited_test_exists() -> None:
    text = (ROOT / "RELIABILITY.md").read_text()
    tests = defined_tests()
    everywhere = set().union(*tests.values())
    cited = list(CITED.finditer(text))
    assert len(cited) >= 40
    missing = [
        m.group(0)
        for m in cited
        if (m["path"] and m["name"] not in tests.get(m["path"], set()))
        or m["name"] not in everywhere
    ]
    assert not missing, f"RELIABILITY.md cites tests that do not exist: {missing}"
