"""benchmarks/charts.py at a tiny size: it runs, its counts cover every channel, and equal
charts are drawn once (the figures themselves are the benchmark's, not asserted here)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from benchmarks import charts


def test_the_chart_benchmark_runs_small_and_writes_its_json(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "charts.json"
    assert (
        charts.main(["--channels", "12", "--per-day", "15", "--topics", "60", "--json", str(out)])
        == 0
    )
    result = json.loads(out.read_text(encoding="utf-8"))
    assert result["channels"] == 12
    assert result["papers"] == 15 * (8 * 7 + 6)
    assert result["charts_drawn"] + result["charts_shared"] == 12
    assert result["charts_drawn"] == result["charts_distinct"]
    assert 0 < result["png_bytes_mean"] <= result["png_bytes_max"] < 150_000
    assert "draw (1 process)" in capsys.readouterr().out


def test_channels_follow_one_to_five_topics_in_several_zones() -> None:
    made = charts.channels(charts.Corpus(8, topics=200), 200)
    assert {len(p.topics) for p in made} == {1, 2, 3, 4, 5}
    assert {p.timezone for p in made} == set(charts.ZONES)
    assert 0.6 < sum(1 for p in made if p.exclude) / len(made) < 0.95
