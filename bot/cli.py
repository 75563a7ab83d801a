"""The `paperboy` command: parse arguments, build the app, run one command, set the exit status."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NoReturn
from zoneinfo import ZoneInfo

import click
from sqlalchemy.exc import SQLAlchemyError

from bot import __version__
from bot.app import App, build_app, build_deliveries
from bot.digest import ChannelOutcome, items_json
from bot.errors import ConfigError, PaperboyError, StoreError
from bot.evaluate import evaluate, load_labels, macro_f1
from bot.ingest import Progress, SourceReport
from bot.models import Paper, Profile
from bot.pipeline.match import topics_profile
from bot.settings import Settings, load_settings, parse_duration
from bot.sources.retrieve import AnyRetriever
from bot.store import aio
from bot.store.db import describe, location
from bot.store.profiles import format_profile

EXIT_FAILURE = 1
EXIT_CONFIG = 2
PROGRESS_MIN = 2000  # papers; smaller inputs finish before a bar is worth drawing


def _fail(message: str, code: int) -> NoReturn:
    click.echo(f"paperboy: {message}", err=True)
    sys.exit(code)


class Context:
    """Lazily loaded settings and app of one CLI invocation."""

    def __init__(self, config: str | None) -> None:
        self._config = config
        self._settings: Settings | None = None
        self._app: App | None = None

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            try:
                self._settings = load_settings(self._config)
            except ConfigError as e:
                _fail(str(e), EXIT_CONFIG)
        return self._settings

    @contextmanager
    def app(self, *, read_only: bool = False) -> Iterator[App]:
        """The app; `read_only` leaves an existing database unchanged (see build_app)."""
        try:
            self._app = build_app(self.settings, seed=not read_only)
        except PaperboyError as e:
            _fail(str(e), EXIT_FAILURE)
        except SQLAlchemyError as e:  # e.g. a damaged file, read while opening it
            _fail(describe(e), EXIT_FAILURE)
        try:
            yield self._app
        except (StoreError, SQLAlchemyError) as e:
            # the database failed under the command: what it means and what to do, in one
            # line (never a traceback: its SQL parameters would show paper text)
            _fail(describe(e), EXIT_FAILURE)
        finally:
            self._app.close()


pass_ctx = click.make_pass_decorator(Context)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="paperboy")
@click.option(
    "--config",
    "config",
    metavar="FILE",
    help="YAML configuration (default: $PAPERBOY_CONFIG, config/paperboy.yaml, bundled demo).",
)
@click.pass_context
def cli(ctx: click.Context, config: str | None) -> None:
    """Paperboy brings the day's research papers into Slack and Discord channels."""
    ctx.obj = Context(config)


def _print_report(report: SourceReport, *, max_rejects: int = 20) -> None:
    fmt = f" ({report.format})" if report.format else ""
    click.echo(f"{report.name}{fmt}: {report.summary()}")
    for note in report.notes:
        click.echo(f"  note: {note}")
    for rej in report.rejected[:max_rejects]:
        click.echo(f"  rejected {rej.location}: {rej.reason}")
    if len(report.rejected) > max_rejects:
        click.echo(f"  … and {len(report.rejected) - max_rejects} more rejected records")


@contextmanager
def _progress(label: str) -> Iterator[Progress | None]:
    """A progress callback that draws a bar on a terminal once an input is large."""
    if not sys.stderr.isatty():
        yield None
        return
    bar: Any = None
    shown = 0

    def update(done: int, total: int) -> None:
        nonlocal bar, shown
        if bar is None and total >= PROGRESS_MIN:
            bar = click.progressbar(length=total, label=label, file=sys.stderr).__enter__()
        if bar is not None:
            bar.update(done - shown)
            shown = done

    try:
        yield update
    finally:
        if bar is not None:
            bar.__exit__(None, None, None)


def _run(coro_fn: Callable[[], Any]) -> Any:
    return asyncio.run(coro_fn())


def _archived_keys(app: App, papers: Sequence[Paper]) -> set[str]:
    return {paper.key for paper in papers if app.archive.get(paper.key) is not None}


async def _preview(
    app: App,
    retriever: AnyRetriever,
    name: str,
    locations: list[str],
    *,
    kind: str | None,
    include_replacements: bool = False,
) -> SourceReport:
    """`ingest --dry-run` of one input: fetch and parse as an ingest would, print every
    paper it would store (new, or already archived and merged), write nothing."""
    from bot.sources.detect import parse_any
    from bot.sources.guard import unexpected_error
    from bot.sources.retrieve import redact_url

    report = SourceReport(redact_url(name), redact_url(locations[-1]))
    lines: list[str] = []
    for loc in locations:
        try:
            fetched = await retriever.fetch(loc)
            parsed = await asyncio.to_thread(
                parse_any,
                fetched.content,
                source=report.name,
                kind=kind,
                include_replacements=include_replacements,
                content_type=fetched.content_type,
            )
            known = await aio.run(_archived_keys, app, parsed.papers)
        except PaperboyError as e:
            report.error = str(e).removeprefix(f"{report.name}: ")
            break
        except Exception as e:  # a bug: this input's failure, as in a real ingest
            report.error = unexpected_error(e)
            break
        report.format = parsed.format
        report.parsed += len(parsed.papers)
        report.rejected += parsed.rejected
        report.notes += parsed.notes
        report.known += len(known)
        report.new += len(parsed.papers) - len(known)
        for paper in parsed.papers:
            state = "already archived, merged" if paper.key in known else "new"
            arxiv = f" [arXiv {paper.arxiv_id}]" if paper.arxiv_id else ""
            lines.append(f"  would store ({state}): {paper.title}{arxiv}")
    _print_report(report)
    for line in lines if not report.failed else []:
        click.echo(line)
    return report


@cli.command()
@click.argument("locations", nargs=-1, metavar="[PATH_OR_URL]...")
@click.option(
    "--kind",
    type=click.Choice(["dump", "hf-daily", "rss"]),
    help="Format of the given inputs (default: detected from the content; a file is read "
    "as a papers dump only when it looks like one, `--kind dump` forces it).",
)
@click.option("--source", "names", multiple=True, help="Ingest only this configured source.")
@click.option(
    "--dry-run", is_flag=True, help="Show every paper that would be stored; store nothing."
)
@pass_ctx
def ingest(
    ctx: Context,
    locations: tuple[str, ...],
    kind: str | None,
    names: tuple[str, ...],
    dry_run: bool,
) -> None:
    """Bring papers into the archive: the given files/URLs, else every configured source.

    Exit status 1 when any source failed entirely (its good records are still stored).
    With --dry-run, nothing is written: each paper that would be stored is listed.
    """
    settings = ctx.settings
    unknown = set(names) - {s.name for s in settings.sources}
    if unknown:
        _fail(f"no configured source named {', '.join(sorted(unknown))}", EXIT_CONFIG)

    async def preview(app: App) -> list[SourceReport]:
        from bot.ingest import expand_locations

        async with AnyRetriever() as retriever:
            if locations:
                return [await _preview(app, retriever, loc, [loc], kind=kind) for loc in locations]
            return [
                await _preview(
                    app,
                    retriever,
                    src.name,
                    expand_locations(src, datetime.now(UTC)),
                    kind=src.kind,
                    include_replacements=src.include_replacements,
                )
                for src in settings.sources
                if src.enabled and (not names or src.name in names)
            ]

    if dry_run:
        with ctx.app(read_only=True) as app:
            reports = _run(lambda: preview(app))
            total = app.archive.count()
        new = sum(r.new for r in reports)
        click.echo(f"dry run: nothing stored; archive: {total} papers ({new} would be new)")
        if any(r.failed for r in reports):
            sys.exit(EXIT_FAILURE)
        return

    async def main(app: App) -> list[SourceReport]:
        reports = []
        async with AnyRetriever() as retriever:
            ingestor = app.ingestor(retriever)
            if locations:
                for loc in locations:
                    with _progress(loc) as progress:
                        reports.append(
                            await ingestor.ingest_location(loc, kind=kind, progress=progress)
                        )
                    _print_report(reports[-1])
            else:
                for src in settings.sources:
                    if not src.enabled or (names and src.name not in names):
                        continue
                    with _progress(src.name) as progress:
                        reports.append(await ingestor.ingest_source(src, progress=progress))
                    _print_report(reports[-1])
        return reports

    with ctx.app() as app:
        reports = _run(lambda: main(app))
        if not reports:
            click.echo("nothing to ingest: no sources configured and no PATH_OR_URL given")
        total = app.archive.count()
    new = sum(r.new for r in reports)
    click.echo(f"archive: {total} papers ({new} new)")
    if any(r.failed for r in reports):
        sys.exit(EXIT_FAILURE)


@cli.command()
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
        reports = _run(lambda: main(app))
        for report in reports:
            _print_report(report, max_rejects=3)
        failed = [r.name for r in reports if r.failed]
        if failed:
            click.echo(
                f"could not fetch {', '.join(failed)} (offline?); "
                "going on with what the other sources had"
            )
        click.echo(f"archive: {app.archive.count()} papers ({sum(r.new for r in reports)} new)")
        outcomes = _run(lambda: _digest(app, app.profiles.all(), dry_run=False, since=None))
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
    if outcome.status == "dry-run":
        click.echo(f"{label}: would post {n} paper(s){extra}")
    elif outcome.status == "claimed":
        click.echo(f"{label}: this scheduled digest already ran")
    elif outcome.status == "empty":
        click.echo(f"{label}: nothing new{extra}")
    elif outcome.error:
        click.echo(f"{label}: {outcome.status}: {outcome.error} ({len(outcome.posted)} posted)")
    else:
        click.echo(f"{label}: posted {len(outcome.posted)} paper(s){extra}")


def _select_profiles(app: App, channel: str | None) -> list[Profile]:
    profiles = app.channel_profiles()
    if channel is None:
        return profiles
    chosen = [p for p in profiles if channel in (p.channel_id, p.ref)]
    if not chosen:
        known = ", ".join(p.ref for p in profiles) or "none"
        _fail(f"no channel {channel!r} (known: {known})", EXIT_CONFIG)
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


@cli.command()
@click.option("--channel", metavar="ID", help="Only this channel (its id or platform:id).")
@click.option(
    "--dry-run",
    is_flag=True,
    help="Post and record nothing: an existing database is left unchanged.",
)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per paper to post.")
@click.option("--since", type=click.DateTime(["%Y-%m-%d"]), help="Consider papers since DATE.")
@click.option("--backfill", metavar="DURATION", help="Consider papers of the last DURATION (7d).")
@pass_ctx
def digest(
    ctx: Context,
    channel: str | None,
    dry_run: bool,
    as_json: bool,
    since: datetime | None,
    backfill: str | None,
) -> None:
    """Run one digest for every channel (or one): match, drop what was posted, rank, post.

    A new channel looks back its `lookback` only; --since/--backfill widen the window.
    Exit status 1 when a channel failed (the others still ran).

    With --dry-run nothing is written to an existing database, not even the channel
    profiles from the configuration (they are shown as they would be applied); a database
    that needs a schema upgrade is refused. Only a missing database is created.
    """
    if since is not None and backfill is not None:
        _fail("give --since or --backfill, not both", EXIT_CONFIG)
    with ctx.app(read_only=dry_run) as app:
        start = since.replace(tzinfo=UTC) if since is not None else None
        if backfill is not None:
            try:
                start = app.clock() - parse_duration(backfill)
            except ValueError as e:
                _fail(f"--backfill {backfill!r}: {e}", EXIT_CONFIG)
        profiles = _select_profiles(app, channel)
        outcomes = _run(lambda: _digest(app, profiles, dry_run=dry_run, since=start))
    for outcome in outcomes:
        if as_json:
            for line in items_json(outcome):
                click.echo(json.dumps(line, ensure_ascii=False))
        else:
            _print_outcome(outcome)
    if any(o.failed for o in outcomes):
        sys.exit(EXIT_FAILURE)


@cli.command()
@pass_ctx
def channels(ctx: Context) -> None:
    """Each channel's effective profile (configuration merged with changes from chat).

    Read-only: an existing database is left unchanged (the configuration is merged as the
    next writing command will apply it, without storing it).
    """
    with ctx.app(read_only=True) as app:
        profiles = app.channel_profiles()
        report = app.seed_report
        now = app.clock()
    if report.not_in_config:
        click.echo(f"({len(report.not_in_config)} channel(s) exist only from chat changes)")
    if not profiles:
        click.echo("no channels: add some under 'channels:' in the configuration")
    for i, profile in enumerate(profiles):
        if i:
            click.echo("")
        click.echo(format_profile(profile, next_digest=_next_digest(profile, now)))


def _next_digest(profile: Profile, now: datetime) -> str:
    """When the channel's next scheduled digest is posted: weekday, local time, zone."""
    from bot.pipeline.render.common import format_day
    from bot.schedule import next_fire
    from bot.service import wants_digest

    if not wants_digest(profile):
        return "none (the channel follows no topics or authors)"
    fire = next_fire(profile, now)
    if fire is None:
        return "none (the schedule never fires)"
    local = fire.astimezone(ZoneInfo(profile.timezone))
    return f"{format_day(local.date())} {local:%H:%M} {profile.timezone}"


@cli.command("match")
@click.argument("subscription")
@click.option(
    "--exclude", "excludes", multiple=True, metavar="TERM", help="Drop papers about TERM."
)
@click.option("--limit", default=20, show_default=True, help="Show at most this many (0: all).")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
@pass_ctx
def match_cmd(
    ctx: Context, subscription: str, excludes: tuple[str, ...], limit: int, as_json: bool
) -> None:
    """Archive papers that SUBSCRIPTION selects, best first, with score and reason."""
    with ctx.app() as app:
        matcher = app.matcher(app.archive.all())
        concept = matcher.concept(subscription)
        matches = matcher.match(topics_profile([subscription], excludes))
    shown = matches if limit == 0 else matches[:limit]
    if as_json:
        for m in shown:
            click.echo(
                json.dumps(
                    {
                        "key": m.paper.key,
                        "title": m.paper.title,
                        "score": round(m.score, 4),
                        "reason": "; ".join(m.reasons),
                    },
                    ensure_ascii=False,
                )
            )
        return
    for note in concept.notes:
        click.echo(f"({note})")
    if not matches:
        click.echo(f"no archived paper is about '{subscription}'")
        return
    click.echo(
        f"{len(matches)} papers match '{subscription}'"
        + (f", showing {len(shown)}" if len(shown) < len(matches) else "")
    )
    for m in shown:
        ident = f"{m.paper.arxiv_id}  " if m.paper.arxiv_id else ""
        click.echo(f"{m.score:.2f}  {ident}{m.paper.title}")
        click.echo(f"      {'; '.join(m.reasons)}")


@cli.group("eval")
def eval_group() -> None:
    """Measure Paperboy against labelled data."""


@eval_group.command("relevance")
@click.argument("labels", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--topic",
    "topics",
    multiple=True,
    required=True,
    metavar="KEY=SUBSCRIPTION",
    help="A labelled topic key and the subscription a user would type (repeatable).",
)
@click.option("--min-labelled", default=5, show_default=True, help="Topics in the macro average.")
@pass_ctx
def eval_relevance(ctx: Context, labels: Path, topics: tuple[str, ...], min_labelled: int) -> None:
    """Precision, recall and F1 per topic over the labelled papers in the archive.

    Exit status 1 when none of the labelled papers is in the archive (ingest them first).
    """
    pairs = {}
    for t in topics:
        key, sep, sub = t.partition("=")
        if not sep or not key.strip() or not sub.strip():
            _fail(f"--topic {t!r}: expected KEY=SUBSCRIPTION, e.g. moe=moe", EXIT_CONFIG)
        pairs[key.strip()] = sub.strip()
    try:
        label_list = load_labels(labels)
    except PaperboyError as e:
        _fail(str(e), EXIT_CONFIG)
    if not label_list:
        _fail(f"{labels}: no labels (one JSON object per line with title and topics)", EXIT_CONFIG)
    with ctx.app() as app:
        papers = app.archive.all()
        scores, missing = evaluate(label_list, papers, app.lexicon(papers), pairs)
    if len(missing) == len(label_list):
        _fail(
            f"none of the {len(label_list)} labelled papers is in the archive "
            f"({location(ctx.settings.database)}): ingest them first, e.g. "
            "`paperboy ingest ../shared/seeds/*.txt` for the development labels",
            EXIT_FAILURE,
        )
    if missing:
        click.echo(f"warning: {len(missing)} labelled papers are not in the archive (ingest them)")
    click.echo(
        f"{'topic':<14}{'subscription':<24}{'labelled':>9}{'selected':>9}{'P':>7}{'R':>7}{'F1':>7}"
    )
    for s in scores:
        click.echo(
            f"{s.key:<14}{s.subscription:<24}{s.labelled:>9}{s.selected:>9}"
            f"{s.precision:>7.3f}{s.recall:>7.3f}{s.f1:>7.3f}"
        )
    click.echo(
        f"macro-F1 (topics with >= {min_labelled} labelled): {macro_f1(scores, min_labelled):.3f}"
    )


@cli.command("migrate-db")
@click.argument("source", metavar="SQLITE_PATH")
@click.argument("target", metavar="POSTGRES_URL")
@click.option(
    "--batch",
    default=1000,
    show_default=True,
    type=click.IntRange(1, 100_000),
    help="Rows per insert.",
)
def migrate_db(source: str, target: str, batch: int) -> None:
    """Copy an SQLite database into an empty PostgreSQL database: the archive, channel
    profiles, posted ledger, digest runs and source state, in batches.

    POSTGRES_URL is postgresql://user:password@host:5432/dbname. Its schema is created;
    a database that already holds data is refused (nothing is copied). The copy is one
    transaction: interrupted, it leaves the target empty, so run it again. Stop
    `paperboy run` first, then point `database:` at POSTGRES_URL."""
    import time

    from sqlalchemy.engine import make_url

    from bot.store.copy import copy_database
    from bot.store.db import database_problem, database_url, make_engine

    if database_problem(source) is not None:
        _fail("SQLITE_PATH must be the path of an SQLite database file", EXIT_CONFIG)
    src_url = make_url(database_url(source))
    if src_url.get_backend_name() != "sqlite":
        _fail("SQLITE_PATH must be the path of an SQLite database file", EXIT_CONFIG)
    if not src_url.database or not Path(src_url.database).is_file():
        _fail(f"{source}: no such SQLite database file", EXIT_CONFIG)
    problem = database_problem(target)
    if problem is not None:
        _fail(f"POSTGRES_URL: {problem}", EXIT_CONFIG)
    dst_url = make_url(database_url(target))
    shown = dst_url.render_as_string(hide_password=True)
    if dst_url.get_backend_name() != "postgresql":
        _fail(f"POSTGRES_URL must be a postgresql:// URL, not {shown}", EXIT_CONFIG)

    def progress(table: str, rows: int) -> None:
        if rows % (batch * 10) == 0:
            click.echo(f"  {table}: {rows} rows …", err=True)

    started = time.perf_counter()
    try:
        src_engine = make_engine(source, read_only=True)
        dst_engine = make_engine(target)
        try:
            report = copy_database(src_engine, dst_engine, batch=batch, progress=progress)
        finally:
            src_engine.dispose()
            dst_engine.dispose()
    except PaperboyError as e:
        _fail(str(e).replace(target, shown), EXIT_FAILURE)
    if report.upgraded_from is not None:
        click.echo(f"(upgraded {source} from schema version {report.upgraded_from} first)")
    click.echo(f"copied {source} into {shown} in {time.perf_counter() - started:.1f} s:")
    for table, rows in report.rows.items():
        click.echo(f"  {table}: {rows}")
    click.echo(f"next: set `database: {shown}` (or DATABASE_URL) and start Paperboy again")


@cli.command("sync-commands")
@click.option("--guild", "guild_id", type=int, metavar="ID", help="Only this server (at once).")
@pass_ctx
def sync_commands_cmd(ctx: Context, guild_id: int | None) -> None:
    """Register the /papers slash commands with Discord, in one server or globally (global
    commands may take an hour to appear). Run it after installing or upgrading: Discord
    limits command creations per day, so Paperboy never syncs by itself."""
    from bot.chat.discord_app import sync_commands

    settings = ctx.settings
    if settings.discord.bot_token is None or not settings.discord.bot_token.get_secret_value():
        _fail("discord.bot_token is not set: configure the Discord bot's token", EXIT_CONFIG)
    try:
        names = _run(lambda: sync_commands(settings.discord, guild_id=guild_id))
    except ConfigError as e:
        _fail(str(e), EXIT_CONFIG)
    except PaperboyError as e:
        _fail(str(e), EXIT_FAILURE)
    where = f"server {guild_id}" if guild_id is not None else "all servers (may take an hour)"
    click.echo(f"synced {len(names)} command(s) to {where}:")
    for name in names:
        click.echo(f"  {name}")


@cli.command()
@pass_ctx
def run(ctx: Context) -> None:
    """Run the service: fetch on schedule, post each channel's digest at its local time,
    answer /papers in Slack and Discord (whichever are configured). Stops cleanly on
    SIGTERM or Ctrl-C. Logs are JSON lines on stderr, secrets redacted."""
    from bot.logs import configure_logging, settings_secrets
    from bot.runner import serve

    settings = ctx.settings
    configure_logging(settings.log_level, secrets=settings_secrets(settings))
    try:
        code = asyncio.run(serve(settings))
    except (StoreError, SQLAlchemyError) as e:  # as the other commands: one line, no SQL
        _fail(describe(e), EXIT_FAILURE)
    except PaperboyError as e:
        _fail(str(e), EXIT_FAILURE)
    sys.exit(code)


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="The status as one JSON object.")
@pass_ctx
def status(ctx: Context, as_json: bool) -> None:
    """Last fetch and result per source, last digest and result per channel, and what is
    failing. Exit status 1 when something is failing."""
    from bot.status import collect_status, format_status

    with ctx.app(read_only=True) as app:
        report = collect_status(app, check_database=True)
    if as_json:
        click.echo(json.dumps(report.as_json(), ensure_ascii=False))
    else:
        click.echo(format_status(report))
    if report.failing:
        sys.exit(EXIT_FAILURE)


def main() -> None:
    """Console-script entry point."""
    cli(prog_name="paperboy")
