"""feedback: each channel's votes on papers; the ledger indexed by message

Schema version 9 (issue 16): one row per (channel, user, paper) holding that person's latest
vote ("more like this" +1, "not for us" -1), when and how it was given; and the posted ledger
indexed by (channel, message ref), so a reaction on a posted message finds its papers.

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"


def upgrade() -> None:
    op.create_table(
        "feedback",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("channel", sa.String(200), nullable=False),
        sa.Column("user", sa.String(200), nullable=False),
        sa.Column("paper_key", sa.String(512), nullable=False),
        sa.Column("vote", sa.Integer, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("via", sa.String(16), nullable=False),
        sa.UniqueConstraint("channel", "user", "paper_key", name="uq_feedback_channel_user_paper"),
    )
    with op.batch_alter_table("posted") as batch:
        batch.create_index("ix_posted_channel_message_ref", ["channel", "message_ref"])
