"""bot.feedback.Teach over a real SQLite archive: naming a paper (key, arXiv id or URL, exact
or closest title, unknown, ambiguous), one vote per person and paper, the per-person rate
limit, reactions on a posted message (only one carrying exactly one paper counts; removing
the reaction withdraws its vote), and the channel's model trained from its votes."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.app import App, build_app
from bot.feedback import (
    VOTES_PER_WINDOW,
    AmbiguousPaper,
    RateLimited,
    Teach,
    UnknownPaper,
)
from bot.models import Paper
from bot.settings import Settings
from fakes.clock import Clock

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
CHANNEL = "slack:C0TEACH"
LEASE = timedelta(minutes=5)


def paper(title: str, abstract: str, arxiv_id: str | None = None) -> Paper:
    return Paper(title=title, abstract=abstract, arxiv_id=arxiv_id, sources=("test",))


PAPERS = [
    paper(
        "Sparse Routing Among Expert Adapters",
        "We route tokens among expert adapters with a learned gate for efficient inference.",
        "2406.01234",
    ),
    paper(
        "Qwen2 Technical Report", "A family of language models and their training.", "2407.10671"
    ),
    paper("Qwen3 Technical Report", "The next family of language models.", "2505.09388"),
    paper(
        "Grounded Radiology Report Generation",
        "Chest X-ray reports generated with region-level findings supervision.",
    ),
    paper(
        "Verified Rust from Specifications",
        "Program synthesis of Rust functions with proofs carried along.",
        "2410.00001",
    ),
    *[
        paper(f"Filler Study Number {i}", f"An unrelated abstract about topic {i} and more.")
        for i in range(40)
    ],
]


@pytest.fixture
def clock() -> Clock:
    return Clock(NOW)


@pytest.fixture
def app(tmp_path: Path, clock: Clock) -> Iterator[App]:
    app = build_app(Settings(database=str(tmp_path / "p.db")), clock=clock)
    app.archive.upsert(PAPERS, now=NOW - timedelta(hours=2))
    yield app
    app.close()


@pytest.fixture
def teach(app: App) -> Teach:
    return app.teach()


@pytest.mark.parametrize(
    "ref",
    [
        "2406.01234",
        "2406.01234v3",
        "arXiv:2406.01234",
        "https://arxiv.org/abs/2406.01234v2",
        "https://arxiv.org/pdf/2406.01234",
        "Sparse Routing Among Expert Adapters",
        "  sparse routing among EXPERT adapters ",
        "Sparse Routing Amongst Expert Adapters",  # one word misspelt: the closest title
    ],
)
async def test_a_paper_is_named_by_key_id_url_or_title(teach: Teach, ref: str) -> None:
    given = await teach.give(CHANNEL, "U1", ref, 1, "command")
    assert given.paper.key == "2406.01234" and given.vote == 1 and not given.replaced


async def test_a_paper_without_arxiv_id_is_named_by_its_title_or_key(teach: Teach) -> None:
    given = await teach.give(CHANNEL, "U1", "grounded radiology report generation", -1, "command")
    assert given.paper.title == "Grounded Radiology Report Generation"
    again = await teach.give(CHANNEL, "U1", given.paper.key, 1, "button")
    assert again.replaced and again.paper.key == given.paper.key


async def test_similar_titles_are_different_papers(teach: Teach) -> None:
    """An exact title wins; a title as close to two papers is refused, naming both."""
    assert (await teach.give(CHANNEL, "U1", "Qwen2 Technical Report", 1, "x")).paper.arxiv_id == (
        "2407.10671"
    )
    assert (await teach.give(CHANNEL, "U1", "Qwen3 technical report", 1, "x")).paper.arxiv_id == (
        "2505.09388"
    )
    with pytest.raises(AmbiguousPaper) as caught:
        await teach.give(CHANNEL, "U1", "Qwen Technical Report", 1, "x")
    assert "2407.10671" in str(caught.value) and "2505.09388" in str(caught.value)
    assert {p.arxiv_id for p in caught.value.candidates} == {"2407.10671", "2505.09388"}


@pytest.mark.parametrize(
    ("ref", "says"),
    [
        ("2999.99999", "arXiv 2999.99999 is not in the archive"),
        ("https://arxiv.org/abs/2999.99999", "not in the archive"),
        ("A Paper Nobody Wrote About Anything", "No archived paper has the title"),
        ("", "Which paper?"),
        ("x" * 400, "too long"),
    ],
)
async def test_an_unknown_paper_is_a_clear_error(teach: Teach, ref: str, says: str) -> None:
    with pytest.raises(UnknownPaper, match=says):
        await teach.give(CHANNEL, "U1", ref, 1, "command")
    assert await teach.listing(CHANNEL) == []


async def test_one_vote_per_person_and_paper_the_latest_counts(teach: Teach) -> None:
    await teach.give(CHANNEL, "U1", "2406.01234", 1, "button")
    await teach.give(CHANNEL, "U2", "2406.01234", 1, "reaction")
    given = await teach.give(CHANNEL, "U1", "2406.01234", -1, "command")
    assert given.replaced
    votes = await teach.listing(CHANNEL)
    assert sorted((v.user, v.vote, v.via) for v in votes) == [
        ("U1", -1, "command"),
        ("U2", 1, "reaction"),
    ]
    assert all(v.at == NOW for v in votes)


async def test_one_person_cannot_flood_a_channel(app: App, clock: Clock) -> None:
    teach = app.teach()
    fillers = [p.key for p in PAPERS if p.title.startswith("Filler")]
    for key in fillers[:VOTES_PER_WINDOW]:
        await teach.give(CHANNEL, "U1", key, 1, "button")
        clock.now += timedelta(seconds=10)
    with pytest.raises(RateLimited, match=f"{VOTES_PER_WINDOW} votes here in the last hour"):
        await teach.give(CHANNEL, "U1", fillers[VOTES_PER_WINDOW], 1, "button")
    # others, other channels and the operator's shell are not limited by it
    await teach.give(CHANNEL, "U2", fillers[VOTES_PER_WINDOW], 1, "button")
    await teach.give("discord:42", "U1", fillers[VOTES_PER_WINDOW], 1, "button")
    await teach.give(CHANNEL, "cli", fillers[VOTES_PER_WINDOW + 1], -1, "cli")
    clock.now = NOW + timedelta(hours=1, seconds=5)  # the first vote left the window
    await teach.give(CHANNEL, "U1", fillers[VOTES_PER_WINDOW], 1, "button")
    assert len([v for v in await teach.listing(CHANNEL) if v.user == "U1"]) == 31


async def test_a_reaction_counts_on_a_message_carrying_exactly_one_paper(app: App) -> None:
    teach = app.teach()
    single, a, b = PAPERS[0].key, PAPERS[3].key, PAPERS[4].key
    app.ledger.reserve(CHANNEL, [single, a, b], now=NOW, lease=LEASE)
    app.ledger.confirm(CHANNEL, [single], ref="1700000000.000100", now=NOW)
    app.ledger.confirm(CHANNEL, [a, b], ref="1700000000.000200", now=NOW)

    given = await teach.on_message(CHANNEL, "U1", "1700000000.000100", -1)
    assert given is not None and given.paper.key == single and given.vote == -1
    assert (await teach.listing(CHANNEL))[0].via == "reaction"
    assert await teach.papers_of_message(CHANNEL, "1700000000.000200") == sorted([a, b])
    assert await teach.on_message(CHANNEL, "U1", "1700000000.000200", 1) is None  # a digest
    assert await teach.on_message(CHANNEL, "U1", "someone-elses-message", 1) is None
    assert await teach.on_message("slack:OTHER", "U1", "1700000000.000100", 1) is None
    assert len(await teach.listing(CHANNEL)) == 1


async def test_a_removed_reaction_withdraws_the_vote_it_gave(app: App, clock: Clock) -> None:
    teach = app.teach()
    single, a, b = PAPERS[0].key, PAPERS[3].key, PAPERS[4].key
    app.ledger.reserve(CHANNEL, [single, a, b], now=NOW, lease=LEASE)
    app.ledger.confirm(CHANNEL, [single], ref="m1", now=NOW)
    app.ledger.confirm(CHANNEL, [a, b], ref="m2", now=NOW)

    assert await teach.on_message(CHANNEL, "U1", "m1", 1) is not None
    assert await teach.on_unreact(CHANNEL, "U1", "m1", -1) is None  # not the vote it gave
    clock.now = NOW + timedelta(minutes=3)
    gone = await teach.on_unreact(CHANNEL, "U1", "m1", 1)
    assert gone is not None
    assert (gone.channel_ref, gone.user, gone.paper_key, gone.vote, gone.via) == (
        CHANNEL,
        "U1",
        single,
        1,
        "reaction",
    )
    assert gone.at == NOW + timedelta(minutes=3)  # when it was withdrawn
    assert await teach.listing(CHANNEL) == []
    assert await teach.on_unreact(CHANNEL, "U1", "m1", 1) is None  # nothing left to withdraw

    # The person's later vote by button is theirs now; a digest's reaction is no vote.
    await teach.on_message(CHANNEL, "U1", "m1", 1)
    await teach.give(CHANNEL, "U1", single, 1, "button")
    await teach.give(CHANNEL, "U1", a, 1, "reaction")  # as if: the key of a digest's paper
    assert await teach.on_unreact(CHANNEL, "U1", "m1", 1) is None
    assert await teach.on_unreact(CHANNEL, "U1", "m2", 1) is None
    assert await teach.on_unreact(CHANNEL, "U1", "someone-elses", 1) is None
    assert sorted((v.paper_key, v.via) for v in await teach.listing(CHANNEL)) == sorted(
        [(single, "button"), (a, "reaction")]
    )


async def test_a_reaction_over_the_rate_limit_is_not_counted(app: App) -> None:
    teach = Teach(feedback=app.feedback, archive=app.archive, search=None, clock=app.clock, limit=1)
    app.ledger.reserve(CHANNEL, [PAPERS[0].key], now=NOW, lease=LEASE)
    app.ledger.confirm(CHANNEL, [PAPERS[0].key], ref="m1", now=NOW)
    await teach.give(CHANNEL, "U1", PAPERS[3].key, 1, "button")
    assert await teach.on_message(CHANNEL, "U1", "m1", 1) is None
    assert len(await teach.listing(CHANNEL)) == 1


async def test_clear_by_paper_or_all(teach: Teach) -> None:
    await teach.give(CHANNEL, "U1", "2406.01234", 1, "command")
    await teach.give(CHANNEL, "U2", "2406.01234", -1, "command")
    await teach.give(CHANNEL, "U1", "2410.00001", 1, "command")
    assert await teach.clear(CHANNEL, "Sparse Routing Among Expert Adapters") == 2
    assert await teach.clear(CHANNEL, "2406.01234") == 0
    with pytest.raises(UnknownPaper):
        await teach.clear(CHANNEL, "2999.99999")
    assert await teach.clear(CHANNEL) == 1
    assert await teach.listing(CHANNEL) == []


async def test_the_channel_model_is_learned_from_its_votes_only(app: App) -> None:
    teach = app.teach()
    assert await teach.learned(CHANNEL, PAPERS) is None  # no feedback
    await teach.give(CHANNEL, "U1", "2406.01234", 1, "command")
    await teach.give(CHANNEL, "U1", "Verified Rust from Specifications", -1, "command")
    model = await teach.learned(CHANNEL, PAPERS)
    assert model is not None
    assert model.score(PAPERS[0]) > 0 > model.score(PAPERS[4])
    assert await teach.learned(CHANNEL) is not None  # the archive's recent papers as background
    models = teach.learned_of([CHANNEL, *(f"slack:C{i}" for i in range(100))], PAPERS)
    assert list(models) == [CHANNEL]
