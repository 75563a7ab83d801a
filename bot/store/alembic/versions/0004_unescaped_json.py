"""readable UTF-8 in JSON columns (accented authors searchable)

Schema version 4: authors stored ASCII-escaped by older versions (`Zo\\u00eb`) rewritten as
text (`Zoë`), so that the full-text index finds them by the accented name. On SQLite each
row is rewritten and its FTS5 row follows (update trigger); on PostgreSQL one UPDATE through
jsonb, whose text form has no escapes (its search index, 0005, is computed afterwards).

Before Alembic, PostgreSQL skipped this step and version 5 redid it there: a PostgreSQL
database recorded at version 4 is therefore adopted at revision 0003 and runs this one
(bot.store.migrations.adopted_revision).

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import json

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0004"
down_revision = "0003"

papers = sa.table("papers", sa.column("id", sa.Integer), sa.column("authors", sa.JSON))
ESCAPED = sa.cast(papers.c.authors, sa.Text).like("%\\u%", escape="!")


def upgrade() -> None:
    conn = op.get_bind()
    if conn.dialect.name == "postgresql":
        conn.execute(
            sa.update(papers)
            .where(ESCAPED)
            .values(authors=sa.cast(sa.cast(papers.c.authors, JSONB), sa.JSON))
        )
        return
    rows = conn.execute(sa.select(papers.c.id, sa.cast(papers.c.authors, sa.Text)).where(ESCAPED))
    for rid, authors in rows.all():
        conn.execute(
            sa.update(papers).where(papers.c.id == rid).values(authors=json.loads(authors))
        )
