"""The committed weekly example (docs/weekly-example.png and .txt) is what `make
weekly-example` writes: the console weekly path on the synthetic 8-week archive, byte for
byte (charts are deterministic)."""

from __future__ import annotations

from pathlib import Path

from bot.weekly_example import PNG, TEXT, main

DOCS = Path(__file__).resolve().parents[1] / "docs"


def test_the_example_command_writes_the_committed_png_and_text(tmp_path: Path) -> None:
    assert main([str(tmp_path)]) == 0
    png = (tmp_path / PNG).read_bytes()
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    assert png == (DOCS / PNG).read_bytes(), "run `make weekly-example` and commit docs/"
    text = (tmp_path / TEXT).read_text(encoding="utf-8")
    assert text == (DOCS / TEXT).read_text(encoding="utf-8")
    assert text.startswith("This week in #ml-papers: 21 Nov – 27 Nov 2026")
    assert "Trend: mixture of experts:" in text and "\n1. " in text


def test_the_makefile_target_runs_the_example() -> None:
    makefile = (DOCS.parent / "Makefile").read_text(encoding="utf-8")
    assert "weekly-example:" in makefile and "-m bot.weekly_example docs" in makefile
