"""Scenario: ingest text dumps of the Hugging Face papers page into an empty archive, as
`paperboy ingest dumps/*.txt` does (`Ingestor.ingest_location` per file: read, detect and
parse in a worker thread, store through `Archive.upsert` with the full-text index kept by
triggers). Reports papers per second and the archive's size on disk."""

from __future__ import annotations

import asyncio
import shutil
import sqlite3
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchmarks.fixtures import write_dumps
from benchmarks.measure import PeakMemory, Timing, db_size, stopwatch
from benchmarks.synth import Corpus
from bot.app import build_app
from bot.settings import Settings
from bot.sources.retrieve import FileRetriever


def run(
    *,
    papers: int,
    per_file: int = 1_000,
    runs: int = 3,
    seed: int = 8,
    workdir: Path | None = None,
) -> dict[str, Any]:
    corpus = Corpus(seed)
    tmp = Path(tempfile.mkdtemp(prefix="paperboy-bench-ingest-", dir=workdir))
    try:
        setup: dict[str, float] = {}
        with stopwatch(setup, "dumps"):
            paths = write_dumps(corpus, tmp / "dumps", papers, per_file=per_file)
        dump_bytes = sum(p.stat().st_size for p in paths)
        timing = Timing()
        peak = PeakMemory()
        stored = parsed = rejected = 0
        size = size_checkpointed = 0
        for r in range(runs):
            db = tmp / f"run{r}" / "paperboy.db"
            app = build_app(Settings(database=str(db)), clock=lambda: datetime.now(UTC))
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
            size = db_size(db)
            con = sqlite3.connect(db)
            con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            con.close()
            size_checkpointed = db_size(db)
            shutil.rmtree(db.parent, ignore_errors=True)
        return {
            "scenario": "ingest",
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


async def _ingest(app: Any, paths: list[Path]) -> list[Any]:
    retriever = FileRetriever()
    ingestor = app.ingestor(retriever)
    return [await ingestor.ingest_location(str(p)) for p in paths]


class _Null:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None
