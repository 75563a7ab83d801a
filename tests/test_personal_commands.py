"""`--me` commands called through handlers.commands.dispatch (issue 19), typed as Slack text
and as Discord typed options, over a real SQLite archive of the bundled sample: one rule
for `--include-channel-posts` (every `--me` command applies it), for its value (on/off or
nothing, never a topic word), and for the home channel (every `--me` command that changes
the alerts moves it where it was typed; a plain `list` only reads)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.app import App, build_app
from bot.settings import CommandSettings, Settings
from bot.sources.detect import parse_any
from fakes.clock import Clock
from handlers.commands import dispatch
from handlers.registry import SPECS
from handlers.reply import CommandRequest, Reply, TypedCall
from handlers.services import Services

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
SAMPLE = Path(__file__).resolve().parents[1] / "bot" / "data" / "sample-dump.txt"
HOME, OTHER, USER = "C0HOME0001", "C0OTHER001", "U0ANNA0001"
S2ST = "Direct Speech-to-Speech Translation for Unwritten Languages via Self-Supervised Units"
ME_COMMANDS = (
    "subscribe", "unsubscribe", "list", "exclude", "include",
    "more", "less", "schedule", "pause", "resume",
)  # fmt: skip
# Each --me command, as text with its argument (the topic "moe", the excluded term
# "survey" and the paper S2ST exist when it runs, so each one succeeds).
TEXT = {
    "subscribe": "subscribe speech --me",
    "unsubscribe": "unsubscribe moe --me",
    "list": "list --me",
    "exclude": "exclude benchmark --me",
    "include": "include survey --me",
    "more": f"more {S2ST} --me",
    "less": f"less {S2ST} --me",
    "schedule": "schedule 0 8 * * mon-fri --me",
    "pause": "pause --me",
    "resume": "resume --me",
}
TYPED = {
    "subscribe": {"topic": "speech"},
    "unsubscribe": {"topic": "moe"},
    "list": {},
    "exclude": {"term": "benchmark"},
    "include": {"term": "survey"},
    "more": {"paper": S2ST},
    "less": {"paper": S2ST},
    "schedule": {"cron": "0 8 * * mon-fri"},
    "pause": {},
    "resume": {},
}


@pytest.fixture
def app(tmp_path: Path) -> Iterator[App]:
    settings = Settings(database=str(tmp_path / "p.db"), commands=CommandSettings(per_minute=0))
    app = build_app(settings, clock=Clock(NOW))
    papers = parse_any(SAMPLE.read_bytes(), source="sample").papers
    app.archive.upsert(papers, now=NOW - timedelta(hours=2))
    yield app
    app.close()


@pytest.fixture
def services(app: App) -> Services:
    return app.services()


def req(text: str, *, channel: str = HOME, typed: TypedCall | None = None) -> CommandRequest:
    return CommandRequest(
        platform="slack",
        channel_id=channel,
        user_id=USER,
        text=text,
        can_manage=False,  # --me needs no right on the channel
        manage_rule="only admins",
        channel_name="papers",
        typed=typed,
    )


def everything(reply: Reply) -> str:
    return "\n".join([reply.title, *reply.lines, reply.footer or ""])


async def _alerts(services: Services, *, paused: bool = False) -> None:
    """The person's alerts, as the commands in TEXT need them, typed in HOME."""
    for text in ("subscribe moe --me", "exclude survey --me"):
        reply = await dispatch(req(text), services)
        assert not reply.error, everything(reply)
    if paused:
        assert not (await dispatch(req("pause --me"), services)).error


def _posts(app: App) -> bool:
    entry = app.profiles.person("slack", USER)
    assert entry is not None
    return entry.profile.include_channel_posts


def _home(app: App) -> str | None:
    entry = app.profiles.person("slack", USER)
    assert entry is not None
    return entry.profile.home


def test_every_me_command_has_the_include_channel_posts_option() -> None:
    """Discord's typed options: --include-channel-posts goes with every --me command."""
    with_me = {s.name for s in SPECS if any(o.role == "me" for o in s.options)}
    assert with_me == set(ME_COMMANDS)
    for spec in SPECS:
        if spec.name in with_me:
            assert any(o.role == "channel_posts" for o in spec.options), spec.name


@pytest.mark.parametrize("name", ME_COMMANDS)
async def test_include_channel_posts_is_applied_by_every_me_command_typed_as_text(
    app: App, services: Services, name: str
) -> None:
    await _alerts(services, paused=name == "resume")
    reply = await dispatch(req(f"{TEXT[name]} --include-channel-posts on"), services)
    assert not reply.error, everything(reply)
    assert _posts(app), name
    assert "already posted that day" in everything(reply)  # the answer says so
    reply = await dispatch(req(f"{TEXT[name]} --include-channel-posts off"), services)
    assert not _posts(app), (name, everything(reply))


@pytest.mark.parametrize("name", ME_COMMANDS)
async def test_include_channel_posts_is_applied_by_every_me_command_typed_on_discord(
    app: App, services: Services, name: str
) -> None:
    await _alerts(services, paused=name == "resume")
    values = {**TYPED[name], "me": True, "include_channel_posts": True}
    reply = await dispatch(req("", typed=TypedCall(name, values)), services)
    assert not reply.error, everything(reply)
    assert _posts(app), name


@pytest.mark.parametrize("name", ["unsubscribe", "include", "more", "less", "pause", "resume"])
async def test_without_alerts_the_option_creates_nothing(
    app: App, services: Services, name: str
) -> None:
    reply = await dispatch(req(f"{TEXT[name]} --include-channel-posts on"), services)
    assert "no personal alerts yet" in everything(reply)
    assert app.profiles.person("slack", USER) is None


@pytest.mark.parametrize("name", ME_COMMANDS)
async def test_a_me_command_that_changes_the_alerts_moves_home_where_it_is_typed(
    app: App, services: Services, name: str
) -> None:
    await _alerts(services, paused=name == "resume")
    assert _home(app) == f"slack:{HOME}"
    reply = await dispatch(req(TEXT[name], channel=OTHER), services)
    assert not reply.error, everything(reply)
    expected = HOME if name == "list" else OTHER  # a plain list only reads
    assert _home(app) == f"slack:{expected}", name


async def test_list_with_the_option_changes_the_alerts_so_it_moves_home(
    app: App, services: Services
) -> None:
    await _alerts(services)
    await dispatch(req("list --me --include-channel-posts", channel=OTHER), services)
    assert _home(app) == f"slack:{OTHER}" and _posts(app)


@pytest.mark.parametrize(
    "text",
    [
        "subscribe moe --me --include-channel-posts maybe",
        "subscribe moe --include-channel-posts maybe --me",
        "subscribe --me --include-channel-posts mixture of experts",
        "list --me --include-channel-posts=maybe",
        "pause --me --include-channel-posts please",
    ],
)
async def test_a_word_after_the_option_that_is_not_on_or_off_is_refused(
    app: App, services: Services, text: str
) -> None:
    reply = await dispatch(req(text), services)
    assert reply.error and "takes on or off" in everything(reply), everything(reply)
    assert "--include-channel-posts on" in everything(reply)  # what to type
    assert app.profiles.person("slack", USER) is None


@pytest.mark.parametrize(
    ("text", "posts"),
    [
        ("subscribe moe maybe --me --include-channel-posts", True),
        ("subscribe moe maybe --me --include-channel-posts on", True),
        ("subscribe moe maybe --include-channel-posts OFF --me", False),
        ("subscribe moe maybe --include-channel-posts --me", True),
        ("subscribe --include-channel-posts yes moe maybe --me", True),
        ("subscribe moe maybe --me --include-channel-posts=no", False),
    ],
)
async def test_the_option_takes_on_or_off_or_nothing_and_the_topic_stays_whole(
    app: App, services: Services, text: str, posts: bool
) -> None:
    reply = await dispatch(req(text), services)
    assert not reply.error, everything(reply)
    assert "now follow “moe maybe”" in reply.title
    entry = app.profiles.person("slack", USER)
    assert entry is not None and entry.profile.topics == ("moe maybe",)
    assert entry.profile.include_channel_posts is posts


@pytest.mark.parametrize("posts", [True, False])
async def test_discord_typed_option_is_a_yes_no_and_the_topic_stays_whole(
    app: App, services: Services, posts: bool
) -> None:
    values = {"topic": "moe maybe", "me": True, "include_channel_posts": posts}
    reply = await dispatch(req("", typed=TypedCall("subscribe", values)), services)
    assert not reply.error and "now follow “moe maybe”" in reply.title, everything(reply)
    entry = app.profiles.person("slack", USER)
    assert entry is not None and entry.profile.topics == ("moe maybe",)
    assert entry.profile.include_channel_posts is posts
