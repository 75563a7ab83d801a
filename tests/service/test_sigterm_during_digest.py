"""SIGTERM to `paperboy run` in the middle of a 20,000-paper digest (issue 14, item 4): the
process exits 0 within 10 s (a container's grace before SIGKILL), with every paper it
recorded as posted really posted, and the interrupted run left for the next start."""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml
from moe_papers import TOPIC, moe_papers

from bot.app import build_app
from bot.settings import ChannelSettings, Settings
from fakes.slack import FakeSlack
from helpers import wait_until

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(sys.platform == "win32", reason="needs POSIX signals"),
]

PAPERS = 20_000
CHANNEL = "C0SIGTERM1"
STOP_WITHIN = 10.0
WAIT = 120.0  # for the digest to be under way (a loaded machine matches slowly)


def _posting(db: Path) -> tuple[int, int]:
    """(running digest runs, confirmed papers) in the database."""
    with sqlite3.connect(db) as conn:
        running = conn.execute("SELECT count(*) FROM digest_runs WHERE status = 'running'")
        posted = conn.execute("SELECT count(*) FROM posted WHERE status = 'posted'")
        return int(running.fetchone()[0]), int(posted.fetchone()[0])


async def test_sigterm_during_a_20000_paper_digest_exits_within_10_s(tmp_path: Path) -> None:
    db = tmp_path / "p.db"
    channel = {
        "platform": "slack",
        "id": CHANNEL,
        "topics": [TOPIC],
        "max_posts": 0,
        "lookback": "2d",
        "schedule": "* * * * *",  # due every minute: caught up at once at start
    }
    async with FakeSlack(channels=[CHANNEL]) as slack:
        slack.enforce_rate(per_second=2.0, burst=2)  # a long digest: ~1,000 messages
        app = build_app(Settings(database=str(db), channels=[ChannelSettings(**channel)]))
        try:
            app.archive.upsert(moe_papers(PAPERS), now=datetime.now(UTC) - timedelta(hours=1))
        finally:
            app.close()
        config = {
            "database": str(db),
            "log_level": "INFO",
            "channels": [channel],
            "slack": {"bot_token": "${TEST_SLACK_TOKEN}", "api_url": slack.url},
        }
        path = tmp_path / "paperboy.yaml"
        path.write_text(yaml.safe_dump(config))
        env = {**os.environ, "TEST_SLACK_TOKEN": slack.token}
        for name in [n for n in env if n.startswith("SLACK_")]:
            env.pop(name)
        log_path = tmp_path / "run.log"
        with log_path.open("wb") as log:
            proc = await asyncio.create_subprocess_exec(
                sys.executable,
                *("-m", "bot", "--config", str(path), "run"),
                stdout=log,
                stderr=log,
                env=env,
                cwd=tmp_path,
            )
            try:

                def exited() -> str | None:
                    if proc.returncode is None:
                        return None
                    return f"paperboy run exited: {log_path.read_text()[-3000:]}"

                await wait_until(
                    lambda: slack.messages(CHANNEL) and _posting(db)[0],
                    WAIT,
                    "the digest to start posting",
                    give_up=exited,
                    interval=0.1,
                )
                signalled = time.monotonic()
                proc.send_signal(signal.SIGTERM)
                code = await asyncio.wait_for(proc.wait(), 120)
                stopped = time.monotonic() - signalled
            finally:
                if proc.returncode is None:
                    proc.kill()
                    await proc.wait()
        sent = [
            k
            for m in slack.messages(CHANNEL)
            for k in ((m.get("metadata") or {}).get("event_payload") or {}).get("papers", [])
        ]
    logged = log_path.read_text()
    print(f"measured: SIGTERM to exit {stopped:.2f} s, {len(sent)} papers posted before it")
    assert code == 0, logged[-3000:]
    assert stopped < STOP_WITHIN, f"SIGTERM took {stopped:.1f} s"
    assert "service stopped" in logged
    running, confirmed = _posting(db)
    assert running == 0  # the interrupted run is marked, so the next start retakes it
    assert len(sent) == len(set(sent)) and confirmed <= len(sent) < PAPERS
    with sqlite3.connect(db) as conn:
        (status, error) = conn.execute(
            "SELECT status, error FROM digest_runs ORDER BY id DESC LIMIT 1"
        ).fetchone()
    assert status in ("failed", "partial") and "interrupted" in error
