"""`paperboy migrate-db`: copy an SQLite database into an empty PostgreSQL database."""

from __future__ import annotations

from pathlib import Path

import click

from bot.cli.common import EXIT_CONFIG, EXIT_FAILURE, fail
from bot.errors import PaperboyError


@click.command("migrate-db")
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
        fail("SQLITE_PATH must be the path of an SQLite database file", EXIT_CONFIG)
    src_url = make_url(database_url(source))
    if src_url.get_backend_name() != "sqlite":
        fail("SQLITE_PATH must be the path of an SQLite database file", EXIT_CONFIG)
    if not src_url.database or not Path(src_url.database).is_file():
        fail(f"{source}: no such SQLite database file", EXIT_CONFIG)
    problem = database_problem(target)
    if problem is not None:
        fail(f"POSTGRES_URL: {problem}", EXIT_CONFIG)
    dst_url = make_url(database_url(target))
    shown = dst_url.render_as_string(hide_password=True)
    if dst_url.get_backend_name() != "postgresql":
        fail(f"POSTGRES_URL must be a postgresql:// URL, not {shown}", EXIT_CONFIG)

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
        fail(str(e).replace(target, shown), EXIT_FAILURE)
    if report.upgraded_from is not None:
        click.echo(f"(upgraded {source} from schema version {report.upgraded_from} first)")
    click.echo(f"copied {source} into {shown} in {time.perf_counter() - started:.1f} s:")
    for table, rows in report.rows.items():
        click.echo(f"  {table}: {rows}")
    click.echo(f"next: set `database: {shown}` (or DATABASE_URL) and start Paperboy again")
