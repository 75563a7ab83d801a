"""Fixtures shared by the whole suite."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
FIXTURES = REPO_ROOT / "tests" / "fixtures"


@pytest.fixture
def fixtures_dir() -> Path:
    """The synthetic fixtures committed with the tests (`tests/fixtures/`)."""
    return FIXTURES


@pytest.fixture
def shared_dir() -> Path:
    """The `shared/` folder beside the repository (real seeds and recorded payloads).

    Skips the test when it is absent, as on a fresh clone.
    """
    path = REPO_ROOT.parent / "shared"
    if not path.is_dir():
        pytest.skip(
            "../shared not present: real-data tests need the shared/ folder beside the repo"
        )
    return path
