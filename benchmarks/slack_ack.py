"""Scenario: bursts of concurrent signed `/papers` requests against the Slack HTTP endpoint.

Paperboy's front-end runs in its own process (`benchmarks.slack_server`: `build_slack_app`
+ `serve_http` over an archive of synthetic papers), its Web API client and the commands'
response_urls pointed at the local fake Slack of `tests/fakes`. This process sends each
burst (`concurrency` requests at once: mostly searches, some `list`, `help`, `digest`),
each signed as Slack signs it, and times the HTTP answer (the ack, which Slack wants within
3 s) and the reply on the response_url. The first burst meets a cold lexicon cache and is
reported apart.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import os
import random
import shutil
import signal
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import aiohttp

from benchmarks.fixtures import ensure_archive
from benchmarks.measure import latency_summary, percentile
from benchmarks.synth import Corpus

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT / "tests") not in sys.path:
    sys.path.insert(0, str(ROOT / "tests"))

from fakes.slack import FakeSlack  # noqa: E402

SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
CHANNEL = "C0PAPERS01"
REPLY_WAIT = 120.0


def sign(body: str, timestamp: int, secret: str = SECRET) -> str:
    base = f"v0:{timestamp}:{body}".encode()
    return "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()


def commands(corpus: Corpus, n: int, archive: int) -> list[str]:
    """What people type after /papers: mostly searches."""
    rng = random.Random(f"{corpus.seed}:commands")
    queries = corpus.queries(n, archive=archive)
    out = []
    for q in queries:
        r = rng.random()
        out.append("list" if r < 0.05 else "help" if r < 0.1 else "digest" if r < 0.13 else q)
    return out


def run(
    *,
    papers: int = 25_000,
    concurrency: int = 50,
    bursts: int = 5,
    seed: int = 8,
    workdir: Path | None = None,
    archives: Path | None = None,
) -> dict[str, Any]:
    corpus = Corpus(seed)
    tmp = Path(tempfile.mkdtemp(prefix="paperboy-bench-slack-", dir=workdir))
    try:
        source = ensure_archive(archives or tmp, corpus, papers, now=datetime.now(UTC))
        db = tmp / "paperboy.db"  # a copy: commands such as `list` write to it
        shutil.copyfile(source, db)
        return asyncio.run(_run(corpus, db, tmp, papers, concurrency, bursts))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


async def _run(
    corpus: Corpus, db: Path, tmp: Path, papers: int, concurrency: int, bursts: int
) -> dict[str, Any]:
    texts = commands(corpus, concurrency * (bursts + 1), papers)
    async with FakeSlack(channels=[CHANNEL]) as slack:
        url_file = tmp / "url"
        env = {k: v for k, v in os.environ.items() if not k.startswith("SLACK_")}
        env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])
        server = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "benchmarks.slack_server",
            str(db),
            slack.url,
            SECRET,
            str(url_file),
            cwd=ROOT,
            env=env,
        )
        try:
            url = await _wait_for(url_file, server)
            connector = aiohttp.TCPConnector(limit=concurrency)
            async with aiohttp.ClientSession(connector=connector) as http:
                rounds = []
                for b in range(bursts + 1):
                    chunk = texts[b * concurrency : (b + 1) * concurrency]
                    rounds.append(await _burst(http, slack, url, chunk, b))
        finally:
            if server.returncode is None:
                server.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(server.wait(), timeout=30)
            except TimeoutError:
                server.kill()
    cold, warm = rounds[0], rounds[1:]
    acks = [a for r in warm for a in r["acks"]]
    replies = [a for r in warm for a in r["replies"]]
    p99s = sorted(percentile(r["acks"], 99) for r in warm)
    return {
        "scenario": "slack_ack",
        "papers": papers,
        "concurrency": concurrency,
        "bursts": bursts,
        "ack_p99_median": p99s[len(p99s) // 2] if p99s else float("nan"),
        "ack": latency_summary(acks),
        "reply": latency_summary(replies),
        "cold_burst": {
            "ack": latency_summary(cold["acks"]),
            "reply": latency_summary(cold["replies"]),
        },
        "statuses": sorted({s for r in rounds for s in r["statuses"]}),
        "per_burst_ack_p99": [percentile(r["acks"], 99) for r in warm],
    }


async def _wait_for(url_file: Path, server: asyncio.subprocess.Process) -> str:
    def read() -> str:
        return url_file.read_text() if url_file.exists() else ""

    deadline = time.monotonic() + 60
    while not (url := await asyncio.to_thread(read)):
        if server.returncode is not None:
            raise RuntimeError(f"the Slack front-end exited with {server.returncode}")
        if time.monotonic() > deadline:
            raise RuntimeError("the Slack front-end did not start within 60 s")
        await asyncio.sleep(0.05)
    return url


async def _burst(
    http: aiohttp.ClientSession, slack: FakeSlack, url: str, texts: list[str], n: int
) -> dict[str, Any]:
    """Send `texts` as concurrent /papers commands; the ack time of each, then the time
    until its reply reached the response_url."""
    sent_at: dict[str, float] = {}

    async def one(i: int, text: str) -> tuple[int, float, str]:
        response_url = slack.response_url(CHANNEL)
        form = {
            "token": "legacy-verification-token",
            "team_id": FakeSlack.TEAM_ID,
            "team_domain": "fake",
            "channel_id": CHANNEL,
            "channel_name": "ml-papers",
            "user_id": f"U{n:03d}{i:05d}",
            "user_name": "someone",
            "command": "/papers",
            "text": text,
            "api_app_id": "A0PAPERBOY",
            "is_enterprise_install": "false",
            "response_url": response_url,
            "trigger_id": f"{n}.{i}.bench",
        }
        body = urlencode(form)
        timestamp = int(time.time())
        headers = {
            "Content-Type": "application/x-www-form-urlencoded",
            "X-Slack-Request-Timestamp": str(timestamp),
            "X-Slack-Signature": sign(body, timestamp),
        }
        start = time.perf_counter()
        sent_at[response_url] = start
        async with http.post(url, data=body, headers=headers) as resp:
            await resp.read()
            return resp.status, time.perf_counter() - start, response_url

    results = await asyncio.gather(*(one(i, t) for i, t in enumerate(texts)))
    replies: dict[str, float] = {}
    deadline = time.perf_counter() + REPLY_WAIT
    while len(replies) < len(results) and time.perf_counter() < deadline:
        for _status, _ack, response_url in results:
            if response_url not in replies and slack.responses(response_url):
                replies[response_url] = time.perf_counter() - sent_at[response_url]
        await asyncio.sleep(0.005)
    return {
        "acks": [ack for _, ack, _ in results],
        "replies": list(replies.values()),
        "statuses": [status for status, _, _ in results],
        "missing_replies": len(results) - len(replies),
    }
