"""A paper's key changed (a title key became its arXiv id, or two stored papers turned out
to be one): every table that names papers by key follows it, inside the caller's
transaction. The one place to add a new per-paper table to."""

from __future__ import annotations

from sqlalchemy import Connection

from bot.store.feedback import rekey_feedback
from bot.store.ledger import rekey_posted


def rekey_paper(conn: Connection, old: str, new: str) -> None:
    """Move the posted ledger and every channel's feedback from key `old` to `new`."""
    rekey_posted(conn, old, new)
    rekey_feedback(conn, old, new)
