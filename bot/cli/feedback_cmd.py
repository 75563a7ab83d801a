"""`paperboy feedback`: a channel's feedback from the shell — vote on a paper (`--paper P
--up|--down`, as the operator: user "cli", not rate-limited), list the votes (`--list`) or
forget them (`--clear [--paper P]`)."""

from __future__ import annotations

import json

import click

from bot.cli.common import EXIT_FAILURE, Context, fail, pass_ctx, run_async
from bot.feedback import CLI_USER, FeedbackError, Teach
from bot.models import Vote
from bot.store.archive import Archive

VERB = {1: "more like this", -1: "not for us"}


def _channel(app_profiles: list[str], ref: str) -> str:
    platform, sep, channel_id = ref.partition(":")
    if not sep or not platform or not channel_id:
        fail(f"--channel takes PLATFORM:ID, e.g. slack:C0123456 (got {ref!r})", EXIT_FAILURE)
    if ref not in app_profiles:
        known = ", ".join(app_profiles[:10]) or "none"
        fail(
            f"no channel {ref} is configured or stored (known: {known}); "
            "`paperboy channels` lists them",
            EXIT_FAILURE,
        )
    return ref


@click.command("feedback")
@click.option("--channel", "channel_ref", required=True, metavar="PLATFORM:ID")
@click.option("--paper", metavar="PAPER", help="An arXiv id, arXiv URL, paper key or title.")
@click.option("--up", "vote", flag_value=1, type=int, help="More like this.")
@click.option("--down", "vote", flag_value=-1, type=int, help="Not for us.")
@click.option("--list", "listing", is_flag=True, help="List the channel's votes.")
@click.option("--clear", is_flag=True, help="Forget the channel's votes (on --paper only).")
@click.option("--json", "as_json", is_flag=True, help="--list: one JSON object per vote.")
@pass_ctx
def feedback_cmd(
    ctx: Context,
    channel_ref: str,
    paper: str | None,
    vote: int | None,
    listing: bool,
    clear: bool,
    as_json: bool,
) -> None:
    """Teach a channel's digest: --paper PAPER --up|--down votes (the latest vote per paper
    counts), --list shows the channel's votes, --clear [--paper PAPER] forgets them."""
    actions = sum((vote is not None, listing, clear))
    if actions != 1:
        fail("give one of: --paper PAPER --up|--down, --list, --clear [--paper PAPER]", 2)
    if vote is not None and not paper:
        fail("--up/--down need --paper PAPER (an arXiv id, URL or title)", 2)
    with ctx.app() as app:
        ref = _channel([p.ref for p in app.channel_profiles()], channel_ref)
        teach = app.teach()
        try:
            if vote is not None:
                assert paper is not None
                _vote(teach, ref, paper, 1 if vote > 0 else -1)
            elif listing:
                _list(teach, app.archive, ref, as_json)
            else:
                n = run_async(lambda: teach.clear(ref, paper))
                what = f"on {paper!r} " if paper else ""
                click.echo(f"forgot {n} vote{'s' if n != 1 else ''} {what}in {ref}")
        except FeedbackError as e:
            fail(str(e), EXIT_FAILURE)


def _vote(teach: Teach, ref: str, paper: str, vote: Vote) -> None:
    given = run_async(lambda: teach.give(ref, CLI_USER, paper, vote, "cli"))
    ident = f" [{given.paper.arxiv_id}]" if given.paper.arxiv_id else ""
    again = " (replacing the earlier vote from the shell)" if given.replaced else ""
    click.echo(f"{ref}: {VERB[vote]} — {given.paper.title}{ident}{again}")
    votes = run_async(lambda: teach.listing(ref))
    click.echo(f"{ref} has {len(votes)} vote{'s' if len(votes) != 1 else ''}")


def _list(teach: Teach, archive: Archive, ref: str, as_json: bool) -> None:
    votes = run_async(lambda: teach.listing(ref))
    for v in votes:
        found = archive.get(v.paper_key)
        title = found.title if found is not None else v.paper_key
        if as_json:
            row = {
                "channel": v.channel_ref,
                "user": v.user,
                "paper": v.paper_key,
                "title": title,
                "vote": v.vote,
                "at": v.at.isoformat(),
                "via": v.via,
            }
            click.echo(json.dumps(row, ensure_ascii=False))
        else:
            click.echo(f"{v.at:%Y-%m-%d %H:%M}  {v.vote:+d}  {v.user}  ({v.via})  {title}")
    if not as_json:
        click.echo(f"{len(votes)} vote{'s' if len(votes) != 1 else ''} in {ref}")
