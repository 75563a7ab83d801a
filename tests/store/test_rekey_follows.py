"""When a paper's key changes (a title-only paper later arrives with its arXiv id, or two
stored papers turn out to be one), everything that names the paper by key follows it: the
posted ledger (tests/store/test_archive.py) and every channel's feedback. On a real
database (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine

from bot.models import Feedback, Paper
from bot.store.archive import Archive
from bot.store.feedback import FeedbackStore

T0 = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
TITLE = "Qwen2 Technical Report"


def _vote(user: str, key: str) -> Feedback:
    return Feedback("slack:C1", user, key, 1, T0, "button")


def test_feedback_follows_a_title_key_to_the_arxiv_id(engine: Engine) -> None:
    archive, feedback = Archive(engine), FeedbackStore(engine)
    archive.upsert([Paper(title=TITLE, abstract="From a dump.", sources=("dump",))], now=T0)
    (stored,) = archive.since(T0 - timedelta(days=1), T0 + timedelta(days=1))
    feedback.record(_vote("U1", stored.key))

    result = archive.upsert(
        [Paper(title=TITLE, arxiv_id="2407.10671", sources=("hf",))], now=T0 + timedelta(days=1)
    )

    assert result.rekeyed == [(stored.key, "2407.10671")]
    assert [v.paper_key for v in feedback.votes("slack:C1")] == ["2407.10671"]
