"""Setting up what the scenarios measure against: databases with the real schema, archives
of synthetic papers, a posted ledger, dump files. None of this is timed."""

from __future__ import annotations

import multiprocessing
import os
import shutil
import sqlite3
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime, timedelta
from itertools import islice
from multiprocessing.pool import AsyncResult
from pathlib import Path

from sqlalchemy import Engine

from benchmarks.synth import Corpus
from bot.models import Paper
from bot.store.archive import Archive
from bot.store.db import make_engine
from bot.store.migrations import migrate

CHUNK = 5_000


def database(path: Path) -> Engine:
    """A new SQLite database at `path` with Paperboy's schema (WAL, as in production)."""
    engine = make_engine(str(path))
    migrate(engine)
    return engine


def _papers(args: tuple[int, int, int]) -> list[Paper]:
    seed, start, n = args
    return list(Corpus(seed).papers(n, start=start))


def generate(corpus: Corpus, n: int, *, start: int = 0, workers: int = 0) -> Iterator[Paper]:
    """Papers `start` … `start + n - 1` of `corpus`, in order; made by `workers` other
    processes (at most two chunks ahead of the consumer), or in this one (0)."""
    chunks = [(corpus.seed, s, min(CHUNK, start + n - s)) for s in range(start, start + n, CHUNK)]
    if workers < 1 or len(chunks) <= 1:
        for args in chunks:
            yield from _papers(args)
        return
    with multiprocessing.get_context("fork").Pool(workers) as pool:
        pending: deque[AsyncResult[list[Paper]]] = deque()
        for args in chunks:
            pending.append(pool.apply_async(_papers, (args,)))
            if len(pending) > workers + 1:
                yield from pending.popleft().get()
        while pending:
            yield from pending.popleft().get()


def fill_archive(engine: Engine, papers: Iterable[Paper], *, now: datetime) -> int:
    """Store `papers` through Archive.upsert (the path every ingest takes); returns how many."""
    archive = Archive(engine)
    total = 0
    it = iter(papers)
    while batch := list(islice(it, CHUNK)):
        total += archive.upsert(batch, now=now).new
    return total


def _sqlite_path(engine: Engine) -> str:
    path = engine.url.database
    assert path, "an SQLite file database"
    return path


def fill_ledger(
    engine: Engine,
    rows: Sequence[tuple[str, str]],
    *,
    posted_at: datetime,
) -> None:
    """Confirmed posts (channel, paper key), written straight into the real `posted` table
    (its unique constraint and index included) in large transactions."""
    stamp = posted_at.replace(tzinfo=None).isoformat(sep=" ")
    con = sqlite3.connect(_sqlite_path(engine))
    try:
        for start in range(0, len(rows), 100_000):
            with con:
                con.executemany(
                    "INSERT INTO posted (channel, paper_key, status, posted_at, message_ref)"
                    " VALUES (?, ?, 'posted', ?, ?)",
                    (
                        (channel, key, stamp, f"ts-{n}")
                        for n, (channel, key) in enumerate(rows[start : start + 100_000], start)
                    ),
                )
    finally:
        con.close()


def write_dumps(corpus: Corpus, folder: Path, n: int, *, per_file: int = 1_000) -> list[Path]:
    """`n` papers as text dumps of the Hugging Face papers page, `per_file` a file,
    alternating the two layouts the page produces."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for k, start in enumerate(range(0, n, per_file)):
        path = folder / f"hf-papers-{k:04d}.txt"
        layout = "a" if k % 2 == 0 else "b"
        path.write_text(corpus.dump(start, min(per_file, n - start), layout=layout))
        paths.append(path)
    return paths


def ensure_archive(folder: Path, corpus: Corpus, papers: int, *, now: datetime) -> Path:
    """The archive of papers 0 … `papers` - 1 in `folder` (made when missing, from a copy of
    the largest smaller one there when there is one)."""
    path = folder / f"archive-{corpus.seed}-{papers}.db"
    if path.exists():
        return path
    folder.mkdir(parents=True, exist_ok=True)
    smaller = sorted(
        (n, p)
        for p in folder.glob(f"archive-{corpus.seed}-*.db")
        if (n := int(p.stem.rsplit("-", 1)[1])) < papers
    )
    start = 0
    if smaller:
        start, source = smaller[-1]
        con = sqlite3.connect(source)
        con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        con.close()
    # one partial file per process: two runs building the same archive at once (two
    # benchmarks side by side) each build their own, and the last rename wins
    partial = path.with_suffix(f".{os.getpid()}.tmp")
    if smaller:
        shutil.copyfile(source, partial)
    engine = database(partial)
    try:
        fill_archive(
            engine,
            generate(corpus, papers - start, start=start, workers=1),
            now=now - timedelta(days=1),
        )
    finally:
        engine.dispose()
    con = sqlite3.connect(partial)
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    con.close()
    for extra in partial.parent.glob(partial.name + "-*"):
        extra.unlink()
    partial.rename(path)
    return path
