"""Domain values shared by every layer: papers, their identity, and parse results."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from typing import Literal, get_args
from urllib.parse import unquote_plus, urlsplit

from bot.pipeline.tex import tex_to_text

# New-style ids (0704.0001 onwards: YYMM.NNNN or YYMM.NNNNN) and old-style (hep-th/9901001).
_ARXIV_NEW = r"\d{4}\.\d{4,5}"
_ARXIV_OLD = r"[a-z][a-z\-]+(?:\.[A-Z]{2})?/\d{7}"
ARXIV_ID_RE = re.compile(rf"(?<![\w.])(?P<id>{_ARXIV_NEW}|{_ARXIV_OLD})(?:v(?P<v>\d+))?(?![\w])")
_PUNCT_OR_SPACE = re.compile(r"[\W_]+", re.UNICODE)
# A parameter name ending (at its end or before `-_. `) with one of these words is a secret.
_SECRET_NAME = re.compile(
    r"(?:token|key|secret|sig|signature|password|passwd|pwd|credentials?|auth)(?:$|[-_.\s])",
    re.IGNORECASE,
)


def collapse_ws(text: str) -> str:
    """Collapse every run of whitespace (including hard wraps) to one space and strip.
    (`str.split` splits where the regex `\\s+` matches, and 4x faster: every character
    `\\s` matches is one `str.isspace` accepts, and only those; tests/test_collapse_ws.py.)"""
    return " ".join(text.split())


def normalize_title(title: str) -> str:
    """The title-based identity of a paper: TeX read as text (`$\\pi$-Tuning` is
    `π-Tuning`, `bot.pipeline.tex.tex_to_text`), NFKC, case-folded, punctuation and spaces
    collapsed. A title that reads as symbols only (`\\approx` is `≈`) keeps the identity of
    its letters as typed (`approx`).

    Only punctuation and whitespace are removed; digits and letters all count, so
    `Qwen2` and `Qwen2.5` (-> `qwen2 5`) stay different papers.
    """
    # Read until nothing changes (bounded): a title shown as read once (`\$5$x` -> `$5$x`)
    # keeps the identity of the title as typed.
    text = title
    for _ in range(4):
        read = tex_to_text(text)
        if read == text:
            break
        text = read
    return _letters(text) or _letters(title)


def _letters(text: str) -> str:
    return _PUNCT_OR_SPACE.sub(" ", unicodedata.normalize("NFKC", text).casefold()).strip()


def parse_arxiv_id(text: str) -> str | None:
    """The versionless arXiv id found in `text` (a bare id, URL, `arXiv:` form or OAI guid).

    >>> parse_arxiv_id("oai:arXiv.org:2406.01234v2")
    '2406.01234'
    """
    match = ARXIV_ID_RE.search(text)
    return match.group("id") if match else None


def paper_key(arxiv_id: str | None, title: str) -> str:
    """A paper's key: its versionless arXiv id when known, else its normalized title."""
    return arxiv_id if arxiv_id else normalize_title(title)


@dataclass(frozen=True, slots=True)
class Paper:
    """One paper as a source saw it, or as the archive holds it after merging sources.

    Invariants: `title` is whitespace-collapsed and non-empty; `arxiv_id` has no version;
    `key == paper_key(arxiv_id, title)`. Datetimes are timezone-aware (UTC).
    """

    title: str
    abstract: str = ""
    arxiv_id: str | None = None
    authors: tuple[str, ...] = ()
    published: datetime | None = None
    daily_date: date | None = None
    upvotes: int | None = None
    ai_summary: str | None = None
    ai_keywords: tuple[str, ...] = ()
    github_repo: str | None = None
    project_page: str | None = None
    categories: tuple[str, ...] = ()
    announce_type: str | None = None
    sources: tuple[str, ...] = ()
    first_seen: datetime | None = None

    @property
    def key(self) -> str:
        return paper_key(self.arxiv_id, self.title)

    @property
    def title_norm(self) -> str:
        return normalize_title(self.title)

    @property
    def links(self) -> dict[str, str]:
        """Known links by kind, in display order: arxiv, pdf, hf, code, project."""
        out: dict[str, str] = {}
        if self.arxiv_id:
            out["arxiv"] = f"https://arxiv.org/abs/{self.arxiv_id}"
            out["pdf"] = f"https://arxiv.org/pdf/{self.arxiv_id}"
            out["hf"] = f"https://huggingface.co/papers/{self.arxiv_id}"
        if self.github_repo:
            out["code"] = self.github_repo
        if self.project_page:
            out["project"] = self.project_page
        return out


def read_tex(paper: Paper) -> Paper:
    """`paper` with TeX in its title, abstract and authors read as text (`tex_to_text`;
    a title that reads as nothing stays as typed). Every source's papers pass it."""
    title = _read(paper.title)
    if not _letters(title):  # symbols only (`\\approx` -> `≈`): shown as typed, as keyed
        title = paper.title
    abstract = _read(paper.abstract)
    authors = tuple(a for a in map(_read, paper.authors) if a)
    if (title, abstract, authors) == (paper.title, paper.abstract, paper.authors):
        return paper
    return replace(paper, title=title, abstract=abstract, authors=authors)


def _read(text: str) -> str:
    read = tex_to_text(text)
    return text if read == text else collapse_ws(read)  # texts come whitespace-collapsed


@dataclass(frozen=True, slots=True)
class Rejected:
    """A record a parser could not use: where it was (1-based line, or entry index) and why."""

    location: str
    reason: str


@dataclass(frozen=True, slots=True)
class ParseResult:
    """What a parser made of one document: the good papers and the rejected records."""

    format: str
    papers: tuple[Paper, ...] = ()
    rejected: tuple[Rejected, ...] = ()
    notes: tuple[str, ...] = field(default=())


Platform = Literal["slack", "discord", "slack-webhook", "discord-webhook", "console"]
PLATFORMS: tuple[str, ...] = get_args(Platform)


PERSON_PREFIX = "user:"  # the ref of a person's own profile: user:slack:U123


@dataclass(frozen=True, slots=True)
class Profile:
    """A channel's interest profile: what it follows and how its digest is posted.

    `platform` is one of PLATFORMS (slack, discord, slack-webhook, discord-webhook, console);
    `channel_id` is the platform's channel id (as configured). `max_posts == 0` means no cap.
    `schedule` is a 5-field cron expression evaluated in `timezone` (IANA name); `weekly`,
    when set, the 5-field cron expression of its weekly digest (with its trend chart), in
    the same zone.

    `person` (issue 19): the profile is one person's own, delivered by direct message;
    `channel_id` is then the platform's user id, and `home` the ref of the channel they
    manage it from (where they are told, once, when they cannot be messaged).
    `include_channel_posts`: a person also gets by DM the papers their home channel
    already posted that day (left out by default).
    """

    platform: str
    channel_id: str
    name: str | None = None
    topics: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    authors: tuple[str, ...] = ()
    max_posts: int = 10
    schedule: str = "0 9 * * mon-fri"
    timezone: str = "UTC"
    lookback: timedelta = timedelta(days=1)
    post_empty: bool = False
    weekly: str | None = None
    person: bool = False
    home: str | None = None
    include_channel_posts: bool = False

    @property
    def ref(self) -> str:
        """`platform:channel_id`, the channel's unique name in logs, commands and the posted
        ledger; a person's profile is `user:platform:user_id`."""
        if self.person:
            return f"{PERSON_PREFIX}{self.platform}:{self.channel_id}"
        return f"{self.platform}:{self.channel_id}"


def redact_url(url: str) -> str:
    """`url` safe to log or show: userinfo dropped, values of secret-looking parameters hidden.

    A query (or fragment) parameter is secret when a word of its name ends in token, key,
    secret, sig, signature, password, credential or auth (`api_key`, `accessToken`,
    `X-Amz-Signature`); over-redacting is the safe side. Never raises: an unparseable URL
    becomes `<unparseable URL>`.
    """
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparseable URL>"
    return parts._replace(
        netloc=parts.netloc.rpartition("@")[2],
        query=_redact_params(parts.query),
        fragment=_redact_params(parts.fragment),
    ).geturl()


def _redact_params(text: str) -> str:
    if "=" not in text:
        return text
    out = []
    for pair in text.split("&"):
        name, eq, _ = pair.partition("=")
        secret = eq and _SECRET_NAME.search(unquote_plus(name))
        out.append(f"{name}=REDACTED" if secret else pair)
    return "&".join(out)


@dataclass(frozen=True, slots=True)
class Validators:
    """Conditional-GET validators (ETag, Last-Modified) remembered per source location
    between fetches: the sources send and return them, the store records them."""

    etag: str | None = None
    last_modified: str | None = None


_SEARCH_TERM = re.compile(r"[^\W_]+(?: [^\W_]+)*")


@dataclass(frozen=True, slots=True)
class SearchQuery:
    """What a full-text search of the archive looks for: the papers with any of `terms` in
    their title, abstract or authors. Each backend translates it into its own query language
    (SQLite FTS5: bot/store/fts5.py; PostgreSQL tsquery: bot/store/pg_search.py); no backend
    ever parses user text as its query syntax.

    A term is one or more words of letters and digits joined by single spaces, matched as a
    phrase (its words consecutive and in order, stemmed by the backend). `topic` holds the
    query's full phrasings, terms too: a paper with one of them in its title is squarely on
    the topic (the search of the newest papers first counts those). Raises ValueError for
    any other term (`C++`, `"moe"`, `moe*`, an empty one) or for no terms at all.
    """

    terms: tuple[str, ...]
    topic: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not self.terms:
            raise ValueError("a search query needs at least one term")
        for term in (*self.terms, *self.topic):
            if not isinstance(term, str) or not _SEARCH_TERM.fullmatch(term):
                raise ValueError(
                    f"not a search term: {term!r} (expected words of letters and digits "
                    "joined by single spaces)"
                )


@dataclass(frozen=True, slots=True)
class DigestItem:
    """One paper in a digest: why it is there (score, matched topics) and its summary.
    `unsure`: not selected but asked about ("Unsure — is this for you?", after the
    digest's papers, see bot.pipeline.match.asked); posted and recorded like the others."""

    paper: Paper
    score: float
    topics: tuple[str, ...]
    summary: str
    unsure: bool = False


@dataclass(frozen=True, slots=True)
class Digest:
    """What one channel gets in one cycle, ranked. `more` counts matched papers left out by
    the channel's cap; `day` is the digest's local date (for the header)."""

    channel_ref: str
    channel_name: str
    day: date
    items: tuple[DigestItem, ...]
    more: int = 0
    topics: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Attachment:
    """A file sent with a message (issue 19: the weekly trend chart). `content` is the
    file's bytes, `media_type` its MIME type, `alt` a description in words for those who
    cannot see it (Slack alt_text, Discord description, the console's text)."""

    filename: str
    content: bytes
    media_type: str = "image/png"
    alt: str = ""


@dataclass(frozen=True, slots=True)
class Message:
    """One platform message of a rendered digest and the papers it carries.

    `payload` is the platform's JSON body (Slack: text/blocks; Discord: content/embeds;
    text: {"text": ...}). A paper is recorded as posted only when the message carrying it
    was confirmed, so each paper is carried by exactly one message. `files` are uploaded
    with the message and shown in it, as each platform allows (bot.delivery).
    """

    payload: dict[str, object]
    keys: tuple[str, ...] = ()
    files: tuple[Attachment, ...] = ()


Vote = Literal[1, -1]
"""+1 "More like this" (👍, `/papers more`), -1 "Not for us" (👎, `/papers less`)."""


@dataclass(frozen=True, slots=True)
class Feedback:
    """One person's verdict on one paper for one channel (issue 16): the latest vote of a
    user on a paper in a channel replaces the earlier one. `via` says where it came from:
    "button", "reaction", "command" (`/papers more|less`) or "cli" (`paperboy feedback`,
    whose `user` is "cli")."""

    channel_ref: str  # Profile.ref: "platform:channel_id"
    user: str
    paper_key: str  # Paper.key
    vote: Vote
    at: datetime
    via: str = "command"
