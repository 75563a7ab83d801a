"""channel lifecycle: origin and state

Schema version 10 (issue 17): each channel's `origin` ("config": listed in the
configuration; "chat": created from chat) and `state` ("active", "paused", "removed"), who
set it (`state_by`: "config" when the channel left the configuration, "hand" when paused or
removed from chat or the shell) and when (`state_at`). Existing channels are active; those
never seeded from a configuration (`seeded` is null) were created from chat.

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"


def upgrade() -> None:
    with op.batch_alter_table("channels") as batch:
        batch.add_column(
            sa.Column("origin", sa.String(16), nullable=False, server_default="config")
        )
        batch.add_column(sa.Column("state", sa.String(16), nullable=False, server_default="active"))
        batch.add_column(sa.Column("state_by", sa.String(16)))
        batch.add_column(sa.Column("state_at", sa.DateTime(timezone=True)))
    channels = sa.table("channels", sa.column("origin", sa.String), sa.column("seeded", sa.JSON))
    op.execute(channels.update().where(channels.c.seeded.is_(None)).values(origin="chat"))
