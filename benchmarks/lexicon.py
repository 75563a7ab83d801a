"""Scenario: the archive's lexicon (what `/papers` and digests understand topics with), at
a given archive size, through the paths a service takes. Runs on this tree and on the code
before alike (only `build`, `build_app`, `App.lexicons` and `/papers` are used).

Timed, on a copy of the cached archive:
- `build`: `build(archive.all())`, the lexicon learned from scratch (the public function;
  this tree: counted in one process per core from 20,000 papers on, so on a loaded machine
  its CPU seconds, children included, say more than its wall time);
- `first`: the service's first lexicon (`App.lexicons()`) on an archive that never had one
  (this tree: counted from scratch, in parallel, then saved in the background: `save` is
  the wait for that save; the code before: learned from scratch);
- `update`: a day's papers later — `update` new papers stored and a tenth as many archived
  papers updated with a longer abstract and keywords — the next `App.lexicons()` (this tree:
  brought up to date from what changed; before: learned from scratch again);
- `restart`: a new process, from its start to the reply of its first `/papers` (imports,
  `build_app`, the lexicon — this tree: loaded from the database and brought up to date —
  and the search), as `paperboy run` answers its first command.
`identical`: the lexicon after the update equals `build(archive.all())` (dictionary order
included; None on the code before, which has nothing else to compare).
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from benchmarks.fixtures import ensure_archive
from benchmarks.measure import PeakMemory
from benchmarks.synth import Corpus

NOW = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)

# The restarted process: prints the seconds from its start to the reply of its first
# /papers (the parent adds the interpreter's start, measured from outside).
_RESTART = """
import asyncio, sys, time
start = time.perf_counter()
from bot.app import build_app
from bot.settings import Settings
from handlers.commands import dispatch
from handlers.reply import CommandRequest
app = build_app(Settings(database=sys.argv[1]))
request = CommandRequest(platform="slack", channel_id="C0BENCH001", user_id="U1",
                         text="search mixture of experts routing")
reply = asyncio.run(dispatch(request, app.services()))
assert reply.title, reply
print("FIRST-PAPERS", time.perf_counter() - start, flush=True)
app.close()
"""


def _cpu() -> float:
    """CPU seconds of this process and its finished children (the parallel count's)."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def _exact(lex: Any) -> tuple[Any, ...]:
    return (
        lex.n_docs,
        list(lex.vocab.items()),
        sorted(lex.df.items()),
        [(sf, list(forms.items())) for sf, forms in lex.acronyms.items()],
        list(lex.spelled.items()),
    )


def run(
    *,
    papers: int,
    update: int = 1_000,
    seed: int = 8,
    compare: bool = True,
    workdir: Path | None = None,
    archives: Path | None = None,
) -> dict[str, Any]:
    from bot.app import build_app
    from bot.pipeline.lexicon import build
    from bot.settings import Settings

    corpus = Corpus(seed)
    tmp = Path(tempfile.mkdtemp(prefix="paperboy-bench-lexicon-", dir=workdir))
    wall: dict[str, float] = {}
    cpu_s: dict[str, float] = {}  # CPU seconds, children included: less sensitive to load
    try:
        source = ensure_archive(archives or tmp, corpus, papers, now=NOW)
        con = sqlite3.connect(source)
        con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        con.close()
        path = tmp / "lexicon.db"
        shutil.copyfile(source, path)
        with PeakMemory() as peak:
            app = build_app(Settings(database=str(path)))
            try:
                if compare:  # False: neither `build` nor `identical` (each a whole build)
                    start, cpu = time.perf_counter(), _cpu()
                    build(app.archive.all())
                    wall["build"] = time.perf_counter() - start
                    cpu_s["build"] = _cpu() - cpu
                start, cpu = time.perf_counter(), _cpu()
                app.lexicons()
                wall["first"] = time.perf_counter() - start
                cpu_s["first"] = _cpu() - cpu
                start = time.perf_counter()
                wait = getattr(app.lexicons, "wait_saved", None)
                if wait is not None:
                    wait()
                    wall["save"] = time.perf_counter() - start
                day = list(corpus.papers(update, start=papers))
                known = app.archive.all()[:: max(papers // max(update // 10, 1), 1)]
                changed = [
                    replace(p, abstract=p.abstract + " Longer now (LN).", ai_keywords=("routing",))
                    for p in known[: update // 10]
                ]
                app.archive.upsert(day + changed, now=NOW + timedelta(days=1))
                start, cpu = time.perf_counter(), _cpu()
                after = app.lexicons()
                wall["update"] = time.perf_counter() - start
                cpu_s["update"] = _cpu() - cpu
                identical = None
                if wait is not None:
                    if compare:
                        identical = _exact(after) == _exact(build(app.archive.all()))
                    wait()
            finally:
                app.close()
        env = dict(os.environ)
        start, cpu = time.perf_counter(), _cpu()
        done = subprocess.run(
            [sys.executable, "-c", _RESTART, str(path)],
            capture_output=True,
            text=True,
            check=True,
            env=env,
        )
        wall["restart"] = time.perf_counter() - start
        cpu_s["restart"] = _cpu() - cpu
        inside = [ln for ln in done.stdout.splitlines() if ln.startswith("FIRST-PAPERS")]
        return {
            "scenario": "lexicon",
            "papers": papers,
            "update": update,
            "seconds": wall,
            "cpu_seconds": cpu_s,
            "wall": {"median": wall["update"], "runs": [wall["update"]]},
            "restart_inside": float(inside[0].split()[1]) if inside else None,
            "identical": identical,
            "peak_rss": peak.peak,
            "load": os.getloadavg(),
        }
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":  # python -m benchmarks.lexicon PAPERS ARCHIVES SEED [--no-compare]
    compare = sys.argv[4:] != ["--no-compare"]
    params = {"papers": int(sys.argv[1]), "archives": Path(sys.argv[2]), "seed": int(sys.argv[3])}
    print(json.dumps(run(**params, compare=compare), default=str))  # type: ignore[arg-type]
