"""The `paperboy` command: parse arguments, build the app, run one command, set the exit status."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, NoReturn

import click

from bot import __version__
from bot.app import App, build_app
from bot.errors import ConfigError, PaperboyError
from bot.ingest import Progress, SourceReport
from bot.settings import Settings, load_settings
from bot.sources.retrieve import AnyRetriever

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
    def app(self) -> Iterator[App]:
        try:
            self._app = build_app(self.settings)
        except PaperboyError as e:
            _fail(str(e), EXIT_FAILURE)
        try:
            yield self._app
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


@cli.command()
@click.argument("locations", nargs=-1, metavar="[PATH_OR_URL]...")
@click.option(
    "--kind",
    type=click.Choice(["dump", "hf-daily", "rss"]),
    help="Format of the given inputs (default: detected from the content).",
)
@click.option("--source", "names", multiple=True, help="Ingest only this configured source.")
@pass_ctx
def ingest(
    ctx: Context, locations: tuple[str, ...], kind: str | None, names: tuple[str, ...]
) -> None:
    """Bring papers into the archive: the given files/URLs, else every configured source.

    Exit status 1 when any source failed entirely (its good records are still stored).
    """
    settings = ctx.settings
    unknown = set(names) - {s.name for s in settings.sources}
    if unknown:
        _fail(f"no configured source named {', '.join(sorted(unknown))}", EXIT_CONFIG)

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
    """One cycle of the main job: fetch every configured source into the archive.

    A failing source is reported and the others go on (offline, the bundled sample is
    used); exit status 1 only when every source failed.
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
        total = app.archive.count()
    failed = [r.name for r in reports if r.failed]
    if failed:
        click.echo(
            f"could not fetch {', '.join(failed)}; continuing with what the other sources had"
        )
    click.echo(f"archive: {total} papers ({sum(r.new for r in reports)} new)")
    if reports and len(failed) == len(reports):
        sys.exit(EXIT_FAILURE)


def main() -> None:
    """Console-script entry point."""
    cli(prog_name="paperboy")
