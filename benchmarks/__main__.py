"""`python -m benchmarks` — run every scale benchmark and write BENCHMARKS.md.

    python -m benchmarks                 # everything (~20 min on 2 cores), writes BENCHMARKS.md
    python -m benchmarks --quick         # a fast pass at small sizes (~2 min), prints the table
    python -m benchmarks --only search   # one scenario (digest, search, ingest, slack_ack)

Each measurement runs in its own process (`benchmarks.worker`), so that its peak memory is
its own. Archives of synthetic papers are built once and kept in ~/.cache/paperboy-bench
(a new folder whenever the generator or the store changes; `--no-cache` builds them anew):
the first run builds 1M papers, which adds about 8 minutes.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.measure import machine
from benchmarks.report import write_report
from benchmarks.worker import MARK

ROOT = Path(__file__).resolve().parents[1]

# (scenario, parameters) in the order they run. The larger searches are smaller runs: one
# pass; at 1M papers 100 queries, no baseline, and the lexicon of the 250k archive (learning
# it from 1M papers takes minutes: the report extrapolates that). NARROW: channels that
# follow none of the most popular topics.
NARROW = 100
HUGE = {"papers": 1_000_000, "queries": 100, "passes": 1, "baseline_queries": 0}
FULL: list[tuple[str, dict[str, Any]]] = [
    ("digest", {"channels": 10_000, "runs": 3}),
    ("digest", {"channels": 10_000, "runs": 3, "min_rank": NARROW, "baseline_channels": 20}),
    ("digest", {"channels": 1_000, "runs": 3}),
    ("digest", {"channels": 100_000, "runs": 1, "baseline_channels": 20}),
    ("ingest", {"papers": 100_000, "runs": 3}),
    ("search", {"papers": 25_000, "queries": 1_000, "passes": 2}),
    ("slack_ack", {"papers": 25_000, "concurrency": 50, "bursts": 5}),
    ("search", {"papers": 250_000, "queries": 1_000, "passes": 1, "baseline_queries": 5}),
    ("search", {**HUGE, "lexicon_papers": 250_000}),
]
QUICK: list[tuple[str, dict[str, Any]]] = [
    ("digest", {"channels": 1_000, "ledger_rows": 100_000, "history": 5_000, "runs": 1}),
    ("ingest", {"papers": 10_000, "runs": 1}),
    ("search", {"papers": 10_000, "queries": 200, "passes": 1, "baseline_queries": 5}),
    ("slack_ack", {"papers": 10_000, "concurrency": 50, "bursts": 2}),
]


STORE_FILES = ("schema.py", "migrations.py", "archive.py", "db.py")


def default_archives() -> Path:
    """Where synthetic archives are kept between runs: one folder per version of what makes
    them (the generator, the seed statistics, the schema and the archive code)."""
    here = Path(__file__).resolve().parent
    makers = [here / "synth.py", here / "fixtures.py", here / "data" / "seeds.json"]
    store = ROOT / "bot" / "store"
    makers += [ROOT / "bot" / "models.py", *(store / f for f in STORE_FILES)]
    makers += sorted((store / "alembic" / "versions").glob("*.py"))  # the schema's history
    digest = hashlib.sha256(b"".join(p.read_bytes() for p in makers if p.exists()))
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return cache / "paperboy-bench" / digest.hexdigest()[:12]


def run_worker(name: str, params: dict[str, Any], *, timeout: float | None) -> dict[str, Any]:
    """Run one measurement in a fresh process; its result, or what went wrong."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH")) if p)
    start = time.perf_counter()
    try:
        done = subprocess.run(
            [sys.executable, "-m", "benchmarks.worker", name, json.dumps(params)],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return {"scenario": name, "params": params, "error": f"timed out after {timeout:.0f} s"}
    for line in done.stdout.splitlines():
        if line.startswith(MARK):
            result: dict[str, Any] = json.loads(line[len(MARK) :])
            result["params"] = params
            return result
    tail = (done.stderr or done.stdout).strip().splitlines()[-15:]
    return {
        "scenario": name,
        "params": params,
        "error": f"exit {done.returncode} after {time.perf_counter() - start:.0f} s",
        "log": tail,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--quick", action="store_true", help="small sizes, a fast pass")
    parser.add_argument("--only", action="append", help="only this scenario (repeatable)")
    parser.add_argument("--out", type=Path, help="report file (default: BENCHMARKS.md; "
                        "with --quick, none: the table is printed)")  # fmt: skip
    parser.add_argument("--json", type=Path, help="also write the raw results here")
    parser.add_argument(
        "--archives",
        type=Path,
        help="where synthetic archives are kept between runs (default: ~/.cache/paperboy-bench)",
    )
    parser.add_argument("--no-cache", action="store_true", help="build every archive anew (slower)")
    parser.add_argument("--timeout", type=float, default=1800.0, help="per measurement (s)")
    parser.add_argument(
        "--render", type=Path, metavar="JSON", help="only rewrite the report from --json output"
    )
    args = parser.parse_args(argv)
    if args.render:
        saved = json.loads(args.render.read_text())
        out = args.out or ROOT / "BENCHMARKS.md"
        write_report(saved["machine"], saved["results"], out)
        print(f"wrote {out}")
        return 0

    plan = QUICK if args.quick else FULL
    if args.only:
        plan = [(n, p) for n, p in plan if n in args.only]
    out = args.out if args.out else (None if args.quick else ROOT / "BENCHMARKS.md")
    scratch = Path(tempfile.mkdtemp(prefix="paperboy-bench-"))
    archives = scratch / "archives" if args.no_cache else args.archives or default_archives()
    info = machine()
    info["load_before"] = os.getloadavg()
    started = time.time()
    results = []
    try:
        for name, params in plan:
            shown = ", ".join(
                f"{k}={v:,}" if isinstance(v, int) else f"{k}={v}" for k, v in params.items()
            )
            print(f"[{time.time() - started:6.0f} s] {name}: {shown} …", flush=True)
            full = {**params, "workdir": str(scratch)}
            if name in ("search", "slack_ack"):
                full["archives"] = str(archives)
            result = run_worker(name, full, timeout=args.timeout)
            result["params"] = params
            results.append(result)
            if "error" in result:
                print(f"    failed: {result['error']}", *result.get("log", []), sep="\n    ")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    info["load_after"] = os.getloadavg()
    info["total_seconds"] = time.time() - started
    info["mode"] = "quick" if args.quick else "full"
    if args.json:
        args.json.write_text(
            json.dumps({"machine": info, "results": results}, indent=1, default=str)
        )
    text = write_report(info, results, out)
    if out is None:
        print(text)
    else:
        print(f"wrote {out}")
    return 1 if any("error" in r for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
