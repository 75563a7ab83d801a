"""Sniffing, decoding, format detection and dispatch of source content."""

from __future__ import annotations

import codecs
from pathlib import Path

import pytest

from bot.errors import SourceError
from bot.sources.detect import detect_format, parse_any
from bot.sources.sniff import decode_text, sniff, sniff_text


@pytest.mark.parametrize(
    ("content", "kind"),
    [
        (b'[{"paper": {}}]', "json"),
        (b"  \n[]", "json"),
        (b'{"error": "Invalid date"}', "json"),
        (b"<?xml version='1.0'?><rss version='2.0'></rss>", "xml"),
        (b"<rss version='2.0'><channel/></rss>", "xml"),
        (b"<feed xmlns='http://www.w3.org/2005/Atom'/>", "xml"),
        (b"<!-- generated --><rss version='2.0'/>", "xml"),
        (b"<!DOCTYPE html><html><body>503</body></html>", "html"),
        (b"<!doctype HTML>\n<title>Error</title>", "html"),
        (b"<html><head></head></html>", "html"),
        (b"<!-- cached --> <html></html>", "html"),
        (b"<?xml version='1.0'?><html xmlns='http://www.w3.org/1999/xhtml'/>", "html"),
        (b"Qwen2 Technical Report\nAn abstract.", "text"),
        (b"[Re] A Reproducibility Study\nAn abstract.", "text"),
        (codecs.BOM_UTF8 + b"<rss version='2.0'/>", "xml"),
    ],
)
def test_sniff_kinds(content: bytes, kind: str) -> None:
    assert sniff(content) == kind


@pytest.mark.parametrize(
    ("content", "fmt"),
    [
        (b"[]", "hf-daily"),
        (b"<?xml version='1.0'?><feed xmlns='http://www.w3.org/2005/Atom'/>", "rss"),
        (b"new\n\nSubscribe\n\nA Title\n\nAn abstract.", "dump"),
    ],
)
def test_detect_format(content: bytes, fmt: str) -> None:
    assert detect_format(content) == fmt


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "empty"),
        (b" \r\n\t\n", "empty"),
        (codecs.BOM_UTF8, "empty"),
        (b"PK\x03\x04\x00\x00binary zip", "binary"),
        (bytes(range(1, 32)) * 4, "binary"),
        (b"<!DOCTYPE html><html><body>Bad gateway</body></html>", "HTML page"),
    ],
)
def test_detect_format_refuses_what_no_parser_reads(content: bytes, message: str) -> None:
    with pytest.raises(SourceError, match=message):
        detect_format(content)


def test_decode_handles_boms() -> None:
    text = "Título\nResumen."
    assert decode_text(codecs.BOM_UTF8 + text.encode()).text == text
    assert decode_text(text.encode("utf-16")).text == text  # BOM written by the codec
    assert decode_text(codecs.BOM_UTF16_BE + text.encode("utf-16-be")).text == text


def test_decode_repairs_a_few_bad_bytes_and_says_so() -> None:
    decoded = decode_text("A café title\n".encode() * 50 + b"\xff broken\n")
    assert "\ufffd broken" in decoded.text
    assert "café" in decoded.text
    assert any("U+FFFD" in note for note in decoded.notes)


def test_decode_falls_back_to_windows_1252() -> None:
    decoded = decode_text("Café “quoted” naïve résumé, déjà vu".encode("cp1252"))
    assert decoded.text == "Café “quoted” naïve résumé, déjà vu"
    assert any("Windows-1252" in note for note in decoded.notes)


def test_sniff_text_looks_past_leading_whitespace_and_bom() -> None:
    assert sniff_text("\ufeff \n <rss/>") == "xml"


def test_messages_name_the_source() -> None:
    with pytest.raises(SourceError, match=r"^daily-dump: the content is empty$"):
        parse_any(b"", source="daily-dump", kind="dump")


def test_parse_any_dispatches_by_content(fixtures_dir: Path) -> None:
    formats = {
        "dump_layout_a.txt": "dump",
        "hf_daily_small.json": "hf-daily",
        "arxiv_rss_small.xml": "rss",
        "arxiv_atom_small.xml": "rss",
        "generic_rss.xml": "rss",
    }
    for name, fmt in formats.items():
        result = parse_any((fixtures_dir / name).read_bytes(), source=name)
        assert result.format == fmt, name
        assert result.papers, name


def test_configured_kind_overrides_detection(fixtures_dir: Path) -> None:
    content = (fixtures_dir / "hf_daily_small.json").read_bytes()
    with pytest.raises(SourceError, match="looks like JSON, not a text dump"):
        parse_any(content, source="s", kind="dump")
    with pytest.raises(SourceError, match="looks like JSON, not an RSS/Atom feed"):
        parse_any(content, source="s", kind="rss")


@pytest.mark.parametrize("kind", [None, "dump", "rss", "hf-daily"])
@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "empty"),
        (b"\x00\x01\x02\x03binary", "binary"),
        (b"<!DOCTYPE html>\n<html><head><title>404</title></head></html>", "HTML page"),
    ],
)
def test_clear_errors_whatever_the_configured_kind(
    kind: str | None, content: bytes, message: str
) -> None:
    with pytest.raises(SourceError, match=message):
        parse_any(content, source="s", kind=kind)


def test_unknown_kind_is_refused() -> None:
    with pytest.raises(SourceError, match="unknown source format 'csv'"):
        parse_any(b"a,b\n", source="s", kind="csv")
