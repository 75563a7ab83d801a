"""A readable `paperboy`: `--config` after any subcommand, whole one-line descriptions in
`--help`, and `digest --dry-run` showing each digest as it would read. Real SQLite archive."""

from __future__ import annotations

import json
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from bot.cli import cli
from bot.cli.common import one_line

ROOT = Path(__file__).resolve().parents[1]
INPUTS = [
    ROOT / "bot" / "data" / "sample-dump.txt",
    ROOT / "tests" / "fixtures" / "hf_daily_small.json",
    ROOT / "tests" / "fixtures" / "arxiv_rss_small.xml",
]
CHANNEL = """
channels:
  - platform: console
    id: moe
    topics: [mixture of experts]
    max_posts: 3
"""


@pytest.fixture(scope="module")
def config(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("readable")
    path = folder / "my.yaml"
    path.write_text(f"database: {folder / 'p.db'}\n{CHANNEL}")
    result = CliRunner().invoke(cli, ["ingest", "--config", str(path), *map(str, INPUTS)])
    assert result.exit_code == 0, result.output
    return path


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.output


def every_command(group: click.Group, prefix: str = "") -> list[tuple[str, click.Command]]:
    found = []
    for name, command in group.commands.items():
        found.append((f"{prefix}{name}", command))
        if isinstance(command, click.Group):
            found += every_command(command, f"{prefix}{name} ")
    return found


def test_dry_run_shows_titles_summaries_and_links(config: Path) -> None:
    code, out = run("digest", "--config", str(config), "--dry-run", "--backfill", "3650d")
    assert code == 0, out
    lines = out.splitlines()
    assert lines[0].startswith("console:moe: would post 3 paper(s)")
    assert lines[1].startswith("   1. ") and "Mixture" in out
    assert sum(line.startswith(("   1. ", "   2. ", "   3. ")) for line in lines) == 3
    summaries = [line for line in lines if line.startswith("      ") and "http" not in line]
    assert len(summaries) == 3 and all(len(s) <= 6 + 110 for s in summaries)


def test_dry_run_json_is_unchanged(config: Path) -> None:
    code, out = run("--config", str(config), "digest", "--dry-run", "--json", "--backfill", "3650d")
    assert code == 0, out
    records = [json.loads(line) for line in out.splitlines()]
    assert len(records) == 3 and {"channel", "key", "title", "summary", "links"} <= set(records[0])


def test_config_after_the_subcommand_wins(config: Path, tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.yaml"
    code, out = run("--config", str(missing), "digest", "--config", str(config), "--dry-run")
    assert code == 0, out
    result = CliRunner().invoke(
        cli, ["--config", str(config), "channels", "--config", str(missing)]
    )
    assert result.exit_code == 2 and "nowhere.yaml" in result.output


def test_config_after_a_nested_subcommand(config: Path, tmp_path: Path) -> None:
    labels = tmp_path / "labels.jsonl"
    labels.write_text('{"title": "Not In The Archive", "topics": ["moe"]}\n')
    code, out = run("eval", "relevance", str(labels), "--topic", "moe=moe", "--config", str(config))
    assert code == 1 and "none of the 1 labelled papers" in out and str(config.parent) in out


def test_every_subcommand_takes_config_and_says_so() -> None:
    commands = every_command(cli)
    assert len(commands) >= 12
    for name, command in commands:
        assert any("--config" in p.opts for p in command.params), name
        out = CliRunner().invoke(cli, [*name.split(), "--help"]).output
        text = " ".join(out.split())
        assert "--config FILE" in text and "the later one wins" in text, name


def test_help_lists_whole_first_sentences() -> None:
    out = run("--help")[1]
    listing = out.split("Commands:", 1)[1]
    assert "..." not in listing and "…" not in listing
    text = " ".join(out.split())
    for name, command in cli.commands.items():
        sentence = one_line(command.help)
        assert sentence and " ".join(sentence.split()) in text, name
    assert "search" in cli.commands


def test_one_line_keeps_abbreviations() -> None:
    assert one_line("Do this (e.g. that). Then more.\n\nDetails.") == "Do this (e.g. that)."
    assert one_line("No full stop\nacross lines\n\nmore") == "No full stop across lines"


def test_match_says_when_the_limit_cut_the_list_and_what_orders_ties(config: Path) -> None:
    code, every = run("match", "language models", "--limit", "0", "--config", str(config))
    assert code == 0, every
    total = int(every.splitlines()[0].split()[0])
    assert total > 3 and "showing" not in every
    code, out = run("match", "language models", "--limit", "3", "--config", str(config))
    assert code == 0, out
    assert f"showing 3 of {total} (--limit 0 for all)" in out
    assert "among equal scores, the most upvoted first, then the newest, then by key" in out


def test_match_json_carries_link_date_and_authors(config: Path) -> None:
    code, out = run("--config", str(config), "match", "moe", "--json", "--limit", "0")
    assert code == 0, out
    records = [json.loads(line) for line in out.splitlines()]
    assert records
    for record in records:
        assert {"key", "title", "score", "reason", "link", "date", "authors"} <= set(record)
    with_id = [r for r in records if r["arxiv_id"]]
    assert with_id and all(r["link"].endswith(r["arxiv_id"]) and r["date"] for r in with_id)
    assert any(r["authors"] for r in with_id)
