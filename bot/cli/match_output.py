"""What `paperboy match` prints: the matches best first, saying when `--limit` cut the list
and, when papers share a score, what orders them (bot.pipeline.matches.rank_key: score,
then Hugging Face upvotes, then the newest, then the key); with `--json`, one object per
paper with its link, date and authors."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence

import click

from bot.cli.common import paper_authors, paper_date, paper_link, paper_record
from bot.pipeline.matches import Match

TIE_ORDER = "among equal scores, the most upvoted first, then the newest, then by key"


def print_matches(
    matches: Sequence[Match],
    subscription: str,
    notes: Sequence[str],
    *,
    limit: int,
    as_json: bool,
) -> None:
    shown = list(matches) if limit == 0 else list(matches[:limit])
    if as_json:
        for m in shown:
            record = {
                **paper_record(m.paper),
                "score": round(m.score, 4),
                "upvotes": m.paper.upvotes,
                "reason": "; ".join(m.reasons),
            }
            click.echo(json.dumps(record, ensure_ascii=False))
        return
    for note in notes:
        click.echo(f"({note})")
    if not matches:
        click.echo(f"no archived paper is about '{subscription}'")
        return
    total = len(matches)
    papers = "paper matches" if total == 1 else "papers match"
    if len(shown) < total:
        click.echo(
            f"{total} {papers} '{subscription}'; showing {len(shown)} of {total} "
            "(--limit 0 for all)"
        )
    else:
        click.echo(f"{total} {papers} '{subscription}'")
    shared = Counter(f"{m.score:.2f}" for m in shown)
    tied = sum(n for n in shared.values() if n > 1)
    if tied:
        click.echo(f"({tied} of these share a score with another: {TIE_ORDER})")
    for m in shown:
        ident = f"{m.paper.arxiv_id}  " if m.paper.arxiv_id else ""
        click.echo(f"{m.score:.2f}  {ident}{m.paper.title}")
        facts = [paper_date(m.paper) or "date unknown"]
        if m.paper.authors:
            facts.append(paper_authors(m.paper))
        if m.paper.upvotes:
            facts.append(f"{m.paper.upvotes} upvotes")
        link = paper_link(m.paper)
        if link:
            facts.append(link)
        click.echo(f"      {' · '.join(facts)}")
        click.echo(f"      {'; '.join(m.reasons)}")
