"""`paperboy search QUERY`: the archive search of `/papers <words>` (bot.search.Search, the
same query understanding, candidates and ranking), from the shell; changes nothing."""

from __future__ import annotations

import json

import click

from bot.cli.common import Context, paper_lines, paper_record, pass_ctx
from bot.search import CANDIDATES, Search

DEFAULT_LIMIT = 10


@click.command("search")
@click.argument("query", nargs=-1, required=True)
@click.option(
    "--limit",
    default=DEFAULT_LIMIT,
    show_default=True,
    type=click.IntRange(min=0),
    help=f"Show at most this many papers (0: all found, up to {CANDIDATES}).",
)
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="One JSON object per paper: title, key, arxiv_id, link, date, authors, score, why.",
)
@pass_ctx
def search_cmd(ctx: Context, query: tuple[str, ...], limit: int, as_json: bool) -> None:
    """Search the archive as /papers does: the best papers for QUERY, with score and why.

    QUERY is a few words, a topic or a title (quoting is optional:
    `paperboy search mixture of experts`). Best first: the matcher's evidence with the
    full-text rank, then the newest, then the most upvoted. Nothing is written.
    """
    text = " ".join(query)
    with ctx.app(read_only=True) as app:
        result = Search(app.archive, app.lexicons).search(text, limit=limit or CANDIDATES)
    if as_json:
        for hit in result.hits:
            record = {**paper_record(hit.paper), "score": round(hit.score, 4), "why": hit.reason}
            click.echo(json.dumps(record, ensure_ascii=False))
        return
    for note in result.notes:
        click.echo(f"({note})")
    if not result.hits:
        click.echo(f"no archived paper matches '{text}'; try fewer or more general words")
        return
    shown = len(result.hits)
    if result.total > shown:
        found = f"{result.total}+" if result.total >= CANDIDATES else str(result.total)
        click.echo(
            f"showing {shown} of {found} papers found for '{text}' (best first; --limit 0 for all)"
        )
    else:
        click.echo(f"{shown} paper{'s' if shown != 1 else ''} found for '{text}' (best first)")
    for n, hit in enumerate(result.hits, 1):
        for line in paper_lines(hit.paper, rank=f"{n:>2}. {hit.score:.2f}  ", indent=10):
            click.echo(line)
        if hit.reason:
            click.echo(f"{'':10}why: {hit.reason}")
