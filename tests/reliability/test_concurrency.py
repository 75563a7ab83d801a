"""Concurrency: several Paperboy processes on one database at once (SQLite, and the digest
races on PostgreSQL too).

- Two `paperboy digest` started together against the fake Slack and Discord (two channels
  each, 60 then 30 more papers) post every paper exactly once per channel, and both exit 0.
  Six at once, three rounds, on SQLite and on PostgreSQL: the same, with no channel failed
  (on PostgreSQL these runs deadlocked between the ledger's reservation and another run's
  lease renewal, failing about one run in three).
  The ledger decides: each paper is reserved by one run; the other leaves it ("N left to
  another run", exit 0, its window not consumed). Which process posts which channel
  depends on timing; the result does not.
- A database held locked by another writer is waited for (SQLite busy timeout, 30 s), not
  a crash with `database is locked`.
- Processes that start together on a database file that does not exist yet all migrate it
  without error (the schema is created once, under SQLite's write lock).
"""

from __future__ import annotations

import asyncio
import os
import random
import re
import sqlite3
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest
from reliability.digest_procs import (
    discord_keys,
    duplicates,
    ingest,
    moe_dump,
    start,
    write_config,
)
from sqlalchemy import text

from fakes.discord import FakeDiscord
from fakes.faults import FaultPlan, delay
from fakes.slack import FakeSlack
from helpers import exited, wait_until

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(sys.platform == "win32", reason="POSIX processes"),
]

SLACK = ["C0CONCUR01", "C0CONCUR02"]
DISCORD = ["1200000000000000201", "1200000000000000202"]
POST_DELAY = 0.02  # each post takes a little while, so that the two runs overlap


def _slack_keys(slack: FakeSlack, channel: str) -> list[str]:
    keys: list[str] = []
    for m in slack.messages(channel):
        keys += ((m.get("metadata") or {}).get("event_payload") or {}).get("papers", [])
    return keys


def _left_to_other(output: str) -> int:
    return sum(int(n) for n in re.findall(r"(\d+) left to another run", output))


def _ledger_rows(database: str) -> Counter[tuple[str, str]]:
    """(channel, status) -> rows of the posted ledger, on either backend."""
    from bot.store.db import make_engine

    engine = make_engine(database, read_only=True)
    try:
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT channel, status, count(*) FROM posted GROUP BY 1, 2"))
            return Counter({(c, s): n for c, s, n in rows})
    finally:
        engine.dispose()


def ranked_dump(path: Path, n: int) -> Path:
    """Like moe_dump, but the papers rank in an order unlike their keys' (about half name
    Mixture-of-Experts in the title, abstracts mention it 0-3 times more): a run's first
    message then holds keys from all over the key range, as with real papers. (With
    moe_dump's equal papers, rank order is key order, and renewals and reservations lock
    rows in the same order by chance.)"""
    rng = random.Random(5)
    records = []
    for i in range(n):
        moe = "Sparse Mixture-of-Experts Layers" if rng.random() < 0.5 else "Sparse Expert Layers"
        more = " ".join(["Mixture-of-Experts models route tokens."] * rng.randint(0, 3))
        records.append(
            f"Routing Study {i}: {moe} at Scale {i}\n\n"
            f"We propose routing variant {i} for Mixture-of-Experts (MoE) models. {more} "
            f"Experts are selected per token by a learned gate, and variant {i} balances "
            "expert load."
        )
    path.write_text("new\n\nMar 12\n\n" + "\n\n".join(records) + "\n")
    return path


def _backend(database: str) -> str:
    return "postgresql" if "://" in database else "sqlite"


async def _race(
    tmp_path: Path,
    database: str,
    processes: int,
    label: str,
    dump: Callable[[Path, int], Path] = moe_dump,
) -> None:
    """`processes` digests at once, twice (60 papers, then 30 more), then one more digest
    that must find nothing new: every paper once per channel, every process exits 0."""
    started = time.monotonic()
    slow = FaultPlan.storm(10**6, delay(POST_DELAY), only=["chat.postMessage"])
    slow_dc = FaultPlan.storm(10**6, delay(POST_DELAY), only=[FakeDiscord.SEND_MESSAGE])
    async with (
        FakeSlack(channels=SLACK, faults=slow) as slack,
        FakeDiscord(channels=DISCORD, faults=slow_dc) as discord,
    ):
        config = write_config(
            tmp_path / "paperboy.yaml",
            database=database,  # type: ignore[arg-type]  # a path or a URL: written as text
            slack=slack,
            discord=discord,
            slack_channels=SLACK,
            discord_channels=DISCORD,
        )
        titles = ingest(config, dump(tmp_path / "day1.txt", 60))
        outputs: list[str] = []
        for round_, more in enumerate([0, 30]):
            if more:  # new papers arrive: the runs race for them too
                extra = dump(tmp_path / "day2.txt", 60 + more)
                titles = ingest(config, extra)
            procs = [
                await start(config, "digest", log=tmp_path / f"r{round_}-p{i}.log")
                for i in range(processes)
            ]
            codes = await asyncio.gather(*(p.wait(120.0) for p in procs))
            outputs += [p.output for p in procs]
            for proc, code in zip(procs, codes, strict=True):
                assert code == 0, proc.output[-3000:]
                assert "database is locked" not in proc.output
                assert "Traceback" not in proc.output
                assert "failed" not in proc.output, proc.output[-3000:]
        again = await start(config, "digest", log=tmp_path / "again.log")
        assert await again.wait(120.0) == 0, again.output[-3000:]

    assert len(titles) == 90
    per_channel = {
        **{f"slack:{c}": _slack_keys(slack, c) for c in SLACK},
        **{f"discord:{c}": discord_keys(discord, c, titles) for c in DISCORD},
    }
    for ref, keys in per_channel.items():
        assert sorted(keys) == sorted(titles), ref  # every paper, exactly once
    assert _ledger_rows(database) == {(ref, "posted"): 90 for ref in per_channel}
    summary = [
        line for line in again.output.splitlines() if line.startswith(("slack:", "discord:"))
    ]
    assert len(summary) == 4 and all(line.endswith(": nothing new") for line in summary), summary
    left = _left_to_other("".join(outputs))
    messages = len(slack.messages()) + len(discord.messages())
    dups = sum(duplicates(k) for k in per_channel.values())
    print(
        f"\n[concurrency {label}] 2 rounds x {processes} processes, 4 channels, 90 papers: "
        f"messages={messages}, duplicate_papers={dups}, "
        f"papers_left_to_the_other_run={left}, seconds={time.monotonic() - started:.1f}"
    )


async def test_two_digests_at_once_post_every_paper_once_per_channel(
    tmp_path: Path, database: str
) -> None:
    await _race(tmp_path, database, 2, _backend(database))


@pytest.mark.parametrize("attempt", range(3))
async def test_six_digests_at_once_all_exit_0_and_post_every_paper_once(
    tmp_path: Path, database: str, attempt: int
) -> None:
    """The issue's setting: 5-6 `paperboy digest` on one database. Three attempts (each
    two rounds of six processes) per backend."""
    await _race(tmp_path, database, 6, f"{_backend(database)} #{attempt}", ranked_dump)


async def test_a_locked_database_is_waited_for_not_a_crash(tmp_path: Path) -> None:
    hold = 2.0
    async with FakeSlack(channels=SLACK[:1]) as slack, FakeDiscord(channels=DISCORD[:1]) as dc:
        database = tmp_path / "paperboy.db"
        config = write_config(
            tmp_path / "paperboy.yaml",
            database=database,
            slack=slack,
            discord=dc,
            slack_channels=SLACK[:1],
            discord_channels=DISCORD[:1],
        )
        titles = ingest(config, moe_dump(tmp_path / "moe.txt", 20))
        blocker = sqlite3.connect(database, isolation_level=None)
        try:
            blocker.execute("BEGIN IMMEDIATE")  # another writer holds the lock
            proc = await start(config, "digest", log=tmp_path / "digest.log")
            fds = Path(f"/proc/{proc.process.pid}/fd")
            if PROC_FD:  # Linux: wait until it has reached the database
                await wait_until(
                    lambda: has_open(fds, database),
                    60,
                    "the digest to open the database",
                    give_up=exited(proc.process, "the digest"),
                )
            # The other writer keeps the lock `hold` seconds (the scenario, not a guess):
            # the digest must not exit meanwhile, failed or otherwise.
            with pytest.raises(TimeoutError):
                await asyncio.wait_for(proc.process.wait(), hold)
            assert slack.messages() == [] and dc.messages() == []
            blocker.execute("COMMIT")
        finally:
            blocker.close()
        assert await proc.wait() == 0, proc.output[-3000:]
    assert "database is locked" not in proc.output
    assert sorted(_slack_keys(slack, SLACK[0])) == sorted(titles)
    assert sorted(discord_keys(dc, DISCORD[0], titles)) == sorted(titles)


PROC_FD = Path("/proc/self/fd").is_dir()  # Linux: a process's open files can be listed


def has_open(fds: Path, path: Path) -> bool:
    """Whether the process whose /proc fd folder is `fds` has `path` open."""
    try:
        links = [os.readlink(fd) for fd in fds.iterdir()]
    except OSError:  # it exited, or a descriptor closed while listed
        return False
    return str(path.resolve()) in links


RACE = """
import os, sys, time
from pathlib import Path
from bot.store.db import make_engine
from bot.store.migrations import migrate
path, gate = sys.argv[1], Path(sys.argv[2])
(gate / f"ready-{os.getpid()}").touch()
deadline = time.monotonic() + 60
while not (gate / "go").exists():  # every process waits for the test's signal
    assert time.monotonic() < deadline, "no go"
    time.sleep(0.0005)
print(migrate(make_engine(path)))
"""


async def test_processes_migrating_a_new_database_at_once_all_succeed(tmp_path: Path) -> None:
    """Four processes call migrate() at once (released together once all have started) on
    a file that does not exist: exactly one creates the schema, the others find it made;
    none fails. Four rounds."""
    for round_ in range(4):
        path = tmp_path / f"r{round_}" / "new.db"
        gate = tmp_path / f"gate{round_}"
        gate.mkdir()
        procs = [
            await asyncio.create_subprocess_exec(
                sys.executable,
                "-c",
                RACE,
                str(path),
                str(gate),
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.STDOUT,
            )
            for _ in range(4)
        ]
        # every interpreter has started: let them all go at once
        await wait_until(lambda g=gate: len(list(g.glob("ready-*"))) == 4, 60, "4 ready")
        (gate / "go").touch()
        results = [await p.communicate() for p in procs]
        outs = [out.decode().strip() for out, _ in results]
        assert all(p.returncode == 0 for p in procs), outs
        from bot.store.migrations import LATEST

        assert sorted(outs) == ["0", *[str(LATEST)] * 3], outs  # created once
        with sqlite3.connect(path) as conn:
            versions = conn.execute("SELECT version FROM schema_version").fetchall()
        conn.close()
        assert versions == [(LATEST,)]


async def test_two_commands_on_a_database_that_does_not_exist_yet(tmp_path: Path) -> None:
    """Two `paperboy ingest` started together on a missing database (and folder): both
    create/migrate it, both archive the same papers, both exit 0, no paper twice."""
    async with FakeSlack() as slack, FakeDiscord() as dc:
        for round_ in range(3):
            database = tmp_path / f"r{round_}" / "data" / "paperboy.db"
            config = write_config(
                tmp_path / f"r{round_}.yaml", database=database, slack=slack, discord=dc
            )
            dump = moe_dump(tmp_path / "moe.txt", 25)
            procs = [
                await start(config, "ingest", str(dump), log=tmp_path / f"r{round_}-{i}.log")
                for i in range(2)
            ]
            codes = await asyncio.gather(*(p.wait() for p in procs))
            for proc, code in zip(procs, codes, strict=True):
                assert code == 0, proc.output[-3000:]
            with sqlite3.connect(database) as conn:
                (papers,) = conn.execute("SELECT count(*) FROM papers").fetchone()
            conn.close()
            assert papers == 25
