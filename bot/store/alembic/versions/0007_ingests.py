"""archive writes in progress (digest windows wait for their commits)

Schema version 7: archive writes in progress (bot/store/ingests.py): digest windows end
before papers stamped but not yet committed.

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"


def upgrade() -> None:
    op.create_table(
        "ingests",
        sa.Column("token", sa.String(64), primary_key=True),
        sa.Column("owner", sa.String(200)),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=False),
    )
