"""`paperboy migrate-db`: an SQLite database copied into PostgreSQL — every table, in
batches, ids and sequences continuing, search working there; a non-empty target refused."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import Engine, select

from bot.cli import cli
from bot.models import Feedback, Paper, SearchQuery
from bot.settings import ChannelSettings
from bot.sources.base import Validators
from bot.store import schema
from bot.store.archive import Archive
from bot.store.copy import TABLES, TargetNotEmptyError, copy_database
from bot.store.db import make_engine
from bot.store.feedback import FeedbackStore
from bot.store.ledger import Ledger
from bot.store.migrations import migrate
from bot.store.profiles import ProfileStore
from bot.store.runs import DigestRuns
from bot.store.source_state import SourceStateStore

T0 = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
N_PAPERS = 57  # several batches of 10 and a partial one
pytestmark = pytest.mark.postgres


def _fill(engine: Engine) -> None:
    archive = Archive(engine)
    papers = [
        Paper(
            title=f"Mixture of Experts number {i}",
            abstract="Sparse MoE layers route tokens. " * (1 + i % 3),
            arxiv_id=f"2601.{i:05d}",
            authors=("Zoë Ærnø", f"Author {i}"),
            upvotes=i,
        )
        for i in range(N_PAPERS)
    ]
    archive.upsert(papers, now=T0)
    profiles = ProfileStore(engine)
    channel = ChannelSettings(platform="slack", id="C1", topics=["moe"], timezone="Europe/Berlin")
    profiles.seed([channel.profile()], now=T0)
    profiles.add_topic("slack", "C1", "speech", now=T0 + timedelta(hours=1))
    ledger = Ledger(engine)
    keys = [f"2601.{i:05d}" for i in range(5)]
    assert ledger.reserve("slack:C1", keys, now=T0, lease=timedelta(minutes=15)) == keys
    ledger.confirm("slack:C1", keys[:3], ref="1700000000.000100", now=T0)
    runs = DigestRuns(engine)
    run = runs.start("slack:C1", now=T0, window=(T0 - timedelta(days=1), T0), scheduled_for=T0)
    assert run is not None
    runs.finish(run, status=DigestRuns.DONE, posted_count=3, now=T0, error=None)
    state = SourceStateStore(engine)
    validators = Validators('"e"', "Mon")
    state.record_success("hf", location="u", validators=validators, result="ok", now=T0)
    feedback = FeedbackStore(engine)
    feedback.record(Feedback("slack:C1", "U1", "2601.00001", 1, T0, "button"))
    feedback.record(Feedback("slack:C1", "U2", "2601.00002", -1, T0, "reaction"))


def _dump(engine: Engine) -> dict[str, list[dict[str, object]]]:
    with engine.connect() as conn:
        return {
            t.name: [dict(r._mapping) for r in conn.execute(select(t).order_by(*t.primary_key))]
            for t in TABLES
        }


@pytest.fixture
def sqlite_db(tmp_path: Path) -> str:
    path = str(tmp_path / "paperboy.db")
    engine = make_engine(path)
    migrate(engine)
    _fill(engine)
    engine.dispose()
    return path


def test_every_table_is_copied_and_the_copy_works(sqlite_db: str, pg_url: str) -> None:
    source, target = make_engine(sqlite_db), make_engine(pg_url)
    try:
        seen: list[tuple[str, int]] = []
        report = copy_database(source, target, batch=10, progress=lambda t, n: seen.append((t, n)))
        assert report.rows == {
            "papers": N_PAPERS,
            "source_state": 1,
            "channels": 1,
            "posted": 5,
            "digest_runs": 1,
            "feedback": 2,
            "lexicon_state": 0,
            "lexicon_changes": 0,
        }
        assert ("papers", 50) in seen and ("papers", N_PAPERS) in seen  # in batches
        assert _dump(target) == _dump(source)
        # The copy is a working database: search, new rows after the copied ids, the ledger.
        archive = Archive(target)
        zoe = archive.fts(SearchQuery(("zoe",)), limit=100)
        assert [p.key for p, _ in zoe][:1] == ["2601.00000"]
        assert len(archive.fts(SearchQuery(("mixture of experts", "moe")), limit=100)) == N_PAPERS
        archive.upsert([Paper(title="A paper after the move")], now=T0 + timedelta(days=1))
        with target.connect() as conn:
            ids = conn.execute(select(schema.papers.c.id).order_by(schema.papers.c.id)).scalars()
            assert list(ids)[-1] == N_PAPERS + 1
        ledger = Ledger(target)
        assert set(ledger.posted("slack:C1")) == {"2601.00000", "2601.00001", "2601.00002"}
        assert ledger.reserve("slack:C1", ["2601.00000"], now=T0, lease=timedelta(1)) == []
        profile = ProfileStore(target).get("slack", "C1")
        assert profile is not None and profile.topics == ("moe", "speech")
        runs = DigestRuns(target)
        again = runs.start("slack:C1", now=T0, window=(T0, T0), scheduled_for=T0)
        assert again is None  # the claim of the copied run holds
    finally:
        source.dispose()
        target.dispose()


def test_a_target_with_data_is_refused_and_left_unchanged(sqlite_db: str, pg_url: str) -> None:
    source, target = make_engine(sqlite_db), make_engine(pg_url)
    try:
        migrate(target)
        Archive(target).upsert([Paper(title="Already here")], now=T0)
        before = _dump(target)
        with pytest.raises(TargetNotEmptyError, match=r"already has data \(1 papers\)"):
            copy_database(source, target)
        assert _dump(target) == before
    finally:
        source.dispose()
        target.dispose()


def test_cli_migrate_db(sqlite_db: str, pg_url: str, tmp_path: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(cli, ["migrate-db", sqlite_db, pg_url, "--batch", "7"])
    assert result.exit_code == 0, result.output
    assert f"papers: {N_PAPERS}" in result.output and "next: set `database:" in result.output
    again = runner.invoke(cli, ["migrate-db", sqlite_db, pg_url])
    assert again.exit_code == 1
    assert "already has data" in again.output and "empty database" in again.output
    missing = runner.invoke(cli, ["migrate-db", str(tmp_path / "nope.db"), pg_url])
    assert missing.exit_code == 2 and "no such SQLite database file" in missing.output
    assert not (tmp_path / "nope.db").exists()
    wrong = runner.invoke(cli, ["migrate-db", sqlite_db, str(tmp_path / "other.db")])
    assert wrong.exit_code == 2 and "must be a postgresql:// URL" in wrong.output
