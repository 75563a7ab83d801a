"""Paper identity across sources: which archived paper an incoming record is, and the merge."""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from dataclasses import replace
from typing import TypeVar

from bot.models import Paper

K = TypeVar("K", bound=Hashable)


def resolve(
    incoming: Paper,
    by_arxiv: Mapping[str, K],
    by_title: Mapping[str, K],
    known: Mapping[K, Paper],
    *,
    title_norm: str | None = None,
) -> K | None:
    """The handle (in `known`) of the archived paper that `incoming` is, or None if new.

    Same versionless arXiv id → same paper. Otherwise the exact normalized title, but
    never across two different arXiv ids. Similar titles are never merged (DESIGN.md).
    `title_norm` is `incoming.title_norm`, when the caller has computed it already.
    """
    if incoming.arxiv_id and incoming.arxiv_id in by_arxiv:
        return by_arxiv[incoming.arxiv_id]
    handle = by_title.get(incoming.title_norm if title_norm is None else title_norm)
    if handle is None:
        return None
    other = known[handle].arxiv_id
    if incoming.arxiv_id and other and other != incoming.arxiv_id:
        return None
    return handle


def _longer(a: str, b: str) -> str:
    return b if len(b) > len(a) else a


def merge(existing: Paper, incoming: Paper) -> Paper:
    """`existing` completed with what `incoming` knows. Pure and order-insensitive for facts:

    the arXiv id is adopted when missing (the paper is then re-keyed), empty fields are
    filled, the longer abstract wins (dumps truncate), upvotes keep the latest known count,
    sources are united, and `first_seen` stays the earliest.
    """
    title = existing.title
    if existing.arxiv_id is None and incoming.arxiv_id is not None:
        title = incoming.title  # an id-bearing source has the authoritative title
    first_seen = min(
        (t for t in (existing.first_seen, incoming.first_seen) if t is not None), default=None
    )
    return replace(
        existing,
        title=title,
        arxiv_id=existing.arxiv_id or incoming.arxiv_id,
        abstract=_longer(existing.abstract, incoming.abstract),
        authors=existing.authors or incoming.authors,
        published=existing.published or incoming.published,
        daily_date=existing.daily_date or incoming.daily_date,
        upvotes=incoming.upvotes if incoming.upvotes is not None else existing.upvotes,
        ai_summary=existing.ai_summary or incoming.ai_summary,
        ai_keywords=existing.ai_keywords or incoming.ai_keywords,
        github_repo=existing.github_repo or incoming.github_repo,
        project_page=existing.project_page or incoming.project_page,
        categories=tuple(dict.fromkeys((*existing.categories, *incoming.categories))),
        announce_type=existing.announce_type or incoming.announce_type,
        sources=tuple(dict.fromkeys((*existing.sources, *incoming.sources))),
        first_seen=first_seen,
    )
