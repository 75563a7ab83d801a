"""Migration 8: papers archived with TeX in their title, abstract or authors re-read as text
(bot.models.read_tex, as every source's papers are read since), with their title identity
and key recomputed.

Before, `$\\pi$-Tuning: ...` from arXiv RSS was stored as typed, its normalized title
`pi tuning ...`; the same paper from a dump, `π-Tuning: ...`, became a second paper. After,
both read `π-Tuning: ...`: a stored paper whose key changes is re-keyed (the posted ledger
follows, `rekey_posted`), and two stored papers that are now one (the same normalized
title, never two different arXiv ids) are merged into the older one, the newer row removed
and its posts moved to the merged key, so neither is posted again.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import ColumnElement, Connection, Text, and_, cast, delete, or_, select, update

from bot.models import Paper, normalize_title, read_tex
from bot.pipeline.merge import merge
from bot.store.archive import _paper_values, _row_to_paper

# Only the ledger: this runs in migration 0008, before the feedback table (0009) exists.
from bot.store.ledger import rekey_posted
from bot.store.schema import papers


def _has_tex() -> ColumnElement[bool]:
    columns = (papers.c.title, papers.c.abstract, cast(papers.c.authors, Text))
    return or_(*(c.contains(mark, autoescape=True) for c in columns for mark in ("\\", "$")))


def _store(conn: Connection, rid: int, paper: Paper, now: datetime) -> str:
    values = _paper_values(paper, now, normalize_title(paper.title))
    conn.execute(update(papers).where(papers.c.id == rid).values(**values))
    return str(values["key"])


def reread_tex(conn: Connection) -> list[tuple[str, str]]:
    """Re-read the archived papers with TeX in them; the (old key, new key) pairs re-keyed."""
    now = datetime.now(UTC)
    rekeyed: list[tuple[str, str]] = []
    ids = [r.id for r in conn.execute(select(papers.c.id).where(_has_tex()).order_by(papers.c.id))]
    for rid in ids:
        row = conn.execute(select(papers).where(papers.c.id == rid)).first()
        if row is None:  # merged into an earlier paper already
            continue
        stored = _row_to_paper(row)
        paper = read_tex(stored)
        norm = normalize_title(paper.title)
        key = paper.arxiv_id or norm
        if paper == stored and (norm, key) == (row.title_norm, row.key):
            continue
        same = [papers.c.title_norm == norm, papers.c.key == key]
        if paper.arxiv_id:
            same.append(papers.c.arxiv_id == paper.arxiv_id)
        others = [
            o
            for o in conn.execute(
                select(papers).where(and_(papers.c.id != rid, or_(*same))).order_by(papers.c.id)
            )
            if o.arxiv_id is None or paper.arxiv_id is None or o.arxiv_id == paper.arxiv_id
        ]
        if not others:
            new_key = _store(conn, rid, paper, now)
            if new_key != row.key:
                rekey_posted(conn, row.key, new_key)
                rekeyed.append((row.key, new_key))
            continue
        other = others[0]
        older, newer = (other, paper) if other.id < rid else (paper, other)
        keep_id, drop_id = (other.id, rid) if other.id < rid else (rid, other.id)
        older_paper = read_tex(_row_to_paper(older)) if older is other else paper
        newer_paper = read_tex(_row_to_paper(newer)) if newer is other else paper
        merged = merge(older_paper, newer_paper)
        old_keys = {row.key, other.key}
        conn.execute(delete(papers).where(papers.c.id == drop_id))
        new_key = _store(conn, keep_id, merged, now)
        for old in sorted(old_keys - {new_key}):
            rekey_posted(conn, old, new_key)
            rekeyed.append((old, new_key))
    return rekeyed
