"""The feedback table on SQLite and PostgreSQL: one vote per (channel, user, paper), the
latest wins; reads per channel and for many channels at once; clearing; the rate-limit
count; the papers of a posted message; re-keying."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.exc import IntegrityError

from bot.errors import StoreError
from bot.models import Feedback
from bot.store import schema
from bot.store.feedback import FeedbackStore, rekey_feedback
from bot.store.ledger import Ledger

T0 = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)


def fb(user: str, key: str, vote: int = 1, minutes: int = 0, channel: str = "slack:C1") -> Feedback:
    return Feedback(
        channel, user, key, 1 if vote > 0 else -1, T0 + timedelta(minutes=minutes), "command"
    )


def test_the_latest_vote_of_a_person_on_a_paper_replaces_the_earlier(engine: Engine) -> None:
    store = FeedbackStore(engine)
    assert store.record(fb("U1", "2406.01234", 1)) is False
    assert store.record(fb("U2", "2406.01234", 1, minutes=1)) is False
    assert store.record(fb("U1", "2406.01234", -1, minutes=2)) is True
    votes = store.votes("slack:C1")
    assert [(v.user, v.paper_key, v.vote, v.at) for v in votes] == [
        ("U2", "2406.01234", 1, T0 + timedelta(minutes=1)),
        ("U1", "2406.01234", -1, T0 + timedelta(minutes=2)),
    ]
    assert votes[0].at.tzinfo is not None and votes[1].via == "command"
    assert store.votes("slack:OTHER") == []


def test_the_database_keeps_one_row_per_channel_user_paper(engine: Engine) -> None:
    row = {"channel": "c", "user": "u", "paper_key": "k", "vote": 1, "at": T0, "via": "cli"}
    with engine.begin() as conn:
        conn.execute(schema.feedback.insert().values(**row))
    with pytest.raises(IntegrityError), engine.begin() as conn:
        conn.execute(schema.feedback.insert().values(**row))


def test_votes_of_many_channels_in_one_read_leaves_out_those_without(engine: Engine) -> None:
    store = FeedbackStore(engine)
    store.record(fb("U1", "a", channel="slack:C1"))
    store.record(fb("U1", "b", -1, channel="discord:9"))
    found = store.votes_of([f"slack:X{i}" for i in range(6000)] + ["slack:C1", "discord:9"])
    assert {ref: [v.paper_key for v in vs] for ref, vs in found.items()} == {
        "slack:C1": ["a"],
        "discord:9": ["b"],
    }


def test_clear_a_channel_or_one_paper(engine: Engine) -> None:
    store = FeedbackStore(engine)
    for user, key in [("U1", "a"), ("U2", "a"), ("U1", "b")]:
        store.record(fb(user, key))
    store.record(fb("U1", "a", channel="slack:C2"))
    assert store.clear("slack:C1", "a") == 2
    assert [v.paper_key for v in store.votes("slack:C1")] == ["b"]
    assert store.clear("slack:C1") == 1
    assert store.votes("slack:C1") == []
    assert len(store.votes("slack:C2")) == 1  # other channels keep theirs


def test_recent_counts_a_persons_votes_in_a_channel_since(engine: Engine) -> None:
    store = FeedbackStore(engine)
    for i in range(5):
        store.record(fb("U1", f"p{i}", minutes=i * 20))
    store.record(fb("U2", "p9", minutes=90))
    assert store.recent("slack:C1", "U1", T0) == 5
    assert store.recent("slack:C1", "U1", T0 + timedelta(minutes=40)) == 3
    assert store.recent("slack:C1", "U2", T0) == 1
    assert store.recent("slack:C2", "U1", T0) == 0


def test_withdraw_deletes_only_the_vote_a_matching_reaction_gave(engine: Engine) -> None:
    store = FeedbackStore(engine)

    def given(user: str, key: str, vote: int, via: str, channel: str = "slack:C1") -> None:
        store.record(
            Feedback(channel, user, key, 1 if vote > 0 else -1, T0, via)  # type: ignore[arg-type]
        )

    given("U1", "a", 1, "reaction")
    given("U1", "b", 1, "button")  # the person's later vote by button: not the reaction's
    given("U1", "c", -1, "reaction")
    given("U2", "a", 1, "reaction")
    given("U1", "a", 1, "reaction", channel="slack:C2")
    # Another direction, another person, paper or channel: nothing withdrawn.
    assert store.withdraw("slack:C1", "U1", "a", vote=-1, via="reaction") is False
    assert store.withdraw("slack:C1", "U3", "a", vote=1, via="reaction") is False
    assert store.withdraw("slack:C1", "U1", "zzz", vote=1, via="reaction") is False
    assert store.withdraw("slack:C3", "U1", "a", vote=1, via="reaction") is False
    assert store.withdraw("slack:C1", "U1", "b", vote=1, via="reaction") is False
    assert store.withdraw("slack:C1", "U1", "c", vote=1, via="reaction") is False
    # The matching one goes, once; the rest stay.
    assert store.withdraw("slack:C1", "U1", "a", vote=1, via="reaction") is True
    assert store.withdraw("slack:C1", "U1", "a", vote=1, via="reaction") is False
    assert sorted((v.user, v.paper_key, v.vote, v.via) for v in store.votes("slack:C1")) == [
        ("U1", "b", 1, "button"),
        ("U1", "c", -1, "reaction"),
        ("U2", "a", 1, "reaction"),
    ]
    assert len(store.votes("slack:C2")) == 1
    # Without conditions, the person's vote on the paper goes whatever gave it.
    assert store.withdraw("slack:C1", "U1", "b") is True
    assert store.withdraw("slack:C1", "U1", "c", via="reaction") is True
    assert [(v.user, v.paper_key) for v in store.votes("slack:C1")] == [("U2", "a")]


def test_the_papers_of_a_posted_message_come_from_the_ledger(engine: Engine) -> None:
    ledger, store = Ledger(engine), FeedbackStore(engine)
    lease = timedelta(minutes=5)
    ledger.reserve("slack:C1", ["a", "b", "c"], now=T0, lease=lease)
    ledger.confirm("slack:C1", ["a"], ref="1700000000.0001", now=T0)
    ledger.confirm("slack:C1", ["b", "c"], ref="1700000000.0002", now=T0)
    assert store.papers_of_message("slack:C1", "1700000000.0001") == ["a"]
    assert store.papers_of_message("slack:C1", "1700000000.0002") == ["b", "c"]
    assert store.papers_of_message("slack:C1", "nope") == []
    assert store.papers_of_message("slack:C2", "1700000000.0001") == []
    ledger.reserve("slack:C1", ["d"], now=T0, lease=lease)  # pending: not a posted message
    with engine.connect() as conn:
        refs = conn.execute(select(schema.posted.c.message_ref)).scalars().all()
    assert all(store.papers_of_message("slack:C1", r) != ["d"] for r in refs if r)


def test_rekeying_follows_the_paper_and_keeps_each_persons_newest_vote(engine: Engine) -> None:
    store = FeedbackStore(engine)
    store.record(fb("U1", "some title", 1, minutes=0))
    store.record(fb("U1", "2406.01234", -1, minutes=5))  # newer, on the new key
    store.record(fb("U2", "some title", 1, minutes=1))
    with engine.begin() as conn:
        rekey_feedback(conn, "some title", "2406.01234")
    assert sorted((v.user, v.paper_key, v.vote) for v in store.votes("slack:C1")) == [
        ("U1", "2406.01234", -1),
        ("U2", "2406.01234", 1),
    ]


def test_a_failing_database_is_a_store_error(engine: Engine) -> None:
    store = FeedbackStore(engine)
    with engine.begin() as conn:
        conn.exec_driver_sql("DROP TABLE feedback")
    with pytest.raises(StoreError, match="feedback"):
        store.votes("slack:C1")
