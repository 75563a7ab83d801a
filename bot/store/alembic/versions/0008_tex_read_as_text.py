"""TeX in archived titles, abstracts and authors read as text; keys follow

Schema version 8, a data step: papers archived with TeX in them re-read as text, re-keyed or
merged with the paper they now are, the posted ledger following (bot/store/retitle.py).

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

from alembic import op

from bot.store.retitle import reread_tex

revision = "0008"
down_revision = "0007"


def upgrade() -> None:
    reread_tex(op.get_bind())
