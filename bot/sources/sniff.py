"""What raw source content looks like: decoding, sniffing, and the shared error messages."""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass

from bot.errors import SourceError

# Kinds of content `sniff` reports, and how error messages name them.
_LOOKS_LIKE = {
    "html": "an HTML page",
    "json": "JSON",
    "xml": "XML",
    "text": "plain text",
}
_UTF32_BOMS = (codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE)
_UTF16_BOMS = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)
# Control characters that never occur in text (tab, newlines, form feed and ESC excepted).
_CONTROL = re.compile(r"[\x00-\x08\x0e-\x1a\x1c-\x1f\x7f]")
_BINARY_CONTROL_SHARE = 0.05
_SNIFF_SPAN = 4096
_LEADING_COMMENT = re.compile(r"\s*<!--.*?-->", re.DOTALL)
_HTML_TAGS = frozenset(
    {"html", "head", "body", "div", "p", "meta", "script", "style", "title", "link", "table"}
    | {"span", "a", "iframe", "noscript", "form", "header", "nav", "main", "section"}
)
_FEED_ROOTS = ("<rss", "<feed", "<rdf:rdf", "<rdf", "<channel")
_JSON_START = re.compile(r"""(?:\[\s*(?:[\[{"\]\-\d]|true|false|null)|\{\s*["}])""")


@dataclass(frozen=True, slots=True)
class Decoded:
    """Content decoded to text, with notes on any repair made while decoding."""

    text: str
    notes: tuple[str, ...] = ()
    bomless: str | None = None  # "utf-16-le"… when read as UTF-16/32 without a BOM


def with_source(source: str, text: str) -> str:
    return f"{source}: {text}" if source else text


def empty_error(*, source: str = "") -> SourceError:
    return SourceError(with_source(source, "the content is empty"))


def binary_error(*, source: str = "") -> SourceError:
    return SourceError(
        with_source(source, "the content is binary (NUL bytes or undecodable), not text")
    )


def not_format(kind: str, expected: str, *, source: str = "") -> SourceError:
    """The error for content of `kind` (a `sniff` result) handed to a parser of `expected`."""
    looks = _LOOKS_LIKE.get(kind, kind)
    return SourceError(with_source(source, f"looks like {looks}, not {expected}"))


def decode_text(content: bytes, *, source: str = "") -> Decoded:
    """Decode bytes to text: BOM (UTF-8/16/32) first, else UTF-16/32 recognised by where
    its NUL bytes fall (text without a BOM, which feed readers accept), else UTF-8, else a
    repair.

    A few invalid UTF-8 bytes are replaced by U+FFFD; content that is not UTF-8 at all is
    read as Windows-1252 (Latin-1 for its undefined bytes). Raises `SourceError` when the
    content is empty or whitespace, or binary (NUL bytes or many control characters).
    """
    notes: list[str] = []
    bomless = None
    if content.startswith(_UTF32_BOMS) or content.startswith(_UTF16_BOMS):
        codec = "utf-32" if content.startswith(_UTF32_BOMS) else "utf-16"
        try:
            text = content.decode(codec)
        except UnicodeDecodeError as e:
            raise binary_error(source=source) from e
    elif b"\x00" in content:
        bomless = _bomless_codec(content)
        if bomless is None:
            raise binary_error(source=source)
        try:
            text = content.decode(bomless)
        except UnicodeDecodeError as e:
            raise binary_error(source=source) from e
        notes.append(f"no byte-order mark: read as {bomless.upper()}")
    else:
        raw = content.removeprefix(codecs.BOM_UTF8)
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            text, note = _repair(raw)
            notes.append(note)
    text = text.removeprefix("\ufeff")
    if not text.strip():
        raise empty_error(source=source)
    head = text[:_SNIFF_SPAN]
    if len(_CONTROL.findall(head)) > _BINARY_CONTROL_SHARE * len(head):
        raise binary_error(source=source)
    return Decoded(text, tuple(notes), bomless)


def _bomless_codec(content: bytes) -> str | None:
    """The UTF-16/32 byte order of text without a byte-order mark, from where the NUL bytes
    of its first (ASCII) character fall (XML 1.0 appendix F, RFC 4627 section 3); None
    when they fall nowhere a UTF-16/32 text puts them."""
    nul: tuple[bool, ...] = tuple(byte == 0 for byte in content[:4])
    codecs_by_nul: dict[tuple[bool, ...], str] = {
        (True, True, True, False): "utf-32-be",
        (False, True, True, True): "utf-32-le",
        (True, False, True, False): "utf-16-be",
        (False, True, False, True): "utf-16-le",
    }
    return codecs_by_nul.get(nul)


def _repair(raw: bytes) -> tuple[str, str]:
    replaced = raw.decode("utf-8", errors="replace")
    bad = replaced.count("\ufffd") - raw.count("\ufffd".encode())
    if bad <= max(3, len(raw) // 1000):
        return replaced, f"{bad} invalid UTF-8 byte sequence(s) replaced by U+FFFD"
    try:
        return raw.decode("cp1252"), "not UTF-8: decoded as Windows-1252"
    except UnicodeDecodeError:
        return raw.decode("latin-1"), "not UTF-8: decoded as Latin-1"


def sniff_text(text: str) -> str:
    """What decoded text looks like from its start: "html", "json", "xml" or "text"."""
    head = text[:_SNIFF_SPAN].lstrip("\ufeff \t\r\n")
    commented = head.startswith("<!--")
    while head.startswith("<!--"):
        match = _LEADING_COMMENT.match(head)
        head = head[match.end() :].lstrip() if match else ""
    if commented and not head:  # nothing but XML comments (or one cut off)
        return "xml"
    lower = head.lower()
    if _JSON_START.match(head):
        return "json"
    if lower.startswith("<!doctype"):
        return "html" if lower.startswith("<!doctype html") else "xml"
    if lower.startswith("<?xml"):
        is_html = "<html" in lower and not any(root in lower for root in _FEED_ROOTS)
        return "html" if is_html else "xml"
    if lower.startswith(_FEED_ROOTS):
        return "xml"
    tag = re.match(r"<([a-z][a-z0-9]*)", lower)
    if tag:
        return "html" if tag.group(1) in _HTML_TAGS else "xml"
    return "text"


def sniff(content: bytes, *, source: str = "") -> str:
    """What `content` looks like: "html", "json", "xml" or "text".

    Raises `SourceError` for empty or binary content (see `decode_text`).
    """
    return sniff_text(decode_text(content, source=source).text)
