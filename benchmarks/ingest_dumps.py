"""Scenario: ingest files into an empty archive, as `paperboy ingest files/*` does
(`Ingestor.ingest_locations`: read, detect and parse each file in a worker thread, the next
one while one is stored through `Archive.upsert` with the full-text index kept by
triggers). `source` "dumps": text dumps of the Hugging Face papers page; "hf-json":
answers of the HF Daily Papers API (`/api/daily_papers`, JSON). `backend` "sqlite" (a new
file per run) or "postgresql" (a new schema per run on `$PAPERBOY_TEST_POSTGRES`, default postgresql://postgres@127.0.0.1:5432/test,
as the tests use). Reports papers per second and, on SQLite, the archive's size on disk."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import sqlite3
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from benchmarks.fixtures import write_dumps
from benchmarks.measure import PeakMemory, Timing, db_size, stopwatch
from benchmarks.synth import Corpus
from bot.app import build_app
from bot.settings import Settings
from bot.sources.retrieve import FileRetriever

PG_ENV = "PAPERBOY_TEST_POSTGRES"  # the server the tests use (tests/pg.py)
PG_DEFAULT = "postgresql://postgres@127.0.0.1:5432/test"


def run(
    *,
    papers: int,
    per_file: int = 1_000,
    runs: int = 3,
    seed: int = 8,
    source: str = "dumps",
    backend: str = "sqlite",
    workdir: Path | None = None,
) -> dict[str, Any]:
    corpus = Corpus(seed)
    tmp = Path(tempfile.mkdtemp(prefix="paperboy-bench-ingest-", dir=workdir))
    try:
        setup: dict[str, float] = {}
        with stopwatch(setup, source):
            if source == "dumps":
                paths = write_dumps(corpus, tmp / "dumps", papers, per_file=per_file)
            else:
                paths = write_hf_json(corpus, tmp / "hf-json", papers, per_file=per_file)
        dump_bytes = sum(p.stat().st_size for p in paths)
        timing = Timing()
        peak = PeakMemory()
        stored = parsed = rejected = 0
        size = size_checkpointed = 0
        for r in range(runs):
            db = tmp / f"run{r}" / "paperboy.db"
            with _database(backend, db) as database:
                app = build_app(Settings(database=database), clock=lambda: datetime.now(UTC))
                try:
                    with peak if r == runs - 1 else _Null():
                        start = time.perf_counter()
                        reports = asyncio.run(_ingest(app, paths))
                        timing.runs.append(time.perf_counter() - start)
                    stored = app.archive.count()
                    parsed = sum(rep.parsed for rep in reports)
                    rejected = sum(len(rep.rejected) for rep in reports)
                    errors = [rep.error for rep in reports if rep.error]
                    assert not errors, errors[:3]
                finally:
                    app.close()
            if backend == "sqlite":
                size = db_size(db)
                con = sqlite3.connect(db)
                con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
                con.close()
                size_checkpointed = db_size(db)
            shutil.rmtree(db.parent, ignore_errors=True)
        return {
            "scenario": "ingest",
            "source": source,
            "backend": backend,
            "papers": papers,
            "files": len(paths),
            "dump_bytes": dump_bytes,
            "wall": timing.as_dict(),
            "papers_per_second": stored / timing.median if timing.median else 0.0,
            "stored": stored,
            "parsed": parsed,
            "rejected": rejected,
            "archive_bytes": size,
            "archive_bytes_checkpointed": size_checkpointed,
            "peak_rss": peak.peak,
            "setup_seconds": setup,
        }
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def write_hf_json(corpus: Corpus, folder: Path, n: int, *, per_file: int = 1_000) -> list[Path]:
    """`n` papers as HF Daily Papers API answers, `per_file` a file (one day's answer each),
    with the fields the API gives: authors, dates, upvotes, AI summary and keywords, links."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for k, start in enumerate(range(0, n, per_file)):
        items = []
        for i in range(start, min(start + per_file, n)):
            p = corpus.paper(i)
            day = datetime(2025, 1, 1, tzinfo=UTC) + timedelta(days=k)
            items.append(
                {
                    "paper": {
                        "id": p.arxiv_id,
                        "title": p.title,
                        "summary": p.abstract,
                        "authors": [{"name": a, "hidden": False} for a in p.authors],
                        "publishedAt": (day - timedelta(days=2)).isoformat(),
                        "submittedOnDailyAt": day.isoformat(),
                        "upvotes": i % 50,
                        "ai_summary": p.abstract.split(". ")[0],
                        "ai_keywords": [w.lower() for w in p.title.split()[:4]],
                        "githubRepo": f"https://github.com/lab{i % 97}/repo{i}" if i % 3 else None,
                    },
                    "title": p.title,
                    "numComments": i % 7,
                }
            )
        path = folder / f"daily-{k:04d}.json"
        path.write_text(json.dumps(items))
        paths.append(path)
    return paths


@contextmanager
def _database(backend: str, db: Path) -> Iterator[str]:
    """A new, empty database: an SQLite file `db`, or a PostgreSQL schema (dropped after)."""
    if backend == "sqlite":
        yield str(db)
        return
    import psycopg
    from sqlalchemy.engine import make_url

    server = make_url(os.environ.get(PG_ENV) or PG_DEFAULT)
    libpq = server.set(drivername="postgresql").render_as_string(hide_password=False)
    name = f"pbbench_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(libpq, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{name}"')
    try:
        url = server.update_query_dict({"options": f"-csearch_path={name}"})
        yield url.render_as_string(hide_password=False)
    finally:
        with psycopg.connect(libpq, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')


async def _ingest(app: Any, paths: list[Path]) -> list[Any]:
    retriever = FileRetriever()
    ingestor = app.ingestor(retriever)
    if not hasattr(ingestor, "ingest_locations"):  # the code before issue 18
        return [await ingestor.ingest_location(str(p)) for p in paths]
    return [r async for r in ingestor.ingest_locations([str(p) for p in paths])]


class _Null:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None
