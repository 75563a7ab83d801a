"""`paperboy ingest`: bring papers into the archive from the given files/URLs or the
configured sources, or with `--dry-run` list what would be stored and write nothing.
Also `print_report`, the lines one source's report prints (shared with `cycle`)."""

from __future__ import annotations

import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import click

from bot.app import App
from bot.cli.common import EXIT_CONFIG, EXIT_FAILURE, Context, fail, pass_ctx, run_async
from bot.errors import PaperboyError
from bot.ingest import Progress, SourceReport, parse_fetched
from bot.models import Paper
from bot.sources.retrieve import AnyRetriever
from bot.store import aio

PROGRESS_MIN = 2000  # papers; smaller inputs finish before a bar is worth drawing


def print_report(report: SourceReport, *, max_rejects: int = 20) -> None:
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
    from bot.sources.guard import unexpected_error
    from bot.sources.retrieve import redact_url

    report = SourceReport(redact_url(name), redact_url(locations[-1]))
    lines: list[str] = []
    for loc in locations:
        try:
            fetched = await retriever.fetch(loc)
            parsed = await parse_fetched(
                fetched, source=report.name, kind=kind, include_replacements=include_replacements
            )
            known = await aio.run(_archived_keys, app, parsed.papers)
        except PaperboyError as e:
            report.error = str(e).removeprefix(f"{report.name}: ")
            break
        except Exception as e:  # a bug: this input's failure, as in a real ingest
            report.error = unexpected_error(e)
            break
        report.count(parsed)
        report.known += len(known)
        report.new += len(parsed.papers) - len(known)
        for paper in parsed.papers:
            state = "already archived, merged" if paper.key in known else "new"
            arxiv = f" [arXiv {paper.arxiv_id}]" if paper.arxiv_id else ""
            lines.append(f"  would store ({state}): {paper.title}{arxiv}")
    print_report(report)
    for line in lines if not report.failed else []:
        click.echo(line)
    return report


@click.command()
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
        fail(f"no configured source named {', '.join(sorted(unknown))}", EXIT_CONFIG)

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
            reports = run_async(lambda: preview(app))
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
            if locations:  # the next one read and parsed while one is stored
                async for report in ingestor.ingest_locations(
                    locations, kind=kind, progress=_progress
                ):
                    reports.append(report)
                    print_report(report)
            else:
                for src in settings.sources:
                    if not src.enabled or (names and src.name not in names):
                        continue
                    with _progress(src.name) as progress:
                        reports.append(await ingestor.ingest_source(src, progress=progress))
                    print_report(reports[-1])
        return reports

    with ctx.app() as app:
        reports = run_async(lambda: main(app))
        if not reports:
            click.echo("nothing to ingest: no sources configured and no PATH_OR_URL given")
        total = app.archive.count()
    new = sum(r.new for r in reports)
    click.echo(f"archive: {total} papers ({new} new)")
    if any(r.failed for r in reports):
        sys.exit(EXIT_FAILURE)
