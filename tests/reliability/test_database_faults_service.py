"""The service's word on a failing database: `/healthz` says what is wrong and what to do
(as `paperboy status` does), and `paperboy run` on a database that fails at start exits 1
with the CLI's one-line message instead of a traceback. Real SQLite files with damaged
pages, a real `paperboy run` process, a PostgreSQL address where nothing listens.
"""

from __future__ import annotations

import logging
import random
import sqlite3
import subprocess
import sys
from pathlib import Path

import aiohttp
import pytest
from click.testing import CliRunner
from reliability.digest_procs import env, ingest, moe_dump
from reliability.test_database_faults import (  # noqa: F401 (fixtures)
    DISCORD,
    _assert_clean,
    _config,
    damaged,
    full_disk_at,
)

from bot.app import build_app
from bot.cli import cli
from bot.health import start_health
from bot.settings import load_settings
from helpers import free_port

pytestmark = pytest.mark.slow

PASSWORD = "pw-Secr3t-9x"  # in the database URLs below: never in any output
NOISY = ("apscheduler", "aiohttp.access", "discord", "slack_bolt", "slack_sdk")
START = 60.0  # seconds `paperboy run` gets to give up on a failing database


def _damage_table(database: Path, table: str) -> list[int]:
    """Overwrite every page of `table` and of its indexes with random bytes; the pages
    damaged."""
    with sqlite3.connect(database) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        page_size = conn.execute("PRAGMA page_size").fetchone()[0]
        pages = [
            n
            for (n,) in conn.execute(
                "SELECT pageno FROM dbstat WHERE name IN "
                "(SELECT name FROM sqlite_schema WHERE tbl_name = ?)",
                (table,),
            )
        ]
    conn.close()
    rng = random.Random(11)
    with database.open("r+b") as f:
        for page in pages:
            f.seek((page - 1) * page_size)
            f.write(rng.randbytes(page_size))
    return pages


def _run(config: Path) -> tuple[int, str]:
    """`paperboy run` until it exits (it must, on its own, within START seconds)."""
    try:
        done = subprocess.run(
            [sys.executable, "-m", "bot", "--config", str(config), "run"],
            capture_output=True,
            text=True,
            env=env(),
            cwd=config.parent,
            timeout=START,
        )
    except subprocess.TimeoutExpired as e:  # the child is killed by subprocess.run
        output = (e.stdout or b"").decode(errors="replace") + (e.stderr or b"").decode(
            errors="replace"
        )
        pytest.fail(f"paperboy run kept running on a failing database:\n{output[-3000:]}")
    return done.returncode, done.stdout + done.stderr


async def test_healthz_says_what_is_wrong_with_the_database_and_what_to_do(
    tmp_path: Path,
) -> None:
    """Before: 503 with `"error": "database: StoreError"` (an exception class name)."""
    database = tmp_path / "p.db"
    config = _config(tmp_path, database, DISCORD)
    assert ingest(config, moe_dump(tmp_path / "moe.txt", 50))
    assert _damage_table(database, "source_state")  # read by every health check
    app = build_app(load_settings(str(config)))
    port = free_port()
    runner = await start_health(app, lambda: True, "127.0.0.1", port)
    try:
        async with (
            aiohttp.ClientSession() as http,
            http.get(f"http://127.0.0.1:{port}/healthz") as resp,
        ):
            code, body = resp.status, await resp.json()
    finally:
        await runner.cleanup()
        app.close()
    assert code == 503, body
    assert body["ok"] is False and body["failing"] == ["database"], body
    line = body["database"]
    assert "database file is damaged" in line and str(database) in line, line
    assert "backup" in line and "\n" not in line, line
    assert body["error"] == f"database: {line}"
    _assert_clean(str(body))
    print(f"\n[healthz, damaged file] 503: {line}")


def test_run_on_a_damaged_database_file_exits_1_with_one_line(
    damaged: tuple[Path, Path],  # noqa: F811
) -> None:
    """Before: the service started; its catch-up logged an asyncio "Task exception was
    never retrieved" traceback with SQL and paper text, and it kept running."""
    config, database = damaged
    code, output = _run(config)
    assert code == 1, output[-3000:]
    (line,) = output.splitlines()
    assert line.startswith("paperboy: database file is damaged"), line
    assert str(database) in line and "backup" in line, line
    _assert_clean(output)


def test_run_with_an_unreachable_postgresql_exits_1_with_one_line(tmp_path: Path) -> None:
    """Before: exit 1, but the driver's two-line message (`…failed: Connection refused` /
    `\\tIs the server running…`) after "database migration failed"."""
    port = free_port()  # nothing listens there
    url = f"postgresql://paperboy:{PASSWORD}@127.0.0.1:{port}/paperboy?sslpassword={PASSWORD}"
    config = tmp_path / "paperboy.yaml"
    config.write_text(f'database: "{url}"\n')
    code, output = _run(config)
    assert code == 1, output[-3000:]
    (line,) = output.splitlines()
    assert line.startswith("paperboy: "), line
    assert "cannot connect" in line and f"127.0.0.1:{port}/paperboy" in line, line
    assert PASSWORD not in output
    _assert_clean(output)


def test_run_on_a_full_disk_exits_1_with_one_line(
    tmp_path: Path,
    full_disk_at: list[int],  # noqa: F811
) -> None:
    """A first start on a full disk: the tables cannot be created. (In-process: the full
    disk is SQLite's max_page_count on Paperboy's own connections.)"""
    database = tmp_path / "p.db"
    config = _config(tmp_path, database, DISCORD)
    full_disk_at.append(2)
    # `run` configures logging: put the handlers and levels back for the next tests
    loggers = [logging.getLogger(n) for n in ("", *NOISY)]
    levels = [lg.level for lg in loggers]
    handlers = list(logging.getLogger().handlers)
    try:
        result = CliRunner().invoke(cli, ["--config", str(config), "run"])
    finally:
        logging.getLogger().handlers[:] = handlers
        for lg, level in zip(loggers, levels, strict=True):
            lg.setLevel(level)
    output = result.output
    assert result.exit_code == 1, (output, result.exception)
    (line,) = output.splitlines()
    assert "disk full" in line and str(tmp_path) in line, line
    _assert_clean(output)
