"""papers archive with full-text index, source state

Schema version 1, frozen as Paperboy 0.1 created it: the paper archive (with SQLite's FTS5
index kept by triggers; PostgreSQL's index came in 0005) and per-source fetch state.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None

UTC_DATETIME = sa.DateTime(timezone=True)  # bot.store.schema.UTCDateTime's column type

SQLITE_FTS = [
    """CREATE VIRTUAL TABLE papers_fts USING fts5(
        title, abstract, authors, content='papers', content_rowid='id',
        tokenize='porter unicode61 remove_diacritics 2')""",
    """CREATE TRIGGER papers_fts_ai AFTER INSERT ON papers BEGIN
        INSERT INTO papers_fts(rowid, title, abstract, authors)
        VALUES (new.id, new.title, new.abstract, new.authors); END""",
    """CREATE TRIGGER papers_fts_ad AFTER DELETE ON papers BEGIN
        INSERT INTO papers_fts(papers_fts, rowid, title, abstract, authors)
        VALUES ('delete', old.id, old.title, old.abstract, old.authors); END""",
    """CREATE TRIGGER papers_fts_au AFTER UPDATE OF title, abstract, authors
        ON papers BEGIN
        INSERT INTO papers_fts(papers_fts, rowid, title, abstract, authors)
        VALUES ('delete', old.id, old.title, old.abstract, old.authors);
        INSERT INTO papers_fts(rowid, title, abstract, authors)
        VALUES (new.id, new.title, new.abstract, new.authors); END""",
]


def upgrade() -> None:
    # Versions recorded by the runner before Alembic; still written (one row per version
    # reached), so that a Paperboy of before Alembic refuses a database newer than itself.
    op.create_table(
        "schema_version",
        sa.Column("version", sa.Integer, primary_key=True),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("applied_at", UTC_DATETIME, nullable=False),
    )
    op.create_table(
        "papers",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("key", sa.String(512), nullable=False, unique=True),
        sa.Column("arxiv_id", sa.String(64), unique=True),
        sa.Column("title", sa.Text, nullable=False),
        sa.Column("title_norm", sa.String(512), nullable=False),
        sa.Column("abstract", sa.Text, nullable=False),
        sa.Column("authors", sa.JSON, nullable=False),
        sa.Column("published", UTC_DATETIME),
        sa.Column("daily_date", sa.Date),
        sa.Column("upvotes", sa.Integer),
        sa.Column("ai_summary", sa.Text),
        sa.Column("ai_keywords", sa.JSON, nullable=False),
        sa.Column("github_repo", sa.Text),
        sa.Column("project_page", sa.Text),
        sa.Column("categories", sa.JSON, nullable=False),
        sa.Column("announce_type", sa.String(32)),
        sa.Column("sources", sa.JSON, nullable=False),
        sa.Column("first_seen", UTC_DATETIME, nullable=False),
        sa.Column("updated_at", UTC_DATETIME, nullable=False),
    )
    op.create_index("ix_papers_title_norm", "papers", ["title_norm"])
    op.create_index("ix_papers_first_seen", "papers", ["first_seen"])
    op.create_table(
        "source_state",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("location", sa.Text),
        sa.Column("etag", sa.Text),
        sa.Column("last_modified", sa.Text),
        sa.Column("last_attempt", UTC_DATETIME),
        sa.Column("last_success", UTC_DATETIME),
        sa.Column("last_result", sa.Text),
        sa.Column("last_error", sa.Text),
        sa.Column("consecutive_failures", sa.Integer, nullable=False),
    )
    if op.get_bind().dialect.name == "sqlite":
        for ddl in SQLITE_FTS:
            op.execute(ddl)
