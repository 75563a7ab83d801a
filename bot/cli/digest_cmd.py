"""`paperboy digest` (one digest for every channel, or one) and `paperboy cycle` (one
cycle of the main job: fetch every configured source, then post each channel's digest),
with the line each channel's outcome prints."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime

import click

from bot.app import App, build_deliveries
from bot.cli.common import (
    EXIT_CONFIG,
    EXIT_FAILURE,
    Context,
    fail,
    paper_link,
    pass_ctx,
    run_async,
)
from bot.cli.ingest_cmd import print_report
from bot.digest import ChannelOutcome, items_json
from bot.ingest import SourceReport
from bot.models import Digest, Profile
from bot.pipeline.render.common import UNSURE_HEADING, clean, cut
from bot.settings import parse_duration
from bot.sources.retrieve import AnyRetriever
from bot.store.profile_rules import ChannelEntry
from bot.weekly import ALREADY, CLAIMED, DRY_RUN, WeeklyOutcome, wants_weekly

SUMMARY_LINE = 110  # characters of a paper's summary `digest --dry-run` shows


@click.command()
@pass_ctx
def cycle(ctx: Context) -> None:
    """One cycle of the main job: fetch every configured source, then post each channel's
    digest.

    A failing source is reported and the others go on (offline, the bundled sample is
    used); exit status 1 when every source failed or a channel's digest failed.
    """
    settings = ctx.settings
    sources = [s for s in settings.sources if s.enabled]

    async def main(app: App) -> list[SourceReport]:
        async with AnyRetriever() as retriever:
            ingestor = app.ingestor(retriever)
            return [await ingestor.ingest_source(src) for src in sources]

    with ctx.app() as app:
        reports = run_async(lambda: main(app))
        for report in reports:
            print_report(report, max_rejects=3)
        failed = [r.name for r in reports if r.failed]
        if failed:
            click.echo(
                f"could not fetch {', '.join(failed)} (offline?); "
                "going on with what the other sources had"
            )
        click.echo(f"archive: {app.archive.count()} papers ({sum(r.new for r in reports)} new)")
        outcomes = run_async(lambda: _digest(app, app.profiles.all(), dry_run=False, since=None))
    for outcome in outcomes:
        _print_outcome(outcome)
    if (reports and len(failed) == len(reports)) or any(o.failed for o in outcomes):
        sys.exit(EXIT_FAILURE)


def _print_outcome(outcome: ChannelOutcome) -> None:
    p = outcome.profile
    label = f"{p.ref}" + (f" ({p.name})" if p.name and p.name != p.channel_id else "")
    n = len(outcome.digest.items) if outcome.digest else 0
    more = outcome.digest.more if outcome.digest else 0
    extra = f", {more} more over the cap" if more else ""
    if outcome.deferred:  # reserved by another run that is posting them (or died: lease)
        extra += f", {len(outcome.deferred)} left to another run"
    asked = sum(1 for i in outcome.digest.items if i.unsure) if outcome.digest else 0
    if asked:
        extra += f", {asked} of them asked about (unsure)"
    if outcome.status == "dry-run":
        click.echo(f"{label}: would post {n} paper(s){extra}")
        if outcome.digest is not None:
            _print_items(outcome.digest)
    elif outcome.status == "claimed":
        click.echo(f"{label}: this scheduled digest already ran")
    elif outcome.status == "empty":
        click.echo(f"{label}: nothing new{extra}")
    elif outcome.error:
        click.echo(f"{label}: {outcome.status}: {outcome.error} ({len(outcome.posted)} posted)")
    else:
        click.echo(f"{label}: posted {len(outcome.posted)} paper(s){extra}")


def _print_items(digest: Digest) -> None:
    """The digest as it would read: each paper's title, one line of its summary, its link
    and the topics it matched."""
    asking = False
    for n, item in enumerate(digest.items, 1):
        if item.unsure and not asking:
            asking = True
            click.echo(f"  {UNSURE_HEADING} (asked, not selected)")
        topics = f"  [{', '.join(item.topics)}]" if item.topics else ""
        mark = "?" if item.unsure else "."
        click.echo(f"  {n:>2}{mark} {clean(item.paper.title)}{topics}")
        summary = cut(clean(item.summary), SUMMARY_LINE)
        if summary:
            click.echo(f"      {summary}")
        link = paper_link(item.paper)
        if link:
            click.echo(f"      {link}")


def _select_profiles(app: App, channel: str | None) -> list[Profile]:
    profiles = app.channel_profiles()
    if channel is None:
        return profiles
    chosen = [p for p in profiles if channel in (p.channel_id, p.ref)]
    if not chosen:
        known = ", ".join(p.ref for p in profiles) or "none"
        fail(f"no channel {channel!r} (known: {known})", EXIT_CONFIG)
    return chosen


async def _digest(
    app: App, profiles: list[Profile], *, dry_run: bool, since: datetime | None
) -> list[ChannelOutcome]:
    deliveries = build_deliveries(app.settings)
    try:
        return await app.digest_cycle(deliveries).run(profiles, dry_run=dry_run, since=since)
    finally:
        for delivery in deliveries.values():
            await delivery.aclose()


@click.command()
@click.option(
    "--channel",
    metavar="ID",
    help="Only this channel (its id or platform:id), or one person's alerts (user:slack:U…).",
)
@click.option(
    "--dry-run",
    is_flag=True,
    help="Post and record nothing: an existing database is left unchanged.",
)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per paper to post.")
@click.option("--since", type=click.DateTime(["%Y-%m-%d"]), help="Consider papers since DATE.")
@click.option("--backfill", metavar="DURATION", help="Consider papers of the last DURATION (7d).")
@click.option(
    "--weekly",
    is_flag=True,
    help="The weekly digests (top papers of the week and the trend chart) instead.",
)
@pass_ctx
def digest(
    ctx: Context,
    channel: str | None,
    dry_run: bool,
    as_json: bool,
    since: datetime | None,
    backfill: str | None,
    weekly: bool = False,
) -> None:
    """Run one digest for every channel (or one): match, drop what was posted, rank, post.

    A new channel looks back its `lookback` only; --since/--backfill widen the window.
    Exit status 1 when a channel failed (the others still ran).

    With --dry-run each channel's digest is shown as it would read (titles, one line of
    each summary, links) and nothing is written to an existing database, not even the
    channel profiles from the configuration (they are shown as they would be applied); a
    database that needs a schema upgrade is refused. Only a missing database is created.

    With --weekly, the weekly digests now: every channel with a `weekly` schedule (or the
    --channel given, scheduled or not), the week ending today in its zone; a week's digest
    is posted once (run again, it says it was posted already).
    """
    if weekly:
        _weekly_command(ctx, channel, dry_run, as_json or since is not None or bool(backfill))
        return
    if since is not None and backfill is not None:
        fail("give --since or --backfill, not both", EXIT_CONFIG)
    with ctx.app(read_only=dry_run) as app:
        start = since.replace(tzinfo=UTC) if since is not None else None
        if backfill is not None:
            try:
                start = app.clock() - parse_duration(backfill)
            except ValueError as e:
                fail(f"--backfill {backfill!r}: {e}", EXIT_CONFIG)
        profiles = _select_profiles(app, channel)
        outcomes = run_async(lambda: _digest(app, profiles, dry_run=dry_run, since=start))
    for outcome in outcomes:
        if as_json:
            items = outcome.digest.items if outcome.digest is not None else ()
            for line, item in zip(items_json(outcome), items, strict=True):
                if item.unsure:  # asked about, not selected (only then: the lines stay)
                    line["unsure"] = True
                click.echo(json.dumps(line, ensure_ascii=False))
        else:
            _print_outcome(outcome)
    if any(o.failed for o in outcomes):
        sys.exit(EXIT_FAILURE)


# --- `paperboy digest --weekly` (issue 19) -------------------------------------------------


def _weekly_command(ctx: Context, channel: str | None, dry_run: bool, daily_only: bool) -> None:
    """The weekly digests now: the channels with `weekly` set, or the one asked for. A
    channel that cannot get one (paused or removed, following no topics, a person's
    profile) is named with what to do."""
    if daily_only:
        fail("--json, --since and --backfill are for daily digests, not --weekly", EXIT_CONFIG)
    with ctx.app(read_only=dry_run) as app:
        entries = _entries(app)
        if channel is not None:
            profiles = [_weekly_channel(entries, channel)]
        else:
            profiles = [e.profile for e in entries if e.active and wants_weekly(e.profile)]
            notes = [
                _why_not(e)
                for e in entries
                if e.profile.weekly and not e.person and not (e.active and wants_weekly(e.profile))
            ]
            for note in notes:
                click.echo(note)
            if not profiles:
                if not notes:
                    click.echo(
                        'no channel has a weekly digest: set `weekly: "fri 16:00"` on a '
                        "channel in the configuration, or /papers weekly fri 16:00 in it "
                        "(docs/weekly.md)"
                    )
                return
        outcomes = run_async(lambda: _weekly(app, profiles, dry_run=dry_run))
    for outcome in outcomes:
        _print_weekly(outcome)
    if any(o.status in (DRY_RUN, "done") for o in outcomes):
        click.echo(
            "(this is the week's one weekly digest: its scheduled post this week "
            + ("would then find" if dry_run else "finds")
            + " it posted and posts nothing)"
        )
    if any(o.failed for o in outcomes):
        sys.exit(EXIT_FAILURE)


def _entries(app: App) -> list[ChannelEntry]:
    """Every channel and person with its state (paused and removed ones too), as the
    database has them or, read-only, as seeding would make them."""
    if app.read_only:
        return list(app.profiles.preview(app.settings.profiles()).channels)
    return app.profiles.channels()


def _weekly_channel(entries: list[ChannelEntry], channel: str) -> Profile:
    """The profile of the channel `channel` names for a weekly digest now; a clear error
    (exit 2) saying what is true and what to do when it cannot get one."""
    chosen = [e for e in entries if channel in (e.profile.channel_id, e.ref)]
    if not chosen:
        known = ", ".join(e.ref for e in entries if not e.person) or "none"
        fail(f"no channel {channel!r} (known: {known})", EXIT_CONFIG)
    [entry] = chosen[:1]
    if entry.person:
        fail(
            f"weekly digests are for channels; {entry.ref} is a person's profile (their "
            f"alerts come by direct message: paperboy digest --channel {entry.ref})",
            EXIT_CONFIG,
        )
    if not entry.active or not (entry.profile.topics or entry.profile.authors):
        fail(_why_not(entry), EXIT_CONFIG)
    return entry.profile


def _why_not(entry: ChannelEntry) -> str:
    """Why `entry` gets no weekly digest now, and what to do."""
    ref = entry.ref
    if not entry.active:
        return (
            f"{ref} is {entry.state}: no weekly digest until it is resumed "
            f"(paperboy channels resume {ref}, or /papers resume in the channel)"
        )
    return (
        f"{ref} follows no topics: nothing to show; subscribe it to one "
        "(/papers subscribe <topic> in the channel, or `topics:` in the configuration)"
    )


async def _weekly(app: App, profiles: list[Profile], *, dry_run: bool) -> list[WeeklyOutcome]:
    deliveries = build_deliveries(app.settings)
    try:
        return await app.weekly_cycle(deliveries).run(profiles, dry_run=dry_run)
    finally:
        for delivery in deliveries.values():
            await delivery.aclose()


def _print_weekly(outcome: WeeklyOutcome) -> None:
    p = outcome.profile
    label = f"{p.ref}" + (f" ({p.name})" if p.name and p.name != p.channel_id else "")
    weekly = outcome.weekly
    week = f"week {weekly.week}" if weekly else "this week"
    n = len(weekly.items) if weekly else 0
    if outcome.status == DRY_RUN:
        click.echo(f"{label}: would post the weekly digest of {week}: {n} paper(s) and a chart")
        if weekly is not None:
            if weekly.trend:
                click.echo(f"  {cut(clean(weekly.trend), 300)}")
            for i, item in enumerate(weekly.items, 1):
                click.echo(f"  {i:>2}. {clean(item.paper.title)}")
    elif outcome.status == ALREADY:
        click.echo(f"{label}: the weekly digest of {week} was posted already")
    elif outcome.status == CLAIMED:
        click.echo(f"{label}: the weekly digest of {week} is being posted by another run")
    elif outcome.status == "empty":
        click.echo(f"{label}: nothing to show for {week}")
    elif outcome.error:
        click.echo(f"{label}: {outcome.status}: {outcome.error}")
    else:
        click.echo(f"{label}: posted the weekly digest of {week}: {n} paper(s) and a chart")
