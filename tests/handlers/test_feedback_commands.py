"""`/papers more|less <paper>`, `/papers feedback [clear [paper]]` and the feedback part of
`/papers why`, through dispatch over a real SQLite archive of the bundled sample."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.app import App, build_app
from bot.settings import CommandSettings, Settings
from bot.sources.detect import parse_any
from fakes.clock import Clock
from handlers.commands import dispatch
from handlers.render import discord_reply, slack_reply
from handlers.reply import CommandRequest, Reply, TypedCall
from handlers.services import Services

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
SAMPLE = Path(__file__).resolve().parents[2] / "bot" / "data" / "sample-dump.txt"
CHANNEL = "C0FEEDBACK"
REF = f"slack:{CHANNEL}"
S2ST = "Direct Speech-to-Speech Translation for Unwritten Languages via Self-Supervised Units"
SPEECH = "Scaling Self-Supervised Speech Pretraining to 300 Underserved Languages"
BACK = (
    "Back-Translation Revisited: When Does Synthetic Parallel Data Still Help in the Era of "
    "Large Language Models?"
)
PING = "Mention Injection: Why <!channel> in LLM Chat Bots Is a Security Bug"


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


def req(text: str, *, user: str = "U1", can_manage: bool = True) -> CommandRequest:
    return CommandRequest(
        platform="slack",
        channel_id=CHANNEL,
        user_id=user,
        text=text,
        can_manage=can_manage,
        manage_rule="only the admins listed in slack.admins can change this channel's topics",
        channel_name="papers",
    )


def everything(reply: Reply) -> str:
    parts = [reply.title, *reply.lines, reply.footer or ""]
    for line in reply.papers:
        parts += [line.paper.title, line.summary, line.detail or ""]
    return "\n".join(parts)


async def test_more_and_less_record_the_persons_vote(services: Services) -> None:
    reply = await dispatch(req(f"more {S2ST}"), services)
    assert not reply.error, reply.title
    assert reply.title.startswith("Noted: More papers like “Direct Speech-to-Speech")
    assert "starts learning from its votes at 2; it has 1" in everything(reply)
    assert reply.papers[0].paper.title.startswith("Direct Speech-to-Speech")
    reply = await dispatch(req("less back-translation revisited", user="U2"), services)
    assert reply.title.startswith("Noted: Fewer papers like “Back-Translation Revisited")
    assert "learns from this channel's 2 votes" in everything(reply)
    reply = await dispatch(req(f"LESS {S2ST.lower()}"), services)
    assert "Your earlier vote on it is replaced." in reply.lines
    votes = services.teach.feedback.sync.votes(REF)
    assert sorted((v.user, v.vote, v.via) for v in votes) == [
        ("U1", -1, "command"),
        ("U2", -1, "command"),
    ]


async def test_typed_more_from_discord_reads_the_paper_option(services: Services) -> None:
    call = TypedCall("more", {"paper": SPEECH})
    request = CommandRequest("discord", "42", "7", f"more {SPEECH}", typed=call)
    reply = await dispatch(request, services)
    assert not reply.error and "Scaling Self-Supervised Speech" in reply.title
    assert [v.user for v in services.teach.feedback.sync.votes("discord:42")] == ["7"]


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("more", "Which paper? e.g. /papers more 2401.04088"),
        ("less 2999.99999", "arXiv 2999.99999 is not in the archive"),
        ("more A Paper Nobody Has Written", "No archived paper has the title"),
        ("more " + "x" * 600, "too long"),
    ],
)
async def test_a_vote_on_no_paper_is_explained(services: Services, text: str, says: str) -> None:
    reply = await dispatch(req(text), services)
    assert reply.error and says in everything(reply)
    assert services.teach.feedback.sync.votes(REF) == []


async def test_feedback_lists_who_said_what_and_when(services: Services) -> None:
    empty = await dispatch(req("feedback"), services)
    assert not empty.error and "Nobody has taught" in empty.title
    await dispatch(req(f"more {S2ST}"), services)
    await dispatch(req(f"more {S2ST}", user="U2"), services)
    await dispatch(req(f"less {SPEECH}", user="U3"), services)
    reply = await dispatch(req("feedback"), services)
    assert reply.title == "This channel's feedback: 3 votes on 2 papers from 3 people"
    text = everything(reply)
    assert "“Direct Speech-to-Speech Translation" in text
    assert "more like this: U1, U2 (last Mon 23 Nov" in text
    assert "not for us: U3" in text
    wrong = await dispatch(req("feedback please"), services)
    assert wrong.error and "/papers feedback clear [paper]" in wrong.title


async def test_feedback_clear_needs_permission(services: Services) -> None:
    await dispatch(req(f"more {S2ST}"), services)
    await dispatch(req(f"less {SPEECH}"), services)
    refused = await dispatch(req("feedback clear", can_manage=False), services)
    assert refused.error and "only the admins listed in slack.admins" in refused.title
    assert len(services.teach.feedback.sync.votes(REF)) == 2
    one = await dispatch(req(f"feedback clear {SPEECH}"), services)
    assert one.title.startswith("Forgot 1 vote on “Scaling")
    unknown = await dispatch(req("feedback clear 2999.99999"), services)
    assert unknown.error and "not in the archive" in unknown.title
    rest = await dispatch(req("feedback CLEAR"), services)
    assert rest.title == "Forgot 1 vote in this channel."
    none = await dispatch(req("feedback clear"), services)
    assert none.title == "There were no votes in this channel to forget."


async def test_replies_escape_titles_and_ping_nobody(services: Services) -> None:
    reply = await dispatch(req(f"more {PING}"), services)
    assert not reply.error and "<!channel>" in reply.title  # plain text; renderers escape
    await dispatch(req(f"less {S2ST}"), services)
    listing = await dispatch(req("feedback"), services)
    for shown in (reply, listing):
        slack = json.dumps(slack_reply(shown).body())
        assert "<!channel>" not in slack and "&lt;!channel&gt;" in slack
        assert discord_reply(shown) is not None


async def test_why_shows_the_feedback_part(services: Services) -> None:
    await dispatch(req("subscribe machine translation"), services)
    # "Back-Translation Revisited" has some evidence for the topic, just below the threshold
    before = await dispatch(req(f"why {BACK}"), services)
    assert "does not match this channel's topics" in everything(before)
    assert "feedback" not in everything(before)
    await dispatch(req(f"more {BACK}"), services)
    await dispatch(req(f"more {BACK}", user="U2"), services)
    after = await dispatch(req(f"why {BACK}"), services)
    text = everything(after)
    assert "It does not match the topics, but this channel's feedback selects it" in text
    assert "this channel's feedback selects it: like 'Back-Translation Revisited" in text
    assert "(+" in text and "margin" not in text  # the margin once, in the model's words
    assert "the next digest will include it" in text
    # feedback adds only papers with some evidence for a topic: liking a speech paper does
    # not bring it (or one like it) into a translation channel
    await dispatch(req(f"more {S2ST}"), services)
    await dispatch(req(f"more {SPEECH}", user="U2"), services)
    speech = everything(await dispatch(req(f"why {S2ST}"), services))
    assert "does not match this channel's topics" in speech
    assert "This channel's feedback: like 'Direct Speech-to-Speech" in speech
    assert "selects it" not in speech and "next digest" not in speech
