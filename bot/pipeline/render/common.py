"""What every digest renderer shares: cleaning and cutting text, authors, links, header lines."""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Callable, Sequence
from datetime import date
from urllib.parse import urlsplit

from bot.models import PERSON_PREFIX, Digest, DigestItem, Paper

WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
ELLIPSIS = "…"
LINK_LABELS = {"arxiv": "arXiv", "pdf": "PDF", "hf": "HF", "code": "code", "project": "project"}
# The link a paper's title points to, in order of preference.
PRIMARY_LINKS = ("arxiv", "hf", "code")
AUTHORS_SHOWN = 3
# Policy caps (not platform limits): long untrusted values are cut or dropped.
MAX_URL = 500
MAX_CHANNEL_NAME = 80
MAX_TOPIC = 100

# Feedback buttons ("More like this" / "Not for us") name their paper by its key; a key
# longer than a platform's room (Slack value 2000, Discord custom_id 100) is named by
# FEEDBACK_HASH and a stable digest of it, resolved against the papers of the clicked message.
FEEDBACK_HASH = "#"
FEEDBACK_DIGEST = 16  # hex characters of sha256: 64 bits, unique among a message's papers
# A key shown as it is in a button: what arXiv ids and normalized titles are made of. Any
# other key (a `#`, markup such as `<@`) travels as its digest.
_PLAIN_KEY = re.compile(r"[\w ./-]+")
MORE_LABEL = "More like this"
LESS_LABEL = "Not for us"
# The section of the papers a digest asks about (`DigestItem.unsure`), after its papers.
UNSURE_HEADING = "Unsure — is this for you?"

_SPACE = re.compile(r"\s+")
# Characters a URL from untrusted data must not contain: they end or split a link in
# Slack (`<url|text>`) or Markdown, or smuggle attributes (quotes, backtick, backslash).
_URL_BAD = re.compile(r"[\s<>|\"'`\\]")
# Bidirectional overrides and isolates: they reorder how text displays (spoofing).
_BIDI = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def _visible(ch: str) -> bool:
    if ch in _BIDI:
        return False
    return unicodedata.category(ch) not in {"Cc", "Cs"} or ch in "\t\n\r"


class _Invisible(dict[int, int | None]):
    """A str.translate table deleting what `_visible` rejects, filled in as characters are
    met."""

    def __missing__(self, code: int) -> int | None:
        kept = code if _visible(chr(code)) else None
        self[code] = kept
        return kept


_INVISIBLE = _Invisible()


def strip_controls(text: str) -> str:
    """`text` without control characters (tabs and newlines stay), lone surrogates and
    bidirectional overrides."""
    if text.isascii() and text.isprintable():
        return text  # nothing to strip (the common case)
    return text.translate(_INVISIBLE)


def clean(text: str) -> str:
    """One line of untrusted text: controls stripped, every whitespace run one space."""
    return _SPACE.sub(" ", strip_controls(text)).strip()


def cut(text: str, limit: int) -> str:
    """`text` when it has at most `limit` characters, else its longest prefix ending at a
    word boundary plus "…", `limit` characters at most. A first word longer than the limit
    is cut hard (with "…"): never mid-word otherwise. `limit <= 0` gives ""."""
    if len(text) <= limit:
        return text
    if limit <= 0:
        return ""
    budget = limit - len(ELLIPSIS)
    head = text[:budget]
    if not text[budget].isspace():
        boundary = max(head.rfind(" "), head.rfind("\n"), head.rfind("\t"))
        if boundary > 0:
            head = head[:boundary]
    head = head.rstrip().rstrip(",;:-–—")
    return head.rstrip() + ELLIPSIS


def fit(text: str, limit: int, escape: Callable[[str], str]) -> str:
    """`escape(cut(text, n))` for the largest `n` found whose result has at most `limit`
    characters: cutting happens before escaping, so no escape sequence is ever split."""
    n = limit
    while True:
        out = escape(cut(text, n))
        if len(out) <= limit:
            return out
        n = min(n - 1, n * limit // len(out))  # shrink in proportion to the expansion


def safe_url(url: str) -> str | None:
    """`url` when it is a plain absolute http(s) URL safe to embed in markup, else None.

    Links come from untrusted API data: anything with whitespace, control or non-ASCII
    characters, angle brackets, pipes, quotes or backslashes, or longer than MAX_URL, is
    dropped rather than repaired."""
    if not url or len(url) > MAX_URL or not url.isascii() or _URL_BAD.search(url):
        return None
    if not url.isprintable():
        return None
    try:
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError:
        return None
    if parts.scheme.lower() not in {"http", "https"} or not host:
        return None
    return url


def links(paper: Paper) -> list[tuple[str, str]]:
    """The paper's safe links as (label, url), in display order: arXiv, PDF, HF, code, project."""
    out: list[tuple[str, str]] = []
    for kind, url in paper.links.items():
        good = safe_url(url)
        if good is not None:
            out.append((LINK_LABELS.get(kind, kind), good))
    return out


def primary_url(paper: Paper) -> str | None:
    """The URL the paper's title links to: arXiv abstract, else HF page, else code; or None."""
    known = paper.links
    for kind in PRIMARY_LINKS:
        good = safe_url(known.get(kind, ""))
        if good is not None:
            return good
    return None


def authors_line(authors: Sequence[str]) -> str:
    """The first three authors, comma-separated, then "et al." when there are more."""
    names = [name for name in (clean(a) for a in authors) if name]
    line = ", ".join(names[:AUTHORS_SHOWN])
    return f"{line} et al." if len(names) > AUTHORS_SHOWN else line


def topics_line(topics: Sequence[str]) -> str:
    """Matched topics, comma-separated, each cut to MAX_TOPIC characters."""
    return ", ".join(t for t in (cut(clean(t), MAX_TOPIC) for t in topics) if t)


def format_day(day: date) -> str:
    """`Mon 22 Nov`: weekday, day of month without padding, month (no locale, no strftime)."""
    return f"{WEEKDAYS[day.weekday()]} {day.day} {MONTHS[day.month - 1]}"


def channel_label(digest: Digest) -> str:
    """The channel's display name without a leading '#', cut to MAX_CHANNEL_NAME."""
    return cut(clean(digest.channel_name).lstrip("#").strip(), MAX_CHANNEL_NAME)


def sections(digest: Digest) -> tuple[tuple[DigestItem, ...], tuple[DigestItem, ...]]:
    """The digest's papers and, apart, the papers it asks about (`DigestItem.unsure`), each
    in the digest's order."""
    items = digest.items
    return tuple(i for i in items if not i.unsure), tuple(i for i in items if i.unsure)


def header_text(digest: Digest) -> str:
    """`3 new papers for #ml — Mon 22 Nov` (singular for one paper; the papers asked about
    are not counted), unescaped."""
    n = sum(1 for i in digest.items if not i.unsure)
    noun = "paper" if n == 1 else "papers"
    return f"{n} new {noun} for {_reader(digest)} — {format_day(digest.day)}"


def empty_text(digest: Digest) -> str:
    """The line an empty digest renders as (posted only when a channel sets post_empty)."""
    return f"No new papers for {_reader(digest)} today."


def _reader(digest: Digest) -> str:
    """`#ml` for a channel, `you` for a person's own alerts (a DM: `user:…` ref)."""
    return "you" if digest.channel_ref.startswith(PERSON_PREFIX) else f"#{channel_label(digest)}"


def continued_text(index: int, total: int) -> str:
    """The line a continuation message opens with: `(continued, 2/3)` (1-based index)."""
    return f"(continued, {index}/{total})"


def more_text(digest: Digest) -> str | None:
    """`and 7 more — /papers moe` when the channel's cap left papers out, else None."""
    if digest.more <= 0:
        return None
    topic = cut(clean(digest.topics[0]), MAX_TOPIC) if digest.topics else ""
    return f"and {digest.more} more — /papers {topic}" if topic else f"and {digest.more} more"


def feedback_ref(key: str, room: int) -> str:
    """How a feedback button names the paper `key`: the key itself when it is plain
    (`_PLAIN_KEY`: no `#`, no markup) and has at most `room` characters, else `#` and the
    first FEEDBACK_DIGEST hex digits of its sha256."""
    if key and len(key) <= room and _PLAIN_KEY.fullmatch(key):
        return key
    return FEEDBACK_HASH + hashlib.sha256(key.encode()).hexdigest()[:FEEDBACK_DIGEST]


def feedback_key(ref: str, keys: Sequence[str]) -> str | None:
    """The key among `keys` (the papers a message carries) that a button's `ref` names,
    or None. A plain key must be one of `keys`; a `#digest` the one whose digest it is."""
    if not ref.startswith(FEEDBACK_HASH):
        return ref if ref in keys else None
    for key in keys:
        if feedback_ref(key, 0) == ref:
            return key
    return None
