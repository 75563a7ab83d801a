"""A channel's lifecycle in the store (issue 17 item 2): origin and state, seeding a channel
that left the configuration or came back, pause / resume / remove by hand, `move` with its
history, and migration 0010's reading of existing channels. On SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Column, Engine, MetaData, Table, func, insert, null, select

from bot.models import Profile
from bot.settings import ChannelSettings
from bot.store.db import make_engine
from bot.store.migrations import _upgrade_to, migrate
from bot.store.profile_rules import ACTIVE, CHAT, CONFIG, PAUSED, REMOVED
from bot.store.profiles import ChannelStateError, ProfileStore, UnknownChannelError
from bot.store.schema import channels, digest_runs, feedback, posted

T0 = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
LATER = T0 + timedelta(days=1)
NEW_COLUMNS = {"origin", "state", "state_by", "state_at"}  # migration 0010


def _ch(channel_id: str = "C1", **fields: Any) -> Profile:
    settings = ChannelSettings.model_validate({"platform": "slack", "id": channel_id, **fields})
    return settings.profile()


def _state(store: ProfileStore, channel_id: str, platform: str = "slack") -> tuple[str, str]:
    entry = store.entry(platform, channel_id)
    assert entry is not None
    return entry.origin, entry.state


def _history(engine: Engine, ref: str, *, papers: tuple[str, ...] = ("p1", "p2")) -> None:
    """Posted papers, a digest run and a vote of channel `ref`."""
    with engine.begin() as conn:
        for key in papers:
            conn.execute(
                insert(posted).values(
                    channel=ref, paper_key=key, status="posted", posted_at=T0, message_ref="m1"
                )
            )
        conn.execute(
            insert(digest_runs).values(
                channel=ref, started_at=T0, finished_at=T0, status="done", posted=len(papers)
            )
        )
        conn.execute(
            insert(feedback).values(
                channel=ref, user="U1", paper_key=papers[0], vote=1, at=T0, via="cli"
            )
        )


def _count(engine: Engine, table: Any, ref: str) -> int:
    with engine.connect() as conn:
        query = select(func.count()).select_from(table).where(table.c.channel == ref)
        return int(conn.execute(query).scalar_one())


def test_origin_is_configuration_or_chat(engine: Engine) -> None:
    store = ProfileStore(engine)
    store.seed([_ch("C1")], now=T0)
    store.ensure("slack", "C2", now=T0)
    assert _state(store, "C1") == (CONFIG, ACTIVE)
    assert _state(store, "C2") == (CHAT, ACTIVE)
    store.seed([_ch("C1"), _ch("C2")], now=LATER)  # the operator lists the chat channel
    assert _state(store, "C2") == (CONFIG, ACTIVE)


def test_a_channel_that_left_the_configuration_is_removed_and_comes_back(engine: Engine) -> None:
    store = ProfileStore(engine)
    store.seed([_ch("C1", topics=["moe"]), _ch("C2")], now=T0)
    store.add_topic("slack", "C1", "rlhf", now=T0)  # a chat edit
    _history(engine, "slack:C1")
    report = store.seed([_ch("C2")], now=LATER)
    assert report.removed == ("slack:C1",)
    assert _state(store, "C1") == (CONFIG, REMOVED)
    assert [p.ref for p in store.all()] == ["slack:C2"]  # no digests for it
    assert _count(engine, posted, "slack:C1") == 2  # its ledger is intact
    again = store.seed([_ch("C2")], now=LATER)  # reported once
    assert again.removed == () and again.restored == ()
    back = store.seed([_ch("C1", topics=["moe"]), _ch("C2")], now=LATER + timedelta(days=1))
    assert back.restored == ("slack:C1",)
    assert _state(store, "C1") == (CONFIG, ACTIVE)
    profile = store.get("slack", "C1")
    assert profile is not None and profile.topics == ("moe", "rlhf")  # profile kept


def test_a_chat_channel_stays_until_removed_by_hand(engine: Engine) -> None:
    store = ProfileStore(engine)
    store.ensure("slack", "C9", now=T0)
    report = store.seed([_ch("C1")], now=LATER)
    assert report.not_in_config == ("slack:C9",) and report.removed == ()
    assert _state(store, "C9") == (CHAT, ACTIVE)
    assert store.remove("slack", "C9", now=LATER) is True
    assert store.remove("slack", "C9", now=LATER) is False
    assert _state(store, "C9") == (CHAT, REMOVED)
    assert store.seed([_ch("C1")], now=LATER).not_in_config == ()
    assert store.resume("slack", "C9", now=LATER) is True  # resume brings it back
    assert _state(store, "C9") == (CHAT, ACTIVE)


def test_pause_and_resume(engine: Engine) -> None:
    store = ProfileStore(engine)
    store.seed([_ch("C1"), _ch("C2")], now=T0)
    assert store.pause("slack", "C1", now=LATER) is True
    assert store.pause("slack", "C1", now=LATER) is False
    entry = store.entry("slack", "C1")
    assert entry is not None and entry.state == PAUSED and entry.state_at == LATER
    assert [p.ref for p in store.all()] == ["slack:C2"]
    report = store.seed([_ch("C1"), _ch("C2")], now=LATER)  # the config does not undo it
    assert _state(store, "C1") == (CONFIG, PAUSED) and report.held == ("slack:C1",)
    assert store.preview([_ch("C1"), _ch("C2")]).profiles == (_ch("C2"),)
    assert store.resume("slack", "C1", now=LATER) is True
    assert store.resume("slack", "C1", now=LATER) is False
    assert [p.ref for p in store.all()] == ["slack:C1", "slack:C2"]
    with pytest.raises(UnknownChannelError):
        store.pause("slack", "nope", now=LATER)


def test_what_does_not_apply_is_refused(engine: Engine) -> None:
    store = ProfileStore(engine)
    store.seed([_ch("C1"), _ch("C2")], now=T0)
    store.remove("slack", "C2", now=T0)
    with pytest.raises(ChannelStateError, match="is removed; resume it first"):
        store.pause("slack", "C2", now=T0)
    store.seed([_ch("C2")], now=LATER)  # C1 leaves the configuration
    with pytest.raises(ChannelStateError, match="put it back there"):
        store.resume("slack", "C1", now=LATER)


def test_removed_by_hand_while_configured_stays_removed_until_it_leaves_and_comes_back(
    engine: Engine,
) -> None:
    store = ProfileStore(engine)
    store.seed([_ch("C1")], now=T0)
    store.remove("slack", "C1", now=T0)
    assert store.seed([_ch("C1")], now=LATER).held == ("slack:C1",)
    assert _state(store, "C1") == (CONFIG, REMOVED)  # the operator's latest word
    store.seed([], now=LATER)  # then taken out of the configuration too
    back = store.seed([_ch("C1")], now=LATER + timedelta(days=1))  # and put back: restored
    assert back.restored == ("slack:C1",) and _state(store, "C1") == (CONFIG, ACTIVE)


def test_move_carries_profile_ledger_runs_and_feedback(engine: Engine) -> None:
    store = ProfileStore(engine)
    store.ensure("slack", "OLD", name="ml", now=T0)
    store.add_topic("slack", "OLD", "moe", now=T0)
    store.pause("slack", "OLD", now=T0)
    _history(engine, "slack:OLD")
    moved = store.move(("slack", "OLD"), ("slack", "NEW"), now=LATER)
    assert (moved.ref, moved.origin, moved.state) == ("slack:NEW", CHAT, PAUSED)
    assert moved.profile == Profile("slack", "NEW", "ml", ("moe",))
    assert store.entry("slack", "OLD") is None
    for table in (posted, digest_runs, feedback):
        assert _count(engine, table, "slack:OLD") == 0
    assert (_count(engine, posted, "slack:NEW"), _count(engine, digest_runs, "slack:NEW")) == (2, 1)
    assert _count(engine, feedback, "slack:NEW") == 1


def test_move_onto_a_channel_just_created_from_the_configuration(engine: Engine) -> None:
    """The operator renamed the id in the configuration: seeding removed OLD and created NEW
    (no history); the move keeps OLD's profile and history under NEW, active as configured."""
    store = ProfileStore(engine)
    store.seed([_ch("OLD", topics=["moe"])], now=T0)
    store.add_topic("slack", "OLD", "rlhf", now=T0)
    _history(engine, "slack:OLD")
    store.seed([_ch("NEW", topics=["moe"])], now=LATER)
    assert _state(store, "OLD") == (CONFIG, REMOVED)
    moved = store.move(("slack", "OLD"), ("slack", "NEW"), now=LATER)
    assert (moved.origin, moved.state) == (CONFIG, ACTIVE)
    assert moved.profile.topics == ("moe", "rlhf")
    report = store.seed([_ch("NEW", topics=["moe"])], now=LATER + timedelta(hours=1))
    assert report.unchanged == ("slack:NEW",) and report.removed == ()
    assert [c.ref for c in store.channels()] == ["slack:NEW"]


def test_move_refuses_to_mix_two_histories(engine: Engine) -> None:
    store = ProfileStore(engine)
    store.seed([_ch("A"), _ch("B")], now=T0)
    _history(engine, "slack:B")
    with pytest.raises(ChannelStateError, match="slack:B already has posted"):
        store.move(("slack", "A"), ("slack", "B"), now=LATER)
    with pytest.raises(ChannelStateError):
        store.move(("slack", "A"), ("slack", "A"), now=LATER)
    with pytest.raises(UnknownChannelError):
        store.move(("slack", "Z"), ("slack", "Y"), now=LATER)
    with pytest.raises(ValueError, match="unknown platform"):
        store.move(("slack", "A"), ("irc", "Y"), now=LATER)
    assert [c.ref for c in store.channels()] == ["slack:A", "slack:B"]  # nothing changed


def test_migration_0010_reads_existing_channels(database: str) -> None:
    """Channels of a version-9 database are active; those never seeded came from chat."""
    engine = make_engine(database)
    try:
        old_columns = [
            Column(c.name, c.type) for c in channels.columns if c.name not in NEW_COLUMNS
        ]
        version_9 = Table("channels", MetaData(), *old_columns)
        row = {
            "platform": "slack",
            "topics": [],
            "exclude": [],
            "authors": [],
            "max_posts": 10,
            "schedule": "0 9 * * mon-fri",
            "timezone": "UTC",
            "lookback_seconds": 86400,
            "post_empty": False,
            "created_at": T0,
            "updated_at": T0,
        }
        with engine.begin() as conn:
            _upgrade_to(conn, 9)
            conn.execute(insert(version_9).values(channel_id="C1", seeded={"topics": []}, **row))
            conn.execute(insert(version_9).values(channel_id="C2", seeded=null(), **row))
        assert migrate(engine) == 9
        store = ProfileStore(engine)
        assert _state(store, "C1") == (CONFIG, ACTIVE)
        assert _state(store, "C2") == (CHAT, ACTIVE)
        with engine.connect() as conn:
            assert conn.execute(select(channels.c.state_by)).scalars().all() == [None, None]
    finally:
        engine.dispose()
