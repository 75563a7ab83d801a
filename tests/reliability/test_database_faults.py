"""Honest counts and a clear word when the database fails under Paperboy: a disk that fills
during an ingest, a write refused in the middle of a digest, a database file with damaged
pages. Real SQLite files and real `paperboy` processes (or the real CLI in-process where
the fault must be set on Paperboy's own connections):

- the disk fills: SQLite's `max_page_count` on Paperboy's connections, so SQLite itself
  answers SQLITE_FULL ("database or disk is full") at that size, as on a full disk;
- a write refused mid-digest: a trigger in the database file that aborts the ledger's
  confirmation once 40 papers are recorded as posted (what a full disk or a failing
  server does to the next write);
- damaged pages: the middle pages of the papers table overwritten with random bytes.

Every message names the cause and what to do, shows no traceback, no SQL and no paper
text; counts say what was stored or posted; `paperboy status` fails on a damaged file.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from reliability.digest_procs import discord_keys, env, ingest, moe_dump, start, write_config

import bot.store.db as db_module
from bot.cli import cli
from bot.store.archive import BATCH
from fakes.discord import FakeDiscord
from fakes.slack import FakeSlack

pytestmark = pytest.mark.slow

PAPERS = 2000
# A disk that fills mid-ingest stops it between the archive's transactions (BATCH papers
# each): the ingest must span several of them for some papers to have been stored.
DISK_FULL_PAPERS = 2 * BATCH
ABSTRACT_TEXT = "balances expert load"  # in every paper of moe_dump: never in a message
DISCORD = ["1200000000000000301"]


def _config(tmp_path: Path, database: Path, channels: list[str] = ()) -> Path:  # type: ignore[assignment]
    path = tmp_path / "paperboy.yaml"
    chans = [
        {"platform": "discord", "id": c, "topics": ["mixture of experts"], "max_posts": 0}
        for c in channels
    ]
    path.write_text(json.dumps({"database": str(database), "channels": chans}))
    return path


def _paperboy(config: Path, *args: str) -> tuple[int, str]:
    done = subprocess.run(
        [sys.executable, "-m", "bot", "--config", str(config), *args],
        capture_output=True,
        text=True,
        env=env(),
        cwd=config.parent,
        timeout=120,
    )
    return done.returncode, done.stdout + done.stderr


def _stored(database: Path) -> int:
    with sqlite3.connect(database) as conn:
        (n,) = conn.execute("SELECT count(*) FROM papers").fetchone()
    conn.close()
    return int(n)


def _page_count(database: Path) -> int:
    with sqlite3.connect(database) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        (n,) = conn.execute("PRAGMA page_count").fetchone()
    conn.close()
    return int(n)


def _assert_clean(output: str) -> None:
    assert "Traceback" not in output, output[-3000:]
    assert ABSTRACT_TEXT not in output, output[-3000:]
    assert "SELECT" not in output and "INSERT" not in output, output[-3000:]
    assert "[parameters:" not in output, output[-3000:]


@pytest.fixture
def full_disk_at(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[int]]:
    """Set `limit[0]` to a page count: Paperboy's SQLite connections opened afterwards
    cannot grow the file beyond it (SQLITE_FULL)."""
    limit: list[int] = []
    pragmas = db_module._sqlite_pragmas

    def with_limit(dbapi_conn: Any, record: Any) -> None:
        pragmas(dbapi_conn, record)
        if limit:
            dbapi_conn.execute(f"PRAGMA max_page_count = {int(limit[0])}")

    monkeypatch.setattr(db_module, "_sqlite_pragmas", with_limit)
    yield limit


def test_a_disk_full_ingest_counts_what_was_stored_and_says_what_to_do(
    tmp_path: Path, full_disk_at: list[int]
) -> None:
    """Before: "archive: 1000 papers (0 new)" and "archive write failed: OperationalError"."""
    dump = moe_dump(tmp_path / "moe.txt", DISK_FULL_PAPERS)
    # how large the file grows with every paper, measured on a copy
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    measure = _config(scratch, scratch / "p.db")
    assert CliRunner().invoke(cli, ["--config", str(measure), "ingest", str(dump)]).exit_code == 0
    grown = _page_count(scratch / "p.db")
    database = tmp_path / "p.db"
    config = _config(tmp_path, database)
    assert CliRunner().invoke(cli, ["--config", str(config), "status"]).exit_code == 0
    empty = _page_count(database)
    full_disk_at.append(empty + (grown - empty) // 2)  # room for about half the papers

    result = CliRunner().invoke(cli, ["--config", str(config), "ingest", str(dump)])
    output = result.output
    assert result.exit_code == 1, (output, result.exception)
    stored = _stored(database)
    assert 0 < stored < DISK_FULL_PAPERS
    assert f"archive: {stored} papers ({stored} new)" in output, output[-2000:]
    assert "disk full" in output and "free space" in output, output[-2000:]
    assert str(tmp_path) in output  # where: the disk holding the database
    _assert_clean(output)
    print(f"\n[disk full] {stored} of {DISK_FULL_PAPERS} papers stored and reported new")


async def test_a_write_refused_mid_digest_reports_what_was_posted(tmp_path: Path) -> None:
    """Before: "discord:…: failed: ledger confirmation failed: IntegrityError (0 posted)"
    after 50 papers had reached Discord, and `status` said 0 posted."""
    async with FakeSlack() as slack, FakeDiscord(channels=DISCORD) as discord:
        database = tmp_path / "p.db"
        config = write_config(
            tmp_path / "paperboy.yaml",
            database=database,
            slack=slack,
            discord=discord,
            discord_channels=DISCORD,
        )
        titles = ingest(config, moe_dump(tmp_path / "moe.txt", 60))
        with sqlite3.connect(database) as conn:
            conn.execute(
                "CREATE TRIGGER refuse_after_40 BEFORE UPDATE OF status ON posted "
                "WHEN NEW.status = 'posted' "
                "AND (SELECT count(*) FROM posted WHERE status = 'posted') >= 40 "
                "BEGIN SELECT RAISE(ABORT, 'refused: the disk is full'); END"
            )
        conn.close()
        proc = await start(config, "digest", log=tmp_path / "digest.log")
        code = await proc.wait(60.0)
        output = proc.output
    delivered = len(discord_keys(discord, DISCORD[0], titles))
    assert delivered >= 40
    assert code == 1, output[-3000:]
    line = next(ln for ln in output.splitlines() if ln.startswith(f"discord:{DISCORD[0]}"))
    assert line.endswith(f"({delivered} posted)"), line
    assert "partial" in line, line
    _assert_clean(output)
    status_code, status_out = _paperboy(config, "status", "--json")
    assert status_code == 1, status_out
    (channel,) = json.loads(status_out)["channels"]
    assert channel["posted"] == delivered and channel["status"] == "partial", channel
    print(f"\n[write refused] {delivered} papers on Discord, reported posted {delivered}")


def _damage(database: Path, *, seed: int = 7) -> list[int]:
    """Overwrite the middle third of the papers table's leaf pages with random bytes (its
    indexes stay whole, so a count still works); the pages damaged."""
    with sqlite3.connect(database) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        page_size = conn.execute("PRAGMA page_size").fetchone()[0]
        leaves = [
            n
            for (n,) in conn.execute(
                "SELECT pageno FROM dbstat WHERE name = 'papers' AND pagetype = 'leaf' "
                "ORDER BY pageno"
            )
        ]
    conn.close()
    middle = leaves[len(leaves) // 3 : 2 * len(leaves) // 3]
    rng = random.Random(seed)
    with database.open("r+b") as f:
        for page in middle:
            f.seek((page - 1) * page_size)
            f.write(rng.randbytes(page_size))
    return middle


@pytest.fixture
def damaged(tmp_path: Path) -> tuple[Path, Path]:
    """A config and its database of 2,000 papers with damaged middle pages."""
    database = tmp_path / "p.db"
    config = _config(tmp_path, database, DISCORD)
    dump = moe_dump(tmp_path / "moe.txt", PAPERS)
    assert CliRunner().invoke(cli, ["--config", str(config), "ingest", str(dump)]).exit_code == 0
    shutil.copy(database, tmp_path / "before-damage.db")
    pages = _damage(database)
    assert pages
    print(f"\n[damaged] {len(pages)} leaf pages of the papers table overwritten")
    return config, database


def test_status_fails_on_a_damaged_database_file(damaged: tuple[Path, Path]) -> None:
    """Before: exit 0 and "failing: nothing" (the count reads an index, which is whole)."""
    config, database = damaged
    code, output = _paperboy(config, "status")
    assert code == 1, output
    assert "damaged" in output and str(database) in output and "backup" in output, output
    _assert_clean(output)
    code, output = _paperboy(config, "status", "--json")
    assert code == 1
    report = json.loads(output)
    assert "database" in report["failing"] and "damaged" in report["database"], report


@pytest.mark.parametrize(
    "command",
    [["digest"], ["digest", "--dry-run"], ["match", "moe"], ["ingest", "moe.txt"]],
    ids=lambda c: " ".join(c),
)
def test_commands_on_a_damaged_database_say_so_without_a_traceback(
    damaged: tuple[Path, Path], command: list[str]
) -> None:
    """Before: a SQLAlchemy DatabaseError traceback (with SQL and its parameters)."""
    config, database = damaged
    code, output = _paperboy(config, *command)
    assert code == 1, output[-3000:]
    assert "database file is damaged" in output, output[-3000:]
    assert str(database) in output and "backup" in output, output[-3000:]
    _assert_clean(output)
    assert os.path.getsize(database) > 0


def test_store_errors_never_carry_sql_or_its_parameters(tmp_path: Path) -> None:
    """Sites that embed SQLAlchemy's text of an error (copy, migrations, search) showed the
    statement and its parameters: paper text. Only the driver's first line remains."""
    from sqlalchemy import create_engine, text

    from bot.errors import StoreError

    engine = create_engine(f"sqlite:///{tmp_path / 'x.db'}")
    try:
        with engine.connect() as conn:
            conn.execute(text("INSERT INTO nope VALUES (:a)"), {"a": ABSTRACT_TEXT})
    except Exception as e:
        message = str(StoreError(f"copy failed: {e.__class__.__name__}: {e}"))
    finally:
        engine.dispose()
    driver = "(sqlite3.OperationalError) no such table: nope"
    assert message == f"copy failed: OperationalError: {driver}"
    _assert_clean(message)


@pytest.mark.postgres
def test_migrate_db_from_a_damaged_file_says_so(damaged: tuple[Path, Path]) -> None:
    import pg

    _, database = damaged
    with pg.temporary_database() as url:
        done = subprocess.run(
            [sys.executable, "-m", "bot", "migrate-db", str(database), url],
            capture_output=True,
            text=True,
            env=env(),
            timeout=120,
        )
    output = done.stdout + done.stderr
    assert done.returncode == 1, output
    assert "database file is damaged" in output and str(database) in output, output
    _assert_clean(output)
    assert "Background on this error" not in output
