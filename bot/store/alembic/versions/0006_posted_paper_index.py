"""posted ledger indexed by paper

Schema version 6: the ledger indexed by paper key, for a digest cycle's one read of every
channel's posts of its window's papers (and re-keying, which updates by paper).

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

from alembic import op

revision = "0006"
down_revision = "0005"


def upgrade() -> None:
    op.create_index("ix_posted_paper_key", "posted", ["paper_key"])
