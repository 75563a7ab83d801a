"""channel interest profiles

Schema version 2: one row per channel, its profile as edited from chat and the configured
values last applied to it (`seeded`).

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"


def upgrade() -> None:
    op.create_table(
        "channels",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("platform", sa.String(32), nullable=False),
        sa.Column("channel_id", sa.String(128), nullable=False),
        sa.Column("name", sa.Text),
        sa.Column("topics", sa.JSON, nullable=False),
        sa.Column("exclude", sa.JSON, nullable=False),
        sa.Column("authors", sa.JSON, nullable=False),
        sa.Column("max_posts", sa.Integer, nullable=False),
        sa.Column("schedule", sa.Text, nullable=False),
        sa.Column("timezone", sa.String(64), nullable=False),
        sa.Column("lookback_seconds", sa.Integer, nullable=False),
        sa.Column("post_empty", sa.Boolean, nullable=False),
        sa.Column("seeded", sa.JSON),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("platform", "channel_id", name="uq_channels_platform_channel_id"),
    )
