"""Fixtures for store tests: a real SQLite database file per test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from bot.store.db import make_engine
from bot.store.migrations import migrate


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    eng = make_engine(str(tmp_path / "paperboy.db"))
    migrate(eng)
    yield eng
    eng.dispose()
