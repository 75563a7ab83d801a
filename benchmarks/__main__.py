"""`python -m benchmarks` — run every scale benchmark and write BENCHMARKS.md.

    python -m benchmarks                 # everything, this tree and the code before (~1 h on
                                         # 2 cores): BENCHMARKS.md and docs/benchmarks/*
    python -m benchmarks --quick         # a fast pass at small sizes (~5 min), prints the table
    python -m benchmarks --only search   # one scenario (digest, search, ingest, slack_ack)
    python -m benchmarks --no-baseline   # this tree only, not the code before beside it
    python -m benchmarks --render R.json # the report and its plots again from --json output

Each measurement runs in its own process (`benchmarks.worker`), so that its peak memory is
its own. Right after each measurement the same scenario runs on the code before
(benchmarks.before.BEFORE, exported from git into a temporary folder), so every figure has
its "before" measured on the same machine under the same load; BENCHMARKS.md shows both
in a table and in plots (docs/benchmarks/*.png, benchmarks.plots). Archives of synthetic
papers are built once and kept in ~/.cache/paperboy-bench (a new folder whenever the
generator or the store changes; `--no-cache` builds them anew): the first run builds 1M
papers, which adds about 8 minutes.
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

from benchmarks import before as code_before
from benchmarks.measure import machine
from benchmarks.plots import draw
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
    ("ingest", {"papers": 10_000, "runs": 3}),  # a second size: the plot's growth curve
    ("ingest", {"papers": 100_000, "runs": 3}),
    ("ingest", {"papers": 100_000, "runs": 3, "source": "hf-json"}),
    ("ingest", {"papers": 20_000, "runs": 1, "backend": "postgresql"}),
    ("config", {"channels": 1_000, "runs": 3}),  # a second size: the plot's growth curve
    ("config", {"channels": 10_000, "runs": 3}),
    ("delivery", {"slack_channels": 500, "discord_channels": 500}),  # growth curve
    ("delivery", {"slack_channels": 2_000, "discord_channels": 2_000}),
    ("lexicon", {"papers": 25_000}),  # a second size: the plot's growth curve
    ("lexicon", {"papers": 250_000}),
    ("search", {"papers": 25_000, "queries": 1_000, "passes": 2}),
    ("slack_ack", {"papers": 25_000, "concurrency": 50, "bursts": 5}),
    ("search", {"papers": 250_000, "queries": 1_000, "passes": 1, "baseline_queries": 5}),
    ("search", {**HUGE, "lexicon_papers": 250_000}),
]
QUICK: list[tuple[str, dict[str, Any]]] = [
    ("digest", {"channels": 1_000, "ledger_rows": 100_000, "history": 5_000, "runs": 1}),
    ("ingest", {"papers": 10_000, "runs": 1}),
    ("config", {"channels": 1_000, "runs": 1}),
    ("delivery", {"slack_channels": 200, "discord_channels": 200}),
    ("lexicon", {"papers": 10_000}),
    ("search", {"papers": 10_000, "queries": 200, "passes": 1, "baseline_queries": 5}),
    ("slack_ack", {"papers": 10_000, "concurrency": 50, "bursts": 2}),
]


STORE_FILES = ("schema.py", "migrations.py", "archive.py", "db.py")

# What the code before's run leaves out: the obvious implementations (partial_ratio matching,
# a linear-scan search), already measured beside this tree's run.
BEFORE_PARAMS: dict[str, dict[str, Any]] = {
    "digest": {"baseline_channels": 1},
    "search": {"baseline_queries": 0},
}
# ... and it runs less: each measurement once (a digest of the code before took minutes),
# and its searches (up to seconds each) the first BEFORE_QUERIES of the same queries (the
# generator is prefix-stable).
BEFORE_QUERIES = 200
BEFORE_CAPS: dict[str, dict[str, int]] = {
    "digest": {"runs": 1},
    "ingest": {"runs": 1},
    "config": {"runs": 1},
    "search": {"queries": BEFORE_QUERIES, "passes": 1},
}
PLOTS = Path("docs") / "benchmarks"  # beside the report: the plots it shows


def default_archives(root: Path = ROOT) -> Path:
    """Where synthetic archives are kept between runs: one folder per version of what makes
    them (the generator, the seed statistics, the schema and the archive code of `root`:
    this tree, or the code before)."""
    here = root / "benchmarks"
    makers = [here / "synth.py", here / "fixtures.py", here / "data" / "seeds.json"]
    store = root / "bot" / "store"
    makers += [ROOT / "bot" / "models.py", *(store / f for f in STORE_FILES)]
    makers += sorted((store / "alembic" / "versions").glob("*.py"))  # the schema's history
    digest = hashlib.sha256(b"".join(p.read_bytes() for p in makers if p.exists()))
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return cache / "paperboy-bench" / digest.hexdigest()[:12]


def run_worker(
    name: str, params: dict[str, Any], *, timeout: float | None, root: Path = ROOT
) -> dict[str, Any]:
    """Run one measurement in a fresh process on the code under `root` (this tree, or the
    code before); its result, or what went wrong."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(root), env.get("PYTHONPATH")) if p)
    start = time.perf_counter()
    load = os.getloadavg()  # what else ran on the machine: beside each figure in the report
    try:
        done = subprocess.run(
            [sys.executable, "-m", "benchmarks.worker", name, json.dumps(params)],
            cwd=root,
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
            result["load_at_start"] = load
            wrong = code_before.ran_on(result, root)
            return {**result, "error": wrong} if wrong else result
    tail = (done.stderr or done.stdout).strip().splitlines()[-15:]
    return {
        "scenario": name,
        "params": params,
        "error": f"exit {done.returncode} after {time.perf_counter() - start:.0f} s",
        "log": tail,
    }


def _before_info(tree: code_before.Tree | str | None) -> dict[str, Any]:
    if tree is None:
        return {"skipped": "not asked for (--no-baseline)"}
    if isinstance(tree, str):
        return {"skipped": tree, "commit": code_before.BEFORE}
    return {"commit": tree.commit, "subject": tree.subject, "label": tree.label}


def before_archives(
    tree: code_before.Tree, archives: Path | None, scratch: Path, no_cache: bool
) -> Path:
    """Where the code before keeps its archives: built by its own store code, so never the
    ones of this tree (unless both store codes are the same: then the cache is shared)."""
    if no_cache:
        return scratch / "archives-before"
    return archives / "code-before" if archives else default_archives(tree.root)


def run_before(
    tree: code_before.Tree,
    name: str,
    full: dict[str, Any],
    archives: Path,
    *,
    timeout: float | None,
) -> dict[str, Any]:
    """The measurement `full` once more, on the code before (its obvious-implementation
    baseline left out: BEFORE_PARAMS)."""
    old = {**full, **BEFORE_PARAMS.get(name, {})}
    for key, cap in BEFORE_CAPS.get(name, {}).items():
        if key in old:
            old[key] = min(int(old[key]), cap)
    if "archives" in old:
        old["archives"] = str(archives)
    return run_worker(name, old, timeout=timeout, root=tree.root)


def publish(
    info: dict[str, Any],
    results: list[dict[str, Any]],
    before: list[dict[str, Any]] | None,
    out: Path | None,
    *,
    prune: bool = False,
) -> str:
    """Draw the plots beside `out` (PLOTS) and write the report that shows them; its text.
    `prune`: remove the plots there of scenarios these results do not have (a whole run)."""
    figures: list[tuple[str, str]] = []
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        label = (info.get("before") or {}).get("label") or "the code before"
        drawn, why = draw(results, before, out.parent / PLOTS, before_label=label)
        figures = [(s, p.relative_to(out.parent).as_posix()) for s, p in drawn]
        if prune and not why:
            for stale in set((out.parent / PLOTS).glob("*.png")) - {p for _, p in drawn}:
                stale.unlink()
        if why:
            print(why)
            info = {**info, "plots_note": why}
    return write_report(info, results, out, before=before, figures=figures)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--quick", action="store_true", help="small sizes, a fast pass")
    parser.add_argument("--only", action="append", help="only this scenario (repeatable)")
    parser.add_argument("--out", type=Path, help="report file (default: BENCHMARKS.md; "
                        "with --quick, none: the table is printed)")  # fmt: skip
    parser.add_argument("--json", type=Path, help="also write the raw results here (default: "
                        "docs/benchmarks/results.json beside the report)")  # fmt: skip
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
    parser.add_argument(
        "--no-baseline",
        action="store_true",
        help=f"do not measure the code before ({code_before.BEFORE}) beside this tree",
    )
    args = parser.parse_args(argv)
    if args.render:
        saved = json.loads(args.render.read_text())
        out = args.out or ROOT / "BENCHMARKS.md"
        publish(saved["machine"], saved["results"], saved.get("before"), out)
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
    before: list[dict[str, Any]] = []
    try:
        tree = None if args.no_baseline else code_before.prepare(scratch / "before", repo=ROOT)
        info["before"] = _before_info(tree)
        if isinstance(tree, str):
            print(f"The code before is not measured: {tree}", flush=True)
        for name, params in plan:
            shown = ", ".join(
                f"{k}={v:,}" if isinstance(v, int) else f"{k}={v}" for k, v in params.items()
            )
            print(f"[{time.time() - started:6.0f} s] {name}: {shown} …", flush=True)
            full = {**params, "workdir": str(scratch)}
            if name in ("search", "slack_ack", "lexicon"):  # lexicon copies it
                full["archives"] = str(archives)
            result = run_worker(name, full, timeout=args.timeout)
            result["params"] = params
            results.append(result)
            if "error" in result:
                print(f"    failed: {result['error']}", *result.get("log", []), sep="\n    ")
            if isinstance(tree, code_before.Tree):
                print(f"[{time.time() - started:6.0f} s]   the same on {tree.label} …", flush=True)
                old_archives = before_archives(tree, args.archives, scratch, args.no_cache)
                old = run_before(tree, name, full, old_archives, timeout=args.timeout)
                old["params"] = params
                if "error" in old and "error" not in result:  # named as the result it is beside
                    old["scenario"] = result.get("scenario", name)
                before.append(old)
                if "error" in old:
                    print(f"    failed: {old['error']}", *old.get("log", []), sep="\n    ")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    info["load_after"] = os.getloadavg()
    info["total_seconds"] = time.time() - started
    info["mode"] = "quick" if args.quick else "full"
    # the raw results beside the plots drawn from them: `--render` draws them again
    raw = args.json or (out.parent / PLOTS / "results.json" if out is not None else None)
    if raw is not None:
        raw.parent.mkdir(parents=True, exist_ok=True)
        raw.write_text(
            json.dumps(
                {"machine": info, "results": results, "before": before}, indent=1, default=str
            )
        )
    text = publish(info, results, before, out, prune=not args.only)
    if out is None:
        print(text)
    else:
        print(f"wrote {out}")
    return 1 if any("error" in r for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
