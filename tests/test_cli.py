"""The `paperboy` command as a user runs it: exit statuses, messages, no tracebacks."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from bot import __version__
from bot.cli import cli


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "paperboy.yaml"
    path.write_text(f"database: {tmp_path / 'p.db'}\n")
    return path


def _ingest(config: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["--config", str(config), "ingest", *args])
    return result.exit_code, result.output


def test_version_and_help() -> None:
    runner = CliRunner()
    assert __version__ in runner.invoke(cli, ["--version"]).output
    out = runner.invoke(cli, ["--help"]).output
    assert "ingest" in out and "--config" in out


def test_ingest_twice_stores_nothing_new(config: Path, fixtures_dir: Path) -> None:
    files = [
        str(p) for p in sorted(fixtures_dir.glob("*")) if p.suffix in {".txt", ".json", ".xml"}
    ]
    code, out = _ingest(config, *files)
    assert code == 0, out
    first_total = int(out.rsplit("archive: ", 1)[1].split()[0])
    assert first_total > 10
    code, out = _ingest(config, *files)
    assert code == 0
    assert f"archive: {first_total} papers (0 new)" in out
    assert "new 0" in out


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "empty"),
        (b"<!DOCTYPE html><html><body>502 Bad Gateway</body></html>", "HTML page"),
        (bytes(range(256)) * 4, "binary"),
        (b'{"error": "Invalid date"}', "Invalid date"),
    ],
)
def test_bad_input_gives_a_clear_message_and_exit_1(
    config: Path, tmp_path: Path, content: bytes, message: str
) -> None:
    bad = tmp_path / "input.bin"
    bad.write_bytes(content)
    code, out = _ingest(config, str(bad))
    assert code == 1
    assert message in out
    assert "Traceback" not in out


def test_truncated_feed_keeps_what_was_read(config: Path, tmp_path: Path) -> None:
    feed = tmp_path / "cut.xml"
    feed.write_text(
        "<?xml version='1.0'?><rss version='2.0'><channel><title>x</title>"
        "<item><title>A Whole Paper</title><description>Fine.</description></item>"
        "<item><title>Cut Off"
    )
    code, out = _ingest(config, str(feed))
    assert code == 0
    assert "parsed 1, new 1" in out and "not well-formed" in out


def test_good_records_of_a_failing_batch_are_kept(
    config: Path, fixtures_dir: Path, tmp_path: Path
) -> None:
    html = tmp_path / "error.html"
    html.write_text("<html><body>oops</body></html>")
    code, out = _ingest(config, str(html), str(fixtures_dir / "dump_layout_b.txt"))
    assert code == 1
    assert "dump_layout_b.txt (dump): parsed" in out and "(0 new)" not in out


def test_config_error_exits_2_and_names_the_key(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("sources:\n  - {name: a, kind: rss, url: 'https://x/', intervl: 1h}\n")
    result = CliRunner().invoke(cli, ["--config", str(path), "ingest"])
    assert result.exit_code == 2
    assert "sources[0].intervl: unknown key (did you mean 'interval'?)" in result.output


def test_console_script_runs_as_a_subprocess(config: Path, fixtures_dir: Path) -> None:
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "bot",
            "--config",
            str(config),
            "ingest",
            str(fixtures_dir / "dump_layout_a.txt"),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert "dump_layout_a.txt (dump): parsed" in proc.stdout


def test_shared_seeds_give_268_papers(config: Path, shared_dir: Path) -> None:
    seeds = [str(p) for p in sorted((shared_dir / "seeds").glob("*.txt"))]
    code, out = _ingest(config, *seeds)
    assert code == 0 and "archive: 268 papers (268 new)" in out
    code, out = _ingest(config, *seeds)
    assert "archive: 268 papers (0 new)" in out


def test_shared_real_fixtures_parse_every_entry(config: Path, shared_dir: Path) -> None:
    real = shared_dir / "fixtures" / "real"
    files = [str(p) for p in sorted(real.glob("*.json")) + sorted(real.glob("*.xml"))]
    code, out = _ingest(config, *files)
    assert code == 0, out
    assert "archive: 50 papers (50 new)" in out
    assert "rejected 0" in out and "rejected 1" not in out


def test_relative_paths_database_from_the_cwd_and_source_path_from_the_config(
    tmp_path: Path, fixtures_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As docs/configuration.md says: a relative `database:` is resolved from the
    working directory, a relative source `path:` from the configuration file's folder."""
    conf_dir, work = tmp_path / "conf", tmp_path / "work"
    (conf_dir / "dumps").mkdir(parents=True)
    work.mkdir()
    (conf_dir / "dumps" / "a.txt").write_bytes((fixtures_dir / "dump_layout_a.txt").read_bytes())
    config = conf_dir / "paperboy.yaml"
    config.write_text(
        "database: data/p.db\nsources:\n  - {name: local, kind: dump, path: dumps/a.txt}\n"
    )
    monkeypatch.chdir(work)
    code, out = _ingest(config)
    assert code == 0, out
    assert "local (dump): parsed 5" in out
    assert (work / "data" / "p.db").is_file() and not (conf_dir / "data").exists()
