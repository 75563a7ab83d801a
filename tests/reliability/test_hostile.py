"""Hostile input, property-tested: whatever bytes, YAML, command text, query or paper text
arrives, only the documented error escapes, and every rendered payload is one Slack and
Discord would accept (checked by the fakes' validators) and pings nobody.

Contracts under test:
- `parse_any` (dumps, HF JSON, RSS/Atom): SourceError or papers with the Paper invariants;
- `validate` / `load_settings`: Settings or ConfigError (never the value of a secret);
- `parse_command`: a Command or UsageError;
- `Search.search`: hits from the archive, never an exception, never a write;
- digest renderers and /papers reply renderers: within Block Kit / Discord limits, escaped.
"""

from __future__ import annotations

import asyncio
import json
import math
import re
import time
import unicodedata
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.app import App, build_app
from bot.errors import ConfigError, SourceError
from bot.models import Digest, DigestItem, Message, Paper, ParseResult, collapse_ws
from bot.pipeline.render import discord_embeds as dc
from bot.pipeline.render import slack as sl
from bot.pipeline.render.common import links
from bot.pipeline.render.discord_embeds import render_discord
from bot.pipeline.render.slack import render_slack
from bot.pipeline.render.text import render_text
from bot.search import Search
from bot.settings import MAX_DEPTH, CommandSettings, Settings, load_settings, validate
from bot.sources.detect import parse_any
from fakes.discord_limits import DiscordLimits, shared_embed_urls
from fakes.slack_blocks import BlockKit
from handlers.commands import dispatch
from handlers.parse import MAX_LIMIT, SUBCOMMANDS, Command, UsageError, parse_command
from handlers.render import discord_reply, slack_reply
from handlers.reply import CommandRequest, PaperLine, Reply

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures"
REAL = ROOT.parent / "shared" / "fixtures" / "real"
SEEDS = ROOT.parent / "shared" / "seeds"
SAMPLE = ROOT / "bot" / "data" / "sample-dump.txt"
NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
HEALTH = [HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example]


def budget(n: int) -> Any:
    """Hypothesis settings: `n` examples, no deadline (CI machines vary)."""
    return settings(max_examples=n, deadline=None, suppress_health_check=HEALTH)


# What was checked, for the report printed at the end of the module (`pytest -s`).
CHECKED: Counter[str] = Counter()


@pytest.fixture(scope="module", autouse=True)
def _report() -> Iterator[None]:
    start = time.monotonic()
    yield
    parts = ", ".join(f"{k}={v}" for k, v in sorted(CHECKED.items()))
    print(f"\n[hostile] {parts} in {time.monotonic() - start:.1f}s")


# --- hostile text ---------------------------------------------------------------------------

TOKENS = [
    # Slack mentions, links and mrkdwn
    "<!channel>",
    "<!here>",
    "<!everyone>",
    "<!subteam^S0123|@team>",
    "<!date^1392734382^{date}|x>",
    "<@U0123ABCD>",
    "<#C0123ABCD|general>",
    "<https://evil.example|click me>",
    "<mailto:a@evil.example|mail>",
    "*",
    "_",
    "~",
    "`",
    "```",
    "|",
    ">",
    "<",
    "&",
    "&amp;",
    "&lt;!channel&gt;",
    # Discord mentions, markdown, timestamps
    "@everyone",
    "@here",
    "<@123456789012345678>",
    "<@!123456789012345678>",
    "<@&123456789012345678>",
    "<#123456789012345678>",
    "<t:1700000000:R>",
    "</papers search:1600000000000000001>",
    "[click](https://evil.example)",
    "](javascript:alert(1))",
    "||spoiler||",
    "-# small",
    "# heading",
    "\\",
    # Unicode that bites: controls, bidi, zero width, surrogates, combining marks, wide
    "\x00",
    "\x1b[31m",
    "\r\n",
    "\t",
    "\u202e",
    "\u2066",
    "\u200b",
    "\ufeff",
    "\ud800",
    "\udfff",
    "e\u0301\u0301\u0301\u0301",
    "ﷺ",
    "𒐫",
    "🧪🚀",
    "混合专家",
    "مزيج",
    "ＭｏＥ",
    # long runs
    "x" * 300,
    "&" * 400,
    "<" * 200,
]
token = st.sampled_from(TOKENS)
long_text = st.builds(  # past every platform limit (4096 is the largest), cheaply
    lambda s, n: (s * n)[:6000], st.text(min_size=1, max_size=12) | token, st.integers(20, 600)
)
hostile = st.one_of(
    st.text(max_size=200),
    st.lists(token | st.text(max_size=6), max_size=40).map("".join),
    st.lists(token, max_size=30).map(" ".join),
    long_text,
)
hostile_urls = st.one_of(
    st.none(),
    st.text(max_size=40),
    st.sampled_from(
        [
            "https://github.com/org/repo",
            "https://x.io/?a=1&b=<2>",
            "https://x.io/a|b",
            "https://x.io/<!channel>",
            "https://x.io/a)b(c",
            "https://x.io/\u202e",
            "https://例え.jp/",
            "javascript:alert(1)",
            "file:///etc/passwd",
            "http://169.254.169.254/latest/meta-data/",
            "https://evil.example/" + "a" * 600,
            " https://x.io/lead-space",
            "https://x.io/\n",
        ]
    ),
)
arxiv_ids = st.one_of(
    st.none(),
    st.just("2406.01234"),
    st.from_regex(r"[0-9]{4}\.[0-9]{4,5}", fullmatch=True),
    st.text(max_size=16),
)
moments = st.one_of(st.none(), st.datetimes(timezones=st.just(UTC)))


@st.composite
def papers(draw: st.DrawFn) -> Paper:
    return Paper(
        title=draw(hostile),
        abstract=draw(hostile),
        arxiv_id=draw(arxiv_ids),
        authors=tuple(draw(st.lists(hostile, max_size=6))),
        published=draw(moments),
        daily_date=draw(st.one_of(st.none(), st.dates())),
        upvotes=draw(st.one_of(st.none(), st.integers(-(10**15), 10**15))),
        ai_summary=draw(st.one_of(st.none(), hostile)),
        github_repo=draw(hostile_urls),
        project_page=draw(hostile_urls),
        first_seen=draw(moments),
    )


# --- checks: what Slack and Discord would accept, and that nothing pings ---------------------

SLACK_LINK = re.compile(r"<(https?://[^|<>\s]+)\|([^<>|]*)>")
MASKED = re.compile(r"\[([^\]]*)\]\(([^)\s]*)\)")
DISCORD_RAW = ("@everyone", "@here", "<@", "<#", "<!", "<t:", "</", "<http", "<mailto")


def strings(value: object) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for v in value.values():
            yield from strings(v)
    elif isinstance(value, list | tuple):
        for v in value:
            yield from strings(v)


def encodable(value: object) -> None:
    """Every string can be sent: UTF-8 encodable (no lone surrogates) and JSON-serialisable."""
    for s in strings(value):
        s.encode("utf-8")
    json.dumps(value, ensure_ascii=False).encode("utf-8")


def slack_urls(paper_list: list[Paper]) -> set[str]:
    """The URLs a Slack message may link: each paper's safe links, escaped."""
    return {sl.escape(u) for p in paper_list for _, u in links(p)}


def check_slack_string(text: str, allowed: set[str]) -> None:
    """Only our `<url|label>` links to the papers' safe URLs; no other `<` or `>` (so no
    `<!channel>`, `<@U…>`, `<#C…>`, `<url|text>` from paper text); `&` only in entities."""
    for m in SLACK_LINK.finditer(text):
        assert m.group(1) in allowed, m.group(0)
    rest = SLACK_LINK.sub("", text)
    assert "<" not in rest and ">" not in rest, rest[:300]
    assert re.search(r"&(?!amp;|lt;|gt;)", text) is None, text[:300]


def check_slack(payload: dict[str, Any], allowed: set[str], *, digest: bool) -> None:
    CHECKED["slack payloads"] += 1
    text, blocks = payload["text"], payload["blocks"]
    assert BlockKit.check_message(text=text, blocks=blocks) is None, BlockKit.check_message(
        text=text, blocks=blocks
    )
    assert isinstance(text, str) and text.strip() and len(text) <= sl.MAX_FALLBACK
    check_slack_string(text, set())
    assert 1 <= len(blocks) <= sl.MAX_BLOCKS
    total = 0
    for block in blocks:
        kind = block["type"]
        if kind == "header":
            body = block["text"]["text"]
            assert block["text"]["type"] == "plain_text" and 1 <= len(body) <= sl.MAX_HEADER
            check_slack_string(body, set())
            total += len(body)
        elif kind == "section":
            body = block["text"]["text"]
            assert 1 <= len(body) <= sl.MAX_SECTION_TEXT
            check_slack_string(body, allowed)
            total += len(body)
        elif kind == "context":
            assert 1 <= len(block["elements"]) <= sl.MAX_CONTEXT_ELEMENTS
            for element in block["elements"]:
                assert 1 <= len(element["text"]) <= sl.MAX_TEXT_OBJECT
                check_slack_string(element["text"], allowed)
                total += len(element["text"])
        else:
            assert kind == "divider", kind
    assert total <= sl.MAX_MESSAGE_TEXT, total
    assert "link_names" not in payload and "parse" not in payload
    if digest:
        assert payload["unfurl_links"] is False and payload["unfurl_media"] is False
    encodable(payload)


def check_discord(payload: dict[str, Any], paper_list: list[Paper]) -> None:
    CHECKED["discord payloads"] += 1
    assert DiscordLimits.check(payload) is None, DiscordLimits.check(payload)
    assert payload["allowed_mentions"] == {"parse": []}
    content, embeds = payload["content"], payload["embeds"]
    assert len(content) <= dc.MAX_CONTENT and len(embeds) <= dc.MAX_EMBEDS
    assert not shared_embed_urls(embeds)
    raw_urls = {u for p in paper_list for _, u in links(p)}
    masked = {u.replace("(", "%28").replace(")", "%29") for u in raw_urls}
    total = 0
    for embed in embeds:
        assert 1 <= len(embed["title"]) <= dc.MAX_TITLE
        assert len(embed.get("description", "")) <= dc.MAX_DESCRIPTION
        assert embed.get("url") is None or embed["url"] in raw_urls
        for field in embed.get("fields", []):
            assert 1 <= len(field["value"]) <= dc.MAX_FIELD_VALUE
        total += dc.embed_size(embed)
    assert total <= dc.MAX_TOTAL
    shown = {k: v for k, v in payload.items() if k != "allowed_mentions"}
    for s in strings([shown.get("content"), [{**e, "url": None} for e in embeds]]):
        for raw in DISCORD_RAW:
            assert raw not in s, (raw, s[:300])
        for m in MASKED.finditer(s):
            assert m.group(2) in masked, m.group(0)
    encodable(payload)


def check_text(messages: list[Message]) -> None:
    CHECKED["text payloads"] += 1
    assert len(messages) == 1
    text = messages[0].payload["text"]
    assert isinstance(text, str) and text
    assert not any(unicodedata.category(ch) in {"Cc", "Cs"} and ch != "\n" for ch in text)


# --- 1. source parsers -----------------------------------------------------------------------


def check_parse(content: bytes, *, kind: str | None = None) -> ParseResult | None:
    """parse_any raises only SourceError; what it returns keeps the Paper invariants and
    renders within every platform's limits."""
    CHECKED["parsed documents"] += 1
    try:
        result = parse_any(content, source="hostile", kind=kind, include_replacements=True)
    except SourceError:
        return None
    keys = [p.key for p in result.papers]
    assert len(keys) == len(set(keys))
    for p in result.papers:
        assert p.title and p.title == collapse_ws(p.title) and p.key
        assert p.arxiv_id is None or not re.search(r"v\d+$", p.arxiv_id)
        assert p.upvotes is None or (isinstance(p.upvotes, int) and not isinstance(p.upvotes, bool))
        assert all(isinstance(a, str) for a in p.authors)
        for moment in (p.published, p.first_seen):
            assert moment is None or moment.tzinfo is not None
    return result


def render_all(paper_list: list[Paper], summaries: list[str] | None = None) -> None:
    items = tuple(
        DigestItem(p, 1.0, ("moe",), (summaries or [p.abstract] * len(paper_list))[i])
        for i, p in enumerate(paper_list)
    )
    digest = Digest("slack:C1", "ml", date(2026, 11, 23), items, more=3, topics=("moe",))
    allowed = slack_urls(paper_list)
    for message in render_slack(digest):
        check_slack(message.payload, allowed, digest=True)
    for message in render_discord(digest):
        check_discord(message.payload, paper_list)
    check_text(render_text(digest))


@budget(250)
@given(content=st.binary(max_size=400), kind=st.sampled_from([None, "hf-daily", "rss", "dump"]))
def test_parse_any_on_arbitrary_bytes_raises_only_source_error(
    content: bytes, kind: str | None
) -> None:
    check_parse(content, kind=kind)


def _samples() -> dict[str, bytes]:
    """Real recorded payloads (../shared/fixtures/real, seeds) when present, the committed
    synthetic fixtures always; large ones trimmed so that each example parses fast."""
    found = {p.name: p.read_bytes() for p in sorted(FIXTURES.iterdir()) if p.is_file()}
    if REAL.is_dir():
        for p in sorted(REAL.iterdir()):
            if p.suffix == ".json":
                found[p.name] = json.dumps(json.loads(p.read_bytes())[:4]).encode()
            elif p.suffix == ".xml":
                found[p.name] = p.read_bytes()
    if SEEDS.is_dir():
        for p in sorted(SEEDS.glob("*.txt")):
            found[p.name] = p.read_bytes()[:6000]
    return found


SAMPLES = _samples()


def _json_mutation(data: Any, path: list[int], value: Any) -> Any:
    """`data` with the node reached by following `path` (indexes into list items / dict
    values, wrapping) replaced by `value`."""
    if not path or not isinstance(data, list | dict) or not data:
        return value
    if isinstance(data, list):
        i = path[0] % len(data)
        return [_json_mutation(v, path[1:], value) if j == i else v for j, v in enumerate(data)]
    keys = list(data)
    k = keys[path[0] % len(keys)]
    return {key: _json_mutation(v, path[1:], value) if key == k else v for key, v in data.items()}


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats()
    | hostile
    | st.sampled_from(["2406.01234v3", "2026-13-45", "2026-06-12T25:61:00Z", "", " "]),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(hostile, inner, max_size=3),
    max_leaves=8,
)


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    name = draw(st.sampled_from(sorted(SAMPLES)))
    data = SAMPLES[name]
    if name.endswith(".json") and draw(st.booleans()):  # structure-aware: replace a value
        tree = json.loads(data)
        for _ in range(draw(st.integers(1, 3))):
            path = draw(st.lists(st.integers(0, 50), max_size=5))
            tree = _json_mutation(tree, path, draw(json_values))
        return json.dumps(tree, ensure_ascii=draw(st.booleans())).encode("utf-8", "surrogatepass")
    buf = bytearray(data)
    for _ in range(draw(st.integers(1, 5))):
        action = draw(st.sampled_from(["flip", "truncate", "insert", "after-tag", "dup"]))
        where = draw(st.integers(0, len(buf)))
        if action == "flip" and buf:
            buf[min(where, len(buf) - 1)] = draw(st.integers(0, 255))
        elif action == "truncate":
            del buf[where:]
        elif action == "insert":
            buf[where:where] = draw(st.binary(max_size=30))
        elif action == "after-tag":  # hostile text inside an element of XML / a dump record
            at = buf.find(b">", where)
            at = where if at < 0 else at + 1
            buf[at:at] = draw(hostile).encode("utf-8", "surrogatepass")
        else:
            buf[where:where] = bytes(buf[where : where + draw(st.integers(0, 400))])
    return bytes(buf)


@budget(200)
@given(content=mutated())
def test_parse_any_on_mutated_real_formats_raises_only_source_error(content: bytes) -> None:
    result = check_parse(content)
    if result is not None and result.papers:
        CHECKED["parsed papers rendered"] += len(result.papers[:12])
        render_all(list(result.papers[:12]))


def test_feed_entities_read_no_file_and_do_not_explode(tmp_path: Path) -> None:
    """XXE and a billion-laughs DTD in a feed: no file is read, no entity is expanded."""
    secret = tmp_path / "secret.txt"
    secret.write_text("TOPSECRET-MARKER-42")
    item = (
        "<item><title>Paper &xxe; &lol9;</title><guid>oai:arXiv.org:2406.01234v1</guid>"
        "<description>arXiv:2406.01234v1 Announce Type: new\nAbstract: We study &xxe;."
        "</description></item>"
    )
    laughs = '<!ENTITY lol "lol">' + "".join(
        f'<!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 2 else "") + ";") * 10}">'
        for i in range(2, 10)
    )
    doc = (
        '<?xml version="1.0"?>\n'
        f'<!DOCTYPE rss [<!ENTITY xxe SYSTEM "file://{secret}">{laughs}]>\n'
        f'<rss version="2.0"><channel><title>t</title>{item}</channel></rss>'
    ).encode()
    start = time.monotonic()
    result = check_parse(doc)
    assert time.monotonic() - start < 5
    text = repr(result)
    assert "TOPSECRET" not in text and "lollollol" not in text


# --- 2. configuration --------------------------------------------------------------------------

KEYS = [
    "database", "sources", "channels", "slack", "discord", "health", "commands", "log_level",
    "name", "kind", "url", "path", "interval", "days", "include_replacements", "enabled",
    "platform", "id", "topics", "exclude", "authors", "max_posts", "schedule", "timezone",
    "lookback", "post_empty", "bot_token", "app_token", "signing_secret", "api_url",
    "http_host", "http_port", "admins", "application_id", "manager_role", "host", "port",
    "per_minute", "burst", "digest", "lease", "gateway", "shard_id", "shard_count",
    "source_file", "__class__", "",
]  # fmt: skip
SECRET_ENV = {
    "SLACK_SIGNING_SECRET": "s3cr3t-signing-value",
    "HOOK": "https://hooks.slack.com/services/T0/B0/zzz",
}
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**80), 2**80),
    st.floats(),
    st.text(max_size=30),
    st.sampled_from(
        [
            "${SLACK_SIGNING_SECRET}",
            "${HOOK}",
            "${NOPE}",
            "${NOPE:-default}",
            "x${NOPE}y",
            "${",
            "~",
            "~nosuchuser/x",
            "a\x00b",
            "file:///etc/passwd",
            "https://x.example/feed",
            "99999999999999999999d",
            "-1d",
            "1h",
            "0 9 * * mon-fri",
            "Europe/Berlin",
            "../../etc/passwd",
            "slack",
            "discord-webhook",
            "rss",
            "dump",
            "hf-daily",
        ]
    ),
)
trees = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=8), inner, max_size=5)
    ),
    max_leaves=25,
)


@st.composite
def configs(draw: st.DrawFn) -> Any:
    """Arbitrary trees, and schema-shaped ones with arbitrary values, to reach every model."""
    if draw(st.booleans()):
        return draw(trees)
    source = {"name": draw(scalars), "kind": draw(scalars), "url": draw(scalars)}
    source |= draw(st.dictionaries(st.sampled_from(KEYS), scalars, max_size=3))
    channel = {"platform": draw(scalars), "id": draw(scalars)}
    channel |= draw(st.dictionaries(st.sampled_from(KEYS), trees, max_size=4))
    top = {
        "sources": [source],
        "channels": [channel],
        "slack": draw(st.dictionaries(st.sampled_from(KEYS), scalars, max_size=3)),
        "commands": draw(st.dictionaries(st.sampled_from(["per_minute", "burst"]), scalars)),
    }
    return {k: v for k, v in top.items() if draw(st.booleans())}


def check_config_error(error: ConfigError) -> None:
    message = str(error)
    assert message
    for value in SECRET_ENV.values():
        assert value not in message, message


@budget(200)
@given(raw=configs())
def test_validate_on_arbitrary_trees_raises_only_config_error(raw: Any) -> None:
    CHECKED["configs validated"] += 1
    try:
        result = validate(raw, source_file="c.yaml", env=SECRET_ENV, base_dir=Path("/srv"))
    except ConfigError as e:
        check_config_error(e)
        return
    assert isinstance(result, Settings)


YAML_BITS = [
    "database: x.db", "sources:", "channels:", "  - ", "- ", "  ", ": ", "? ", "{", "}", "[",
    "]", ",", "&a ", "*a", "<<: *a", "!!python/object/apply:os.system ['id']",
    "!!python/name:os.system", "!!binary |", "!!set", "!!omap", "!!float", "%YAML 1.1",
    "%TAG ! tag:x,2000:", "---", "...", "#", "'", '"', "|", ">", "\t", "\ufeff", "\x00",
    "${SLACK_SIGNING_SECRET}", "${NOPE}", "kind: rss", "platform: slack", "id: C1",
    "lookback: 99999999999999999999d", "timezone: Mars/Base", "path: ~nosuchuser/x",
    "http_port: ${SLACK_SIGNING_SECRET}", "commands: {burst: 0}", "\n",
]  # fmt: skip


@pytest.fixture(scope="module")
def config_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("configs")


@budget(250)
@given(
    text=st.one_of(
        st.text(max_size=200),
        st.lists(st.sampled_from(YAML_BITS) | st.text(max_size=5), max_size=40).map("".join),
        st.lists(st.sampled_from(YAML_BITS), max_size=30).map("\n".join),
    ),
    raw_bytes=st.booleans(),
)
def test_load_settings_on_arbitrary_yaml_text_raises_only_config_error(
    config_dir: Path, text: str, raw_bytes: bool
) -> None:
    CHECKED["config files loaded"] += 1
    path = config_dir / "paperboy.yaml"
    data = text.encode("utf-8", "surrogatepass")
    path.write_bytes(data if not raw_bytes else data + b"\xff\xfe")
    try:
        result = load_settings(str(path), env=SECRET_ENV, cwd=config_dir)
    except ConfigError as e:
        check_config_error(e)
        return
    assert isinstance(result, Settings)


@pytest.mark.parametrize(
    "text",
    [
        "[" * 5000 + "]" * 5000,
        "a: " + "{a: " * 3000 + "1" + "}" * 3000,
        "x: " + "[" * (MAX_DEPTH + 5) + "]" * (MAX_DEPTH + 5),
        "a: &a [x,x,x,x,x,x,x,x,x]\n"
        + "".join(
            f"{chr(98 + i)}: &{chr(98 + i)} [{','.join(['*' + chr(97 + i)] * 9)}]\n"
            for i in range(8)
        ),
    ],
    ids=["deep-list", "deep-map", "past-max-depth", "alias-bomb-9^9"],
)  # fmt: skip
def test_nesting_and_alias_bombs_fail_fast_with_config_error(tmp_path: Path, text: str) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(text)
    start = time.monotonic()
    with pytest.raises(ConfigError):
        load_settings(str(path), env={}, cwd=tmp_path)
    assert time.monotonic() - start < 5.0  # unfixed, the 9^9 alias bomb takes minutes


# --- 3. the slash-command parser -------------------------------------------------------------

FLAG_BITS = [
    "--share", "--more", "--top", "--top=", "--top=3", "—top", "–share", "—more", "--TOP",
    "0", "1", "20", "21", "-1", "²", "①", "٣", "9" * 5000, "--", "-", "—", "search",
    "subscribe", "SUBSCRIBE", "why", "help", "list", "schedule", "\x00", "\u200b", "\u202e",
]  # fmt: skip


@budget(400)
@given(
    text=st.one_of(
        st.text(max_size=120),
        st.lists(st.sampled_from(FLAG_BITS) | hostile, max_size=12).map(" ".join),
        st.lists(st.sampled_from(FLAG_BITS) | st.text(max_size=4), max_size=20).map("".join),
    )
)
def test_parse_command_raises_only_usage_error(text: str) -> None:
    CHECKED["commands parsed"] += 1
    try:
        command = parse_command(text)
    except UsageError as e:
        assert str(e)
        return
    assert isinstance(command, Command) and command.name in SUBCOMMANDS
    assert 1 <= command.limit <= MAX_LIMIT
    assert command.arg == " ".join(command.arg.split())
    assert not any(unicodedata.category(ch) in {"Cc", "Cs"} for ch in command.arg)


# --- 4. search ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[App]:
    """A small archive: the bundled sample plus papers whose text is itself hostile."""
    settings = Settings(
        database=str(tmp_path_factory.mktemp("hostile") / "p.db"),
        commands=CommandSettings(per_minute=0),
    )
    app = build_app(settings, clock=lambda: NOW)
    papers = list(parse_any(SAMPLE.read_bytes(), source="sample").papers)
    papers += [
        Paper(
            title="<!channel> Mixture-of-Experts for @everyone",
            abstract="We route tokens <@U0ADMIN> to experts. '; DROP TABLE papers; --",
            arxiv_id="2611.00001",
            authors=("<!here>", "Robert'); DROP TABLE papers;--"),
        ),
        Paper(
            title='C++ "templates" NEAR(title:moe) ^ * OR 1=1',
            abstract='") OR ("1"="1 -- mixture of experts * NOT',
            arxiv_id="2611.00002",
        ),
    ]
    app.archive.upsert(papers, now=NOW - timedelta(hours=1))
    yield app
    app.close()


FTS_BITS = [
    '"', "'", "-", ":", "*", "^", "+", "(", ")", "{", "}", "NEAR(", "NEAR/2", "AND", "OR", "NOT",
    "title:", "abstract:", "authors:", "rowid", "papers_fts", "'; DROP TABLE papers; --",
    '") OR ("', "title:* OR 1=1", "%", "_", "\\", "moe", "mixture", "experts", "speech", "C++",
]  # fmt: skip


@budget(100)
@given(
    query=st.one_of(
        hostile,
        st.lists(st.sampled_from(FTS_BITS), max_size=12).map(" ".join),
        st.lists(st.sampled_from(FTS_BITS), max_size=12).map("".join),
    ),
    limit=st.integers(-3, 25),
)
def test_search_never_raises_and_returns_only_archived_papers(
    app: App, query: str, limit: int
) -> None:
    CHECKED["searches"] += 1
    search = Search(app.archive, app.lexicon)
    before = app.archive.count()
    result = search.search(query, limit=limit)
    keys = {p.key for p in app.archive.all()}
    assert len(result.hits) <= max(limit, 0)
    assert result.total >= len(result.hits)
    for hit in result.hits:
        assert hit.paper.key in keys and math.isfinite(hit.score)
    assert app.archive.count() == before


# --- 5. renderers ------------------------------------------------------------------------------


@st.composite
def digests(draw: st.DrawFn) -> Digest:
    items = tuple(
        DigestItem(
            paper=draw(papers()),
            score=draw(st.floats(allow_nan=False, allow_infinity=False)),
            topics=tuple(draw(st.lists(hostile, max_size=3))),
            summary=draw(hostile),
        )
        for _ in range(draw(st.integers(0, 14)))
    )
    return Digest(
        channel_ref="slack:C1",
        channel_name=draw(hostile),
        day=draw(st.dates()),
        items=items,
        more=draw(st.integers(0, 10**6)),
        topics=tuple(draw(st.lists(hostile, max_size=2))),
    )


@budget(60)
@given(digest=digests())
def test_digest_renderers_stay_within_limits_and_ping_nobody(digest: Digest) -> None:
    CHECKED["digests rendered"] += 1
    paper_list = [item.paper for item in digest.items]
    allowed = slack_urls(paper_list)
    slack_messages = render_slack(digest)
    for message in slack_messages:
        check_slack(message.payload, allowed, digest=True)
    discord_messages = render_discord(digest)
    for message in discord_messages:
        check_discord(message.payload, paper_list)
    check_text(render_text(digest))
    for messages in (slack_messages, discord_messages):
        assert [k for m in messages for k in m.keys] == [p.key for p in paper_list]


@st.composite
def replies(draw: st.DrawFn) -> Reply:
    lines = tuple(draw(st.lists(hostile, max_size=draw(st.sampled_from([3, 30])))))
    paper_lines = tuple(
        PaperLine(
            paper=draw(papers()),
            summary=draw(hostile),
            posted_on=draw(st.one_of(st.none(), st.dates())),
            detail=draw(st.one_of(st.none(), hostile)),
        )
        for _ in range(draw(st.sampled_from([0, 1, 3, 5, 12, 20, 25])))
    )
    return Reply(
        title=draw(hostile),
        lines=lines,
        papers=paper_lines,
        footer=draw(st.one_of(st.none(), hostile)),
        public=draw(st.booleans()),
        error=draw(st.booleans()),
    )


def check_reply(reply: Reply) -> None:
    paper_list = [line.paper for line in reply.papers]
    body = slack_reply(reply).body()
    assert body["response_type"] == ("in_channel" if reply.public else "ephemeral")
    check_slack(body, slack_urls(paper_list), digest=False)
    data = discord_reply(reply).body()
    assert ("flags" in data) is not reply.public
    check_discord(data, paper_list)


@budget(60)
@given(reply=replies())
def test_reply_renderers_stay_within_limits_and_ping_nobody(reply: Reply) -> None:
    CHECKED["replies rendered"] += 1
    check_reply(reply)


def test_a_long_reply_leaves_whole_papers_out_and_says_how_many() -> None:
    """20 papers with long summaries and 40 note lines: Slack gets what fits in 50 blocks
    and ~10k characters, never half a paper, and a closing line counting the rest."""
    paper_list = [
        Paper(title=f"Paper {i} " + "routing " * 30, arxiv_id=f"2611.{i:05d}") for i in range(20)
    ]
    reply = Reply(
        "Top 20 papers for “moe”",
        tuple(f"note {i}: " + "& " * 100 for i in range(40)),
        tuple(PaperLine(p, "We propose " + "sparse experts " * 60) for p in paper_list),
        footer="More: /papers search moe --top 20",
    )
    body = slack_reply(reply).body()
    check_slack(body, slack_urls(paper_list), digest=False)
    blocks: list[dict[str, Any]] = body["blocks"]  # type: ignore[assignment]
    shown = [p for p in paper_list if any(f"abs/{p.arxiv_id}" in json.dumps(b) for b in blocks)]
    notes = sum(1 for b in blocks if "note " in json.dumps(b))
    assert 0 < len(shown) < 20 and 0 < notes < 40
    left = blocks[-2]["elements"][0]["text"]
    assert left == f"…and {40 - notes + 20 - len(shown)} more not shown (message size limit)"
    assert blocks[-1]["elements"][0]["text"].startswith("More: /papers search moe")
    for p in shown:  # each shown paper is whole: its linked title and its links context
        assert sum(f"arxiv.org/abs/{p.arxiv_id}" in json.dumps(b) for b in blocks) == 2


@budget(60)
@given(
    text=st.one_of(
        hostile, st.lists(st.sampled_from(FLAG_BITS) | hostile, max_size=6).map(" ".join)
    ),
    sub=st.sampled_from(["", *(f"{s} " for s in SUBCOMMANDS)]),
)
def test_any_command_is_answered_within_limits(app: App, sub: str, text: str) -> None:
    """dispatch -> render end to end: every subcommand with hostile text gets a reply that
    both platforms accept."""
    CHECKED["commands dispatched"] += 1
    request = CommandRequest("slack", "C0HOSTILE", "U1", sub + text, channel_name="<!channel>")
    reply = asyncio.run(dispatch(request, app.services()))
    assert reply.title
    check_reply(reply)
