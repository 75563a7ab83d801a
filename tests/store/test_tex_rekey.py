"""Migration 8 (issue 14, item 5): a database written before TeX was read as text holds
`$\\pi$-Tuning` under the title key `pi tuning ...`, and maybe the dump's `π-Tuning` as a
second paper. After the upgrade they are one paper, shown as text, and what was posted
under either key stays posted (the ledger follows the keys)."""

from __future__ import annotations

import re
import unicodedata
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, insert, select

from bot.models import Paper, normalize_title
from bot.store.archive import Archive, _paper_values
from bot.store.db import make_engine
from bot.store.migrations import LATEST, _upgrade_to, current_version, migrate
from bot.store.schema import papers, posted, schema_version

NOW = datetime(2026, 6, 2, 12, tzinfo=UTC)
TAIL = "-Tuning: Transferring Multimodal Foundation Models with Optimal Multi-task Interpolation"


def old_normalize(title: str) -> str:
    """The title identity before TeX was read (version 7)."""
    return re.sub(r"[\W_]+", " ", unicodedata.normalize("NFKC", title).casefold()).strip()


def _old_row(paper: Paper, old_norm: str, first_seen: datetime) -> dict[str, object]:
    """The row version 7 wrote: the title as typed, its key by the old normalization."""
    values = _paper_values(paper, first_seen, old_norm)
    values["key"] = paper.arxiv_id or old_norm
    values["first_seen"] = first_seen
    return values


def _post(engine: Engine, channel: str, key: str) -> None:
    with engine.begin() as conn:
        conn.execute(
            insert(posted).values(
                channel=channel, paper_key=key, status="posted", posted_at=NOW, message_ref="m"
            )
        )


def _at_version_7(database: str) -> Engine:
    """A database as version 7 left it: that schema (no later revision's tables), recorded
    the way the hand-rolled runner recorded it."""
    engine = make_engine(database)
    with engine.begin() as conn:
        _upgrade_to(conn, 7)
        conn.exec_driver_sql("DROP TABLE alembic_version")
        conn.execute(insert(schema_version).values(version=7, description="at 7", applied_at=NOW))
    return engine


def test_upgrade_merges_the_tex_spelling_into_the_plain_paper_and_keeps_posts(
    database: str,
) -> None:
    engine = _at_version_7(database)
    dump = Paper(title=f"π{TAIL}", abstract="Short.", sources=("dump",))
    rss = Paper(
        title=f"$\\pi${TAIL}",
        abstract="A longer abstract about $O(n)$ interpolation.",
        arxiv_id="2304.14381",
        authors=("Andr\\'e Example",),
        sources=("rss",),
    )
    lone = Paper(title="Learning in $\\mathbb{R}^n$ Quickly", sources=("rss",))
    plain = Paper(title="Costs $5 to $10 per query", sources=("dump",))
    dump_key = normalize_title(dump.title)
    old_rss_norm = old_normalize(rss.title)
    assert old_rss_norm.startswith("pi tuning") and dump_key.startswith("π tuning")
    with engine.begin() as conn:
        conn.execute(insert(papers), [_old_row(dump, dump_key, NOW - timedelta(days=2))])
        conn.execute(insert(papers), [_old_row(rss, old_rss_norm, NOW - timedelta(days=1))])
        conn.execute(insert(papers), [_old_row(lone, old_normalize(lone.title), NOW)])
        conn.execute(insert(papers), [_old_row(plain, old_normalize(plain.title), NOW)])
    _post(engine, "slack:A", dump_key)  # posted the dump's paper
    _post(engine, "slack:A", "2304.14381")  # and again as the RSS one (the bug)
    _post(engine, "slack:B", "2304.14381")
    _post(engine, "slack:C", "learning in mathbb r n quickly")

    assert migrate(engine) == 7
    with engine.connect() as conn:
        assert current_version(conn) == LATEST
        ledger = sorted(conn.execute(select(posted.c.channel, posted.c.paper_key)).all())
    archive = Archive(engine)
    by_title = {p.title: p for p in archive.all()}
    assert sorted(by_title) == [
        "Costs $5 to $10 per query",
        "Learning in ℝ^n Quickly",
        f"π{TAIL}",
    ]
    merged = by_title[f"π{TAIL}"]
    assert merged.key == "2304.14381" and merged.authors == ("André Example",)
    assert merged.abstract == "A longer abstract about O(n) interpolation."
    assert merged.first_seen == NOW - timedelta(days=2)  # the older paper's
    assert ledger == [
        ("slack:A", "2304.14381"),
        ("slack:B", "2304.14381"),
        ("slack:C", "learning in r n quickly"),  # NFKC reads ℝ as R
    ]
    # The dump's spelling and the RSS spelling now both find the one archived paper.
    again = archive.upsert([dump, rss], now=NOW)
    assert (again.new, again.known) == (0, 2)
    assert migrate(engine) == LATEST  # reopening changes nothing


def test_upgrade_of_an_archive_without_tex_changes_nothing(database: str) -> None:
    engine = _at_version_7(database)
    archive = Archive(engine)
    archive.upsert([Paper(title="Qwen2 Technical Report", abstract="x")], now=NOW)
    before = archive.all()
    assert migrate(engine) == 7
    assert archive.all() == before
