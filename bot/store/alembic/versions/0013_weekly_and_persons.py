"""weekly digests and personal profiles

Schema version 13 (issue 19): a channel's weekly digest (`weekly`: its cron schedule in the
channel's zone, null for none), and personal profiles delivered by direct message (`kind`
"person"; `channel_id` is then the user id; `home`, the channel they manage it from;
`include_channel_posts`). `state_reason` says why the bot paused a profile (a DM refused)
and `notified_at` when the person was told. Existing rows are channels without a weekly
digest.

Revision ID: 0013
Revises: 0012
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"


def upgrade() -> None:
    with op.batch_alter_table("channels") as batch:
        batch.add_column(sa.Column("weekly", sa.Text))
        batch.add_column(sa.Column("kind", sa.String(16), nullable=False, server_default="channel"))
        batch.add_column(sa.Column("home", sa.String(200)))
        batch.add_column(
            sa.Column(
                "include_channel_posts", sa.Boolean, nullable=False, server_default=sa.false()
            )
        )
        batch.add_column(sa.Column("state_reason", sa.Text))
        batch.add_column(sa.Column("notified_at", sa.DateTime(timezone=True)))
