"""PostgreSQL full-text index, fetch leases for replicas

Schema version 5: a fetch lease per source (`source_state.lease_until`), with which replicas
sharing a database fetch each source once per interval, and PostgreSQL's full-text index
(SQLite has had FTS5 since 0001): generated `search_vector` and `search_length` columns of
`papers` with their indexes and functions, as bot.store.pg_search defines them.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from bot.store import pg_search

revision = "0005"
down_revision = "0004"


def upgrade() -> None:
    with op.batch_alter_table("source_state") as batch:
        batch.add_column(sa.Column("lease_until", sa.DateTime(timezone=True)))
    if op.get_bind().dialect.name == "postgresql":
        for ddl in pg_search.index_ddl():
            op.execute(ddl)
