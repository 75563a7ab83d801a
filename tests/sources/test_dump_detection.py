"""A file is read as a papers dump only when it has a dump's structure (a title line, then
its abstract, for every record, as in both layouts of the HF papers-page copies); prose,
Markdown, code and configuration are refused with what a dump looks like and `--kind
dump` to force it. `paperboy ingest --dry-run` shows what would be stored, writing nothing.

Real files throughout: the repository's own README and sources, the real seeds, and the
CLI against a real SQLite file."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from click.testing import CliRunner

from bot.cli import cli
from bot.errors import SourceError
from bot.sources.detect import parse_any

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "tests" / "fixtures"
NOT_DUMPS = {
    "README.md": (REPO / "README.md").read_bytes(),
    "RELIABILITY.md": (REPO / "RELIABILITY.md").read_bytes(),
    "ingest_cmd.py": (REPO / "bot" / "cli" / "ingest_cmd.py").read_bytes(),
    "pyproject.toml": (REPO / "pyproject.toml").read_bytes(),
    "Makefile": (REPO / "Makefile").read_bytes(),
    "demo.yaml": (REPO / "bot" / "data" / "demo.yaml").read_bytes(),
    "license.txt": (
        b"MIT License\n\nCopyright (c) 2026 Example\n\nPermission is hereby granted, free of "
        b"charge, to any person obtaining a copy of this software, to deal in the Software "
        b"without restriction.\n\nTHE SOFTWARE IS PROVIDED AS IS, WITHOUT WARRANTY OF ANY "
        b"KIND. IN NO EVENT SHALL THE AUTHORS BE LIABLE FOR ANY CLAIM.\n\nThe above copyright "
        b"notice shall be included in all copies. This permission notice too.\n"
    ),
    "notes.md": (
        b"# Reading list\n\n## Mixture of experts\n\nSome papers I want to read. They are "
        b"about routing.\n\n- Switch Transformers\n- GShard\n- Expert Choice Routing\n\n"
        b"```python\nimport bot\nprint(bot)\n```\n"
    ),
    "papers.csv": b"id,title,upvotes\n2406.01234,Qwen2 Technical Report,12\n2406.0999,X,3\n",
}
DUMPS = ["dump_layout_a.txt", "dump_layout_b.txt"]


def _config(tmp_path: Path) -> Path:
    config = tmp_path / "c.yaml"
    config.write_text(f"database: {tmp_path / 'p.db'}\n")
    return config


def _ingest(tmp_path: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["--config", str(_config(tmp_path)), "ingest", *args])
    return result.exit_code, result.output


@pytest.mark.parametrize("name", NOT_DUMPS)
def test_what_is_not_a_dump_is_refused_saying_what_a_dump_is(name: str) -> None:
    with pytest.raises(SourceError) as caught:
        parse_any(NOT_DUMPS[name], source=name)
    message = str(caught.value)
    assert "does not look like a papers dump" in message
    assert "title" in message and "abstract" in message and "--kind dump" in message


@pytest.mark.parametrize("name", DUMPS)
def test_both_dump_layouts_are_still_read(name: str) -> None:
    result = parse_any((FIXTURES / name).read_bytes(), source=name)
    assert result.format == "dump" and len(result.papers) == 5


def test_the_real_seeds_and_the_sample_are_still_read(shared_dir: Path) -> None:
    counts = {
        path.name: len(parse_any(path.read_bytes(), source=path.name).papers)
        for path in [*sorted((shared_dir / "seeds").iterdir()), REPO / "bot/data/sample-dump.txt"]
    }
    assert all(count > 30 for count in counts.values()), counts


def test_a_small_or_cut_or_partly_broken_dump_is_still_a_dump() -> None:
    good = "\n\n".join(
        f"A Paper Title Number {i}\n\nWe propose method {i}. It works well on many tasks."
        for i in range(3)
    )
    for text in (
        good,
        "new\n\nMar 11\n\n" + good + "\n\nA truncated last title with no abs",
        good + "\n\n<div>@@@@@@ junk @@@@@@</div>\n\n" + good.replace("Number", "No."),
        "Single Paper Title\nOne abstract sentence. And a second one.",
    ):
        assert parse_any(text.encode(), source="d").papers


def test_cli_refuses_a_readme_and_stores_nothing(tmp_path: Path) -> None:
    code, out = _ingest(tmp_path, str(REPO / "README.md"))
    assert code == 1, out
    assert "does not look like a papers dump" in out and "--kind dump" in out
    assert "archive: 0 papers (0 new)" in out


def test_kind_dump_forces_it(tmp_path: Path) -> None:
    code, out = _ingest(tmp_path, "--kind", "dump", str(REPO / "README.md"))
    assert code == 0, out
    assert "(dump): parsed" in out


def test_dry_run_lists_what_would_be_stored_and_writes_nothing(tmp_path: Path) -> None:
    code, out = _ingest(tmp_path, str(FIXTURES / "dump_layout_b.txt"))  # some are known
    assert code == 0, out
    database = tmp_path / "p.db"
    before = hashlib.sha256(database.read_bytes()).hexdigest()
    code, out = _ingest(
        tmp_path, "--dry-run", str(FIXTURES / "dump_layout_a.txt"), str(REPO / "README.md")
    )
    assert code == 1, out  # the README is refused, as it would be without --dry-run
    assert "dry run" in out and "nothing stored" in out
    assert "would store" in out
    assert "Qwen2 Technical Report" in out  # new in layout a
    assert "Multi-Head Mixture-of-Experts" in out and "already archived" in out
    assert "does not look like a papers dump" in out
    assert hashlib.sha256(database.read_bytes()).hexdigest() == before


def test_dry_run_of_configured_sources_writes_nothing(tmp_path: Path) -> None:
    config = tmp_path / "c.yaml"
    config.write_text(
        f"database: {tmp_path / 'p.db'}\n"
        "sources:\n"
        f"  - {{name: local, kind: dump, path: {FIXTURES / 'dump_layout_b.txt'}}}\n"
    )
    result = CliRunner().invoke(cli, ["--config", str(config), "ingest", "--dry-run"])
    assert result.exit_code == 0, result.output
    assert "local (dump): parsed 5, new 5" in result.output
    assert result.output.count("would store (new)") == 5
    assert "dry run: nothing stored; archive: 0 papers (5 would be new)" in result.output
    status = CliRunner().invoke(cli, ["--config", str(config), "status", "--json"])
    assert '"sources": []' in status.output  # no fetch was recorded either
