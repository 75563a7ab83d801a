"""Fixtures for store tests: each test runs on a real SQLite file and again on a PostgreSQL
schema of its own (skipped, with the reason, when no server is reachable)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine

from bot.store.db import make_engine
from bot.store.migrations import migrate


@pytest.fixture
def engine(database: str) -> Iterator[Engine]:
    eng = make_engine(database)
    migrate(eng)
    yield eng
    eng.dispose()
