"""lexicon: its counts saved, and a log of the paper texts that changed

Schema version 11 (issue 18): `lexicon_state` holds the archive's lexicon counts and the
archive state they describe; `lexicon_changes` receives, from triggers on `papers`, the old
title, abstract and keywords of every paper whose text changes or that is deleted, in the
same transaction. A lexicon is then brought up to date from what changed instead of being
relearned from the whole archive (bot/store/lexicon_store.py). Nothing is saved here: the
first process that needs the lexicon counts it once and saves it.

Revision ID: 0011
Revises: 0010
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"

_OLD = (
    "(paper_id, title, abstract, ai_keywords)"
    " VALUES (old.id, old.title, old.abstract, old.ai_keywords)"
)
SQLITE = [
    f"""CREATE TRIGGER papers_lexicon_au AFTER UPDATE OF title, abstract, ai_keywords ON papers
    WHEN old.title IS NOT new.title OR old.abstract IS NOT new.abstract
        OR old.ai_keywords IS NOT new.ai_keywords
    BEGIN INSERT INTO lexicon_changes {_OLD}; END""",
    f"""CREATE TRIGGER papers_lexicon_ad AFTER DELETE ON papers
    BEGIN INSERT INTO lexicon_changes {_OLD}; END""",
]
POSTGRESQL = [
    f"""CREATE FUNCTION papers_lexicon_log() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN INSERT INTO lexicon_changes {_OLD}; RETURN NULL; END $$""",
    """CREATE TRIGGER papers_lexicon_au AFTER UPDATE OF title, abstract, ai_keywords ON papers
    FOR EACH ROW WHEN (old.title IS DISTINCT FROM new.title
        OR old.abstract IS DISTINCT FROM new.abstract
        OR old.ai_keywords::text IS DISTINCT FROM new.ai_keywords::text)
    EXECUTE FUNCTION papers_lexicon_log()""",
    """CREATE TRIGGER papers_lexicon_ad AFTER DELETE ON papers
    FOR EACH ROW EXECUTE FUNCTION papers_lexicon_log()""",
]


def upgrade() -> None:
    op.create_table(
        "lexicon_state",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("papers_mark", sa.Integer, nullable=False),
        sa.Column("changes_mark", sa.Integer, nullable=False),
        sa.Column("pruned_until", sa.Integer, nullable=False),
        sa.Column("data", sa.LargeBinary, nullable=False),
        sa.Column("saved_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "lexicon_changes",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("paper_id", sa.Integer, nullable=False),
        sa.Column("title", sa.Text, nullable=False),
        sa.Column("abstract", sa.Text, nullable=False),
        sa.Column("ai_keywords", sa.JSON),
        sqlite_autoincrement=True,
    )
    dialect = op.get_bind().dialect.name
    for statement in POSTGRESQL if dialect == "postgresql" else SQLITE:
        op.execute(statement)
