"""posted ledger and digest runs

Schema version 3: the posted ledger, unique per (channel, paper), and digest runs, whose
unique (channel, scheduled_for) is the claim of a scheduled run.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"

UTC_DATETIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "posted",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("channel", sa.String(200), nullable=False),
        sa.Column("paper_key", sa.String(512), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("lease_until", UTC_DATETIME),
        sa.Column("posted_at", UTC_DATETIME),
        sa.Column("message_ref", sa.Text),
        sa.UniqueConstraint("channel", "paper_key", name="uq_posted_channel_paper"),
    )
    op.create_table(
        "digest_runs",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("channel", sa.String(200), nullable=False),
        sa.Column("scheduled_for", UTC_DATETIME),
        sa.Column("started_at", UTC_DATETIME, nullable=False),
        sa.Column("finished_at", UTC_DATETIME),
        sa.Column("window_start", UTC_DATETIME),
        sa.Column("window_end", UTC_DATETIME),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("posted", sa.Integer, nullable=False),
        sa.Column("error", sa.Text),
        sa.UniqueConstraint("channel", "scheduled_for", name="uq_digest_runs_claim"),
    )
