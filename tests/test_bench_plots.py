"""BENCHMARKS.md's plots and its measurements of the code before (issue 18 item 7), at toy
size: the plots are drawn for every scenario with results, byte for byte the same for the
same results; the report shows them with each figure beside the code before's; the code
before is exported from git with this tree's harness and really measured there."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks import before as code_before  # noqa: E402
from benchmarks.__main__ import main, publish, run_worker  # noqa: E402
from benchmarks.plots import draw, headline, spec_for  # noqa: E402
from benchmarks.report import _growth, write_report  # noqa: E402

MiB = 1 << 20


def _digest(channels: int, wall: float, peak: int, min_rank: int = 0) -> dict[str, Any]:
    params: dict[str, Any] = {"channels": channels, "runs": 1}
    if min_rank:
        params["min_rank"] = min_rank
    return {
        "scenario": "digest",
        "params": params,
        "channels": channels,
        "min_rank": min_rank,
        "wall": {"median": wall, "runs": [wall]},
        "peak_rss": peak,
    }


def _search(papers: int, p50: float, p95: float, p99: float) -> dict[str, Any]:
    return {
        "scenario": "search",
        "params": {"papers": papers, "queries": 20},
        "papers": papers,
        "p50_median": p50,
        "p95_median": p95,
        "p99_median": p99,
        "peak_rss": 300 * MiB,
    }


def _ingest(papers: int, rate: float) -> dict[str, Any]:
    return {
        "scenario": "ingest",
        "params": {"papers": papers},
        "wall": {"median": papers / rate, "runs": [papers / rate]},
        "papers_per_second": rate,
        "peak_rss": 150 * MiB,
    }


NOW = [
    _digest(1_000, 1.0, 200 * MiB),
    _digest(10_000, 3.0, 500 * MiB),
    _digest(10_000, 2.0, 400 * MiB, min_rank=100),
    _search(25_000, 0.004, 0.012, 0.030),
    _search(250_000, 0.006, 0.021, 0.060),
    _ingest(10_000, 6000.0),
    _ingest(100_000, 5500.0),
    # a scenario without a spec of its own: drawn from its size, wall and peak
    {
        "scenario": "reindex",
        "params": {"papers": 25_000},
        "wall": {"median": 2.0, "runs": [2.0]},
        "peak_rss": 90 * MiB,
    },
    {
        "scenario": "reindex",
        "params": {"papers": 250_000},
        "wall": {"median": 9.0, "runs": [9.0]},
        "peak_rss": 400 * MiB,
    },
    {"scenario": "delivery", "params": {"channels": 40}, "error": "exit 1 after 2 s"},
]
BEFORE = [
    _digest(1_000, 4.0, 270 * MiB),
    _digest(10_000, 12.0, 580 * MiB),
    _digest(10_000, 14.0, 500 * MiB, min_rank=100),
    _search(25_000, 0.030, 0.090, 0.200),
    _search(250_000, 0.170, 0.500, 0.800),
    _ingest(10_000, 3300.0),
    _ingest(100_000, 3200.0),
    {
        "scenario": "reindex",
        "params": {"papers": 25_000},
        "error": "exit 1 after 1 s",
        "log": ["AttributeError: module has no attribute 'update'"],
    },
]


def test_a_plot_for_every_scenario_with_results_the_same_bytes_for_the_same_results(
    tmp_path: Path,
) -> None:
    pytest.importorskip("matplotlib")
    first, why = draw(NOW, BEFORE, tmp_path / "a", before_label="the code before (caf21bd)")
    again, _ = draw(NOW, BEFORE, tmp_path / "b", before_label="the code before (caf21bd)")
    assert why is None
    assert [s for s, _ in first] == ["digest", "ingest", "reindex", "search"]  # not delivery
    for (_, a), (_, b) in zip(first, again, strict=True):
        data = a.read_bytes()
        assert data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) > 10_000
        assert data == b.read_bytes()  # deterministic
        assert b"matplotlib" not in data  # no creation software (nor a date) in the file
    # other figures, other pictures; this tree alone is drawn too
    draw([_digest(1_000, 1.5, 200 * MiB), *NOW[1:3]], BEFORE[:3], tmp_path / "c")
    assert (tmp_path / "c" / "digest.png").read_bytes() != first[0][1].read_bytes()
    alone, _ = draw(NOW[:3], None, tmp_path / "d")
    assert [s for s, _ in alone] == ["digest"]
    # a file whose bytes would not change is left alone
    stamp = first[0][1].stat().st_mtime_ns
    draw(NOW[:3], BEFORE[:3], tmp_path / "a", before_label="the code before (caf21bd)")
    assert first[0][1].stat().st_mtime_ns == stamp


def test_headline_figures_and_a_generic_spec_for_new_scenarios() -> None:
    assert headline("search", NOW[4]) == ("p95", 0.021, "s", False)
    assert headline("ingest", NOW[5]) == ("papers/s", 6000.0, "/s", True)
    assert headline("digest", NOW[0])[:2] == ("wall", 1.0)
    spec = spec_for("config_load", [{"params": {"channels": 10, "runs": 3}}])
    assert spec is not None and spec.size == "channels"
    assert spec_for("odd", [{"params": {"runs": 3}}]) is None  # no size: not drawn


def test_the_report_puts_each_figure_beside_the_code_before_and_shows_the_plots() -> None:
    info = {
        "cpus": 2,
        "before": {"commit": "caf21bd" + "0" * 33, "subject": "x", "label": "the code before"},
    }
    figures = [("digest", "docs/benchmarks/digest.png")]
    text = "\n".join(_growth(info, NOW, BEFORE, figures))
    assert "## Before and after: growth with size" in text
    assert "| digest | 10,000 channels | wall | 3 s | 12 s | 4.0× faster | 500 MiB, 580 MiB" in text
    assert "(narrow: no top-100 topic) | wall | 2 s | 14 s | 7.0× faster" in text
    assert "| p95 | 21 ms | 500 ms | 23.8× faster |" in text
    assert "| papers/s | 6k/s | 3.3k/s | 1.8× higher |" in text
    assert "failed: exit 1 after 1 s (AttributeError: module has no attribute 'update')" in text
    assert "| reindex | 250,000 papers | wall | 9 s | not measured |" in text
    assert "![digest](docs/benchmarks/digest.png)" in text
    loaded = [{**NOW[1], "load_at_start": [3.3, 2, 1]}]
    beside = [{**BEFORE[1], "load_at_start": [4.5, 3, 2]}]
    assert "| 500 MiB, 580 MiB | 3.3, 4.5 |" in "\n".join(_growth(info, loaded, beside, []))
    skipped = write_report({"before": {"skipped": "git is not installed"}}, NOW[-3:], None)
    assert "The code before was not measured in this run: git is not installed." in skipped


def test_no_baseline_writes_the_report_without_the_code_before(tmp_path: Path) -> None:
    out = tmp_path / "B.md"
    assert main(["--quick", "--only", "none", "--no-baseline", "--out", str(out)]) == 0
    assert "not measured in this run: not asked for (--no-baseline)" in out.read_text()


def test_a_whole_run_removes_the_plots_of_scenarios_it_no_longer_has(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    plots = tmp_path / "docs" / "benchmarks"
    plots.mkdir(parents=True)
    (plots / "gone.png").write_bytes(b"old")
    text = publish({}, NOW[7:9], None, tmp_path / "B.md")  # --only: kept
    assert (plots / "gone.png").exists() and "![reindex](docs/benchmarks/reindex.png)" in text
    publish({}, NOW[7:9], None, tmp_path / "B.md", prune=True)
    assert sorted(p.name for p in plots.glob("*.png")) == ["reindex.png"]


def test_no_code_before_without_the_commit_or_outside_a_clone(tmp_path: Path) -> None:
    missing = code_before.prepare(tmp_path / "a", repo=ROOT, commit="0" * 40)
    assert isinstance(missing, str) and "not in this clone" in missing
    outside = tmp_path / "not-a-clone"
    outside.mkdir()
    assert isinstance(code_before.prepare(tmp_path / "b", repo=outside), str)


def _has_commit(commit: str) -> bool:
    if shutil.which("git") is None:
        return False
    found = subprocess.run(
        ["git", "cat-file", "-e", f"{commit}^{{commit}}"], cwd=ROOT, capture_output=True
    )
    return found.returncode == 0


@pytest.mark.slow
@pytest.mark.skipif(
    not _has_commit(code_before.BEFORE), reason="no git, or a clone without the commit before"
)
def test_a_scenario_of_this_tree_runs_on_the_code_before(tmp_path: Path) -> None:
    tree = code_before.prepare(tmp_path / "before", repo=ROOT)
    assert isinstance(tree, code_before.Tree), tree
    assert tree.commit.startswith(code_before.BEFORE)
    old = subprocess.run(
        ["git", "show", f"{tree.commit}:bot/digest.py"], cwd=ROOT, capture_output=True, check=True
    ).stdout
    assert (tree.root / "bot" / "digest.py").read_bytes() == old  # the old code ...
    assert (tree.root / "benchmarks" / "before.py").is_file()  # ... measured by this harness
    assert not list(tree.root.rglob("__pycache__"))
    params = {"papers": 200, "per_file": 100, "runs": 1, "workdir": str(tmp_path)}
    result = run_worker("ingest", params, timeout=300, root=tree.root)
    assert "error" not in result, result
    assert result["code"] == str(tree.root) and result["stored"] >= 195
    ours = run_worker("ingest", params, timeout=300)
    assert ours["code"] == str(ROOT)


def test_the_report_shows_the_configuration_load_and_its_target() -> None:
    def config(wall: float, refused: str | None) -> dict[str, Any]:
        return {
            "scenario": "config",
            "params": {"channels": 10_000, "runs": 1},
            "channels": 10_000,
            "file_bytes": 3 << 20,
            "wall": {"median": wall, "runs": [wall]},
            "loaded": 0 if refused else 10_000,
            "refused": refused,
            "peak_rss": 200 * MiB,
        }

    bomb = "more than 100,000 values (YAML aliases expanding?)"
    text = write_report({"cpus": 2}, [config(1.2, None)], None, before=[config(8.3, bomb)])
    assert "| configuration load | a configuration file with 10,000 channels loads" in text
    assert "| 1.20 s (3.0 MiB file) | ✅ met |" in text
    assert "## Configuration load" in text and "| 10,000 loaded |" in text
    assert f"| wall | 1.2 s | 8.3 s (refused: {bomb}) | – |" in text
    refused = write_report({}, [config(8.3, bomb)], None)
    assert f"**refused**: {bomb} | ❌ missed" in refused and f"refused: {bomb} |" in refused


def test_the_report_shows_delivery_and_the_lexicon_with_their_targets() -> None:
    delivery = {
        "scenario": "delivery",
        "params": {"slack_channels": 2_000, "discord_channels": 2_000},
        "slack_channels": 2_000,
        "discord_channels": 2_000,
        "wall_seconds": 45.0,
        "limit_bound_seconds": 39.0,
        "ratio_to_bound": 45.0 / 39.0,
        "papers_planned": 39_853,
        "papers_confirmed": 39_853,
        "messages": {"slack": 3_000, "discord": 4_000},
        "http_429": {"slack_channel": 0, "discord_channel": 2, "discord_global": 0},
        "discord_messages_per_second": 48.2,
        "discord_peak_per_second": 50.0,
        "discord_limit_per_second": 50,
        "slack_busiest_channel_per_second": 0.9,
        "slack_limit": "1 per second per channel",
        "lost_papers": 0,
        "duplicate_papers": 0,
        "failed": 0,
    }
    lexicon = {
        "scenario": "lexicon",
        "params": {"papers": 250_000},
        "papers": 250_000,
        "update": 1_000,
        "seconds": {"build": 25.0, "first": 20.0, "save": 2.0, "update": 0.8, "restart": 2.5},
        "identical": True,
        "peak_rss": 900 * MiB,
    }
    text = write_report({}, [delivery, lexicon], None)
    assert "| 45.00 s for 39.00 s allowed (1.15×); 39,853 of 39,853 papers, none lost" in text
    assert "update (1,000 papers) 800.0 ms, first /papers after a restart 2.50 s" in text
    assert text.count("✅ met") == 2
    assert "## Delivery at the platforms' limits" in text and "| 48.2/s (peak 50.0/s; 50) |" in text
    assert "## Lexicon" in text and "| **800.0 ms** (1,000) | **2.50 s** | yes | 900 MiB |" in text
    late = write_report({}, [{**delivery, "lost_papers": 3}, {**lexicon, "identical": False}], None)
    assert late.count("❌ missed") == 2 and "3 papers lost" in late
