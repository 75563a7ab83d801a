"""`paperboy search`: the /papers search from the shell, over a real SQLite archive."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from bot.app import build_app
from bot.cli import cli
from bot.search import Search
from bot.settings import load_settings

ROOT = Path(__file__).resolve().parents[1]
INPUTS = [
    ROOT / "bot" / "data" / "sample-dump.txt",
    ROOT / "tests" / "fixtures" / "hf_daily_small.json",
    ROOT / "tests" / "fixtures" / "arxiv_rss_small.xml",
    ROOT / "tests" / "fixtures" / "arxiv_api_small.xml",
]


@pytest.fixture(scope="module")
def config(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("search")
    path = folder / "paperboy.yaml"
    path.write_text(f"database: {folder / 'p.db'}\n")
    result = CliRunner().invoke(cli, ["--config", str(path), "ingest", *map(str, INPUTS)])
    assert result.exit_code == 0, result.output
    return path


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.output


def test_json_prints_one_object_per_paper_with_what_a_script_needs(config: Path) -> None:
    code, out = run(
        "search", "mixture of experts", "--json", "--limit", "5", "--config", str(config)
    )
    assert code == 0, out
    records = [json.loads(line) for line in out.splitlines()]
    assert len(records) == 5
    for record in records:
        assert {"title", "key", "arxiv_id", "link", "date", "authors", "score", "why"} <= set(
            record
        )
        assert isinstance(record["authors"], list) and record["why"]
    scores = [r["score"] for r in records]
    assert scores == sorted(scores, reverse=True)
    with_id = [r for r in records if r["arxiv_id"]]
    assert with_id and all(r["link"] == f"https://arxiv.org/abs/{r['arxiv_id']}" for r in with_id)


def test_same_papers_in_the_same_order_as_the_papers_command(config: Path) -> None:
    app = build_app(load_settings(str(config)), seed=False)
    try:
        expected = Search(app.archive, app.lexicons).search("moe routing", limit=4)
    finally:
        app.close()
    code, out = run("--config", str(config), "search", "moe", "routing", "--limit", "4", "--json")
    assert code == 0, out
    assert [json.loads(line)["key"] for line in out.splitlines()] == [
        h.paper.key for h in expected.hits
    ]


def test_text_says_how_many_were_found_and_reads_like_a_list(config: Path) -> None:
    code, out = run("--config", str(config), "search", "mixture of experts", "--limit", "2")
    assert code == 0, out
    assert "showing 2 of " in out and "--limit 0 for all" in out
    assert " 1. " in out and " 2. " in out and " 3. " not in out
    assert "why: " in out and "2026-" in out  # why it was found, and its day
    code, every = run("--config", str(config), "search", "mixture of experts", "--limit", "0")
    assert code == 0 and "showing" not in every and "found for 'mixture of experts'" in every


def test_nothing_found_says_so(config: Path) -> None:
    code, out = run("--config", str(config), "search", "zzqqxxv")
    assert code == 0
    assert "no archived paper matches 'zzqqxxv'" in out


def test_a_query_is_required_and_a_negative_limit_refused(config: Path) -> None:
    code, out = run("--config", str(config), "search")
    assert code == 2 and "QUERY" in out
    code, out = run("--config", str(config), "search", "moe", "--limit", "-1")
    assert code == 2 and "--limit" in out
