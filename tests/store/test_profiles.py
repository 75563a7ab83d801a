"""Channel profiles: config seeding (the most recent change wins), chat edits, limits and
concurrent edits, on a real SQLite file."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, select

from bot.errors import ConfigError, StoreError
from bot.models import Profile
from bot.settings import ChannelSettings
from bot.store.db import make_engine
from bot.store.profile_rules import DEFAULTS, MAX_TOPIC_CHARS, MAX_TOPICS, format_profile
from bot.store.profiles import ProfileStore, UnknownChannelError, next_stamp
from bot.store.schema import channels
from bot.store.seeding import merge_seed

T0 = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)


def _ch(channel_id: str = "C1", **fields: Any) -> Profile:
    """A configured channel's profile, validated as the configuration file is."""
    settings = ChannelSettings.model_validate({"platform": "slack", "id": channel_id, **fields})
    return settings.profile()


def _topics(store: ProfileStore, channel_id: str = "C1") -> tuple[str, ...]:
    profile = store.get("slack", channel_id)
    assert profile is not None
    return profile.topics


def _updated_at(engine: Engine) -> list[datetime]:
    with engine.connect() as conn:
        return list(conn.execute(select(channels.c.updated_at).order_by(channels.c.id)).scalars())


# --- the merge decision, as a pure function ---------------------------------------------


def test_merge_applies_operator_edits_and_keeps_untouched_fields() -> None:
    seeded = {**DEFAULTS, "topics": ["moe"], "max_posts": 10}
    db = {**seeded, "topics": ["moe", "rlhf"]}  # rlhf added from chat
    config = {**seeded, "max_posts": 5}  # the operator changed max_posts only
    merged = merge_seed(db, seeded, config)
    assert merged.values["topics"] == ["moe", "rlhf"]
    assert merged.values["max_posts"] == 5
    assert merged.changed == ("max_posts",)
    assert merged.seeded == config


def test_merge_with_nothing_edited_changes_nothing() -> None:
    seeded = {**DEFAULTS, "topics": ["moe"]}
    db = {**seeded, "topics": [], "post_empty": True}
    assert merge_seed(db, seeded, seeded) == (db, seeded, ())


def test_merge_an_edit_the_database_already_has_updates_only_seeded() -> None:
    seeded = {**DEFAULTS, "topics": ["moe"]}
    db = {**seeded, "topics": ["moe", "rlhf"]}
    config = {**seeded, "topics": ["moe", "rlhf"]}
    merged = merge_seed(db, seeded, config)
    assert merged.changed == () and merged.values == db and merged.seeded == config


def test_merge_never_seeded_counts_as_seeded_with_defaults() -> None:
    db = {**DEFAULTS, "topics": ["rlhf"]}  # created from chat
    config = {**DEFAULTS, "name": "#ml", "max_posts": 3}
    merged = merge_seed(db, None, config)
    assert merged.values == {**db, "name": "#ml", "max_posts": 3}
    assert merged.changed == ("name", "max_posts")


# --- seeding ----------------------------------------------------------------------------


def test_seed_creates_channels_from_the_config(engine: Engine) -> None:
    store = ProfileStore(engine)
    config = [
        _ch("C2", topics=["multi-task  learning"], max_posts=0, lookback="12h"),
        _ch("C1", name="#papers", topics=["moe"], timezone="Europe/Berlin", post_empty=True),
    ]
    report = store.seed(config, now=T0)
    assert report.created == ("slack:C2", "slack:C1")
    assert (report.updated, report.unchanged, report.not_in_config) == ((), (), ())
    assert store.all() == [
        Profile("slack", "C1", "#papers", ("moe",), timezone="Europe/Berlin", post_empty=True),
        Profile(
            "slack",
            "C2",
            topics=("multi-task learning",),
            max_posts=0,
            lookback=timedelta(hours=12),
        ),
    ]


def test_reseeding_the_same_config_changes_nothing(engine: Engine) -> None:
    store = ProfileStore(engine)
    config = [_ch("C1", topics=["moe"]), _ch("C2")]
    store.seed(config, now=T0)
    before, stamps = store.all(), _updated_at(engine)
    report = store.seed(config, now=T0 + timedelta(days=1))
    assert report.unchanged == ("slack:C1", "slack:C2") and not report.created
    assert store.all() == before and _updated_at(engine) == stamps
    assert report.summary() == "channel profiles: 0 created, 0 updated, 2 unchanged"


def test_topic_added_from_chat_survives_a_restart(engine: Engine) -> None:
    store = ProfileStore(engine)
    config = [_ch(topics=["moe"])]
    store.seed(config, now=T0)
    assert store.add_topic("slack", "C1", "RLHF", now=T0 + timedelta(hours=1))
    report = store.seed(config, now=T0 + timedelta(days=1))
    assert report.unchanged == ("slack:C1",)
    assert _topics(store) == ("moe", "RLHF")


def test_operator_edit_of_topics_overrides_the_chat_change(engine: Engine) -> None:
    store = ProfileStore(engine)
    store.seed([_ch(topics=["moe"])], now=T0)
    store.add_topic("slack", "C1", "rlhf", now=T0 + timedelta(hours=1))
    report = store.seed([_ch(topics=["moe", "diffusion"])], now=T0 + timedelta(days=1))
    assert report.updated == (("slack:C1", ("topics",)),)
    assert _topics(store) == ("moe", "diffusion")
    # The edit is now the baseline: a later chat change survives the next restart.
    store.add_topic("slack", "C1", "rlhf", now=T0 + timedelta(days=2))
    store.seed([_ch(topics=["moe", "diffusion"])], now=T0 + timedelta(days=3))
    assert _topics(store) == ("moe", "diffusion", "rlhf")


def test_operator_edit_of_one_field_keeps_chat_topics(engine: Engine) -> None:
    store = ProfileStore(engine)
    store.seed([_ch(topics=["moe"], max_posts=10)], now=T0)
    store.remove_topic("slack", "C1", "MoE", now=T0 + timedelta(hours=1))
    store.add_topic("slack", "C1", "rlhf", now=T0 + timedelta(hours=1))
    report = store.seed([_ch(topics=["moe"], max_posts=3)], now=T0 + timedelta(days=1))
    assert report.updated == (("slack:C1", ("max_posts",)),)
    profile = store.get("slack", "C1")
    assert profile is not None
    assert profile.topics == ("rlhf",) and profile.max_posts == 3


def test_channels_missing_from_the_config_are_kept_and_reported(engine: Engine) -> None:
    """A chat channel stays; a config channel that left the config is kept, marked removed
    (issue 17: no more digests; tests/store/test_channel_state.py has the rest)."""
    store = ProfileStore(engine)
    store.seed([_ch("C1"), _ch("C2")], now=T0)
    store.ensure("discord", "42", now=T0)  # first seen from chat
    report = store.seed([_ch("C2")], now=T0 + timedelta(days=1))
    assert report.not_in_config == ("discord:42",)
    assert report.removed == ("slack:C1",)
    assert [p.ref for p in store.all()] == ["discord:42", "slack:C2"]
    assert [c.ref for c in store.channels()] == ["discord:42", "slack:C1", "slack:C2"]
    assert report.summary().endswith(
        "removed, no longer in the config (history kept): slack:C1; "
        "kept, created from chat: discord:42"
    )


def test_chat_created_channel_later_configured_keeps_its_topics(engine: Engine) -> None:
    store = ProfileStore(engine)
    store.ensure("slack", "C1", now=T0)
    store.add_topic("slack", "C1", "moe", now=T0)
    report = store.seed([_ch(name="#ml", max_posts=3)], now=T0 + timedelta(days=1))
    assert report.updated == (("slack:C1", ("name", "max_posts")),)
    assert store.get("slack", "C1") == Profile("slack", "C1", "#ml", ("moe",), max_posts=3)


def test_preview_shows_what_seed_makes_and_writes_nothing(engine: Engine) -> None:
    store = ProfileStore(engine)
    store.seed([_ch("C1", topics=["moe"]), _ch("C2")], now=T0)
    store.add_topic("slack", "C1", "rlhf", now=T0)  # a chat edit the config must not undo
    store.ensure("discord", "42", now=T0)  # created from chat, not in the config
    config = [_ch("C1", topics=["moe"], max_posts=3), _ch("C3", topics=["speech"])]
    before, stamps = store.all(), _updated_at(engine)
    plan = store.preview(config)
    assert store.all() == before and _updated_at(engine) == stamps
    assert plan.report.created == ("slack:C3",)
    assert plan.report.updated == (("slack:C1", ("max_posts",)),)
    assert plan.report.not_in_config == ("discord:42",)
    assert plan.report.removed == ("slack:C2",)  # left the config (issue 17)
    assert [w.ref for w in plan.writes] == [("slack", "C1"), ("slack", "C3"), ("slack", "C2")]
    assert [p.ref for p in plan.profiles] == ["discord:42", "slack:C1", "slack:C3"]
    assert [(c.ref, c.state) for c in plan.channels] == [
        ("discord:42", "active"),
        ("slack:C1", "active"),
        ("slack:C2", "removed"),
        ("slack:C3", "active"),
    ]
    report = store.seed(config, now=T0 + timedelta(days=1))
    assert list(plan.profiles) == store.all() and plan.report == report
    assert store.preview(config).writes == ()  # seeded: nothing left to apply


def test_preview_of_an_empty_database_is_the_config(engine: Engine) -> None:
    plan = ProfileStore(engine).preview([_ch("C1", topics=["moe"], lookback="2d")])
    assert plan.profiles == (Profile("slack", "C1", topics=("moe",), lookback=timedelta(days=2)),)
    assert ProfileStore(engine).all() == []


def test_config_over_the_limits_is_refused_before_writing(engine: Engine) -> None:
    store = ProfileStore(engine)
    too_many = [f"topic {i}" for i in range(MAX_TOPICS + 1)]
    with pytest.raises(ConfigError, match=r"slack:C2: a channel can have at most 50 topics"):
        store.seed([_ch("C1"), _ch("C2", topics=too_many)], now=T0)
    with pytest.raises(ConfigError, match="exclusion can be at most 200 characters"):
        store.seed([_ch(exclude=["x" * (MAX_TOPIC_CHARS + 1)])], now=T0)
    with pytest.raises(ConfigError, match=r"slack:C1: invalid schedule '9am'"):
        store.seed([_ch(schedule="9am")], now=T0)
    assert store.all() == []


def test_config_duplicates_ignoring_case_are_dropped(engine: Engine) -> None:
    store = ProfileStore(engine)
    store.seed([_ch(topics=["MoE", "moe", "RLHF"])], now=T0)
    assert _topics(store) == ("MoE", "RLHF")


# --- chat edits --------------------------------------------------------------------------


def test_add_and_remove_topic_are_idempotent_and_ignore_case(engine: Engine) -> None:
    store = ProfileStore(engine)
    store.ensure("slack", "C1", now=T0)
    assert store.add_topic("slack", "C1", "  Multi-Task   Learning ", now=T0)
    assert _topics(store) == ("Multi-Task Learning",)  # as typed, spacing collapsed
    assert not store.add_topic("slack", "C1", "multi-task learning", now=T0)
    assert not store.remove_topic("slack", "C1", "moe", now=T0)
    assert store.remove_topic("slack", "C1", "MULTI-TASK  LEARNING", now=T0)
    assert not store.remove_topic("slack", "C1", "multi-task learning", now=T0)
    assert _topics(store) == ()


def test_exclusions_are_edited_like_topics(engine: Engine) -> None:
    store = ProfileStore(engine)
    store.ensure("slack", "C1", now=T0)
    assert store.add_exclude("slack", "C1", "Medical", now=T0)
    assert not store.add_exclude("slack", "C1", "medical", now=T0)
    assert store.remove_exclude("slack", "C1", "MEDICAL", now=T0)
    assert not store.remove_exclude("slack", "C1", "medical", now=T0)


def test_topic_limits(engine: Engine) -> None:
    store = ProfileStore(engine)
    store.ensure("slack", "C1", now=T0)
    with pytest.raises(ValueError, match="at most 200 characters long \\(got 201\\)"):
        store.add_topic("slack", "C1", "x" * (MAX_TOPIC_CHARS + 1), now=T0)
    with pytest.raises(ValueError, match="must not be empty"):
        store.add_topic("slack", "C1", "  ", now=T0)
    assert store.add_topic("slack", "C1", "x" * MAX_TOPIC_CHARS, now=T0)
    for i in range(MAX_TOPICS - 1):
        store.add_topic("slack", "C1", f"topic {i}", now=T0)
    with pytest.raises(ValueError, match="at most 50 topics; remove one first"):
        store.add_topic("slack", "C1", "one too many", now=T0)
    assert not store.add_topic("slack", "C1", "TOPIC 1", now=T0)  # known: not a new one
    assert len(_topics(store)) == MAX_TOPICS


def test_editing_a_channel_without_a_profile_says_so(engine: Engine) -> None:
    store = ProfileStore(engine)
    with pytest.raises(UnknownChannelError, match="slack:C9 has no profile"):
        store.add_topic("slack", "C9", "moe", now=T0)


def test_ensure_creates_once_with_defaults(engine: Engine) -> None:
    store = ProfileStore(engine)
    created = store.ensure("discord", "42", name="#papers", now=T0)
    assert created == Profile("discord", "42", "#papers")
    store.add_topic("discord", "42", "moe", now=T0)
    assert store.ensure("discord", "42", now=T0).topics == ("moe",)
    with pytest.raises(ValueError, match="unknown platform 'irc'"):
        store.ensure("irc", "x", now=T0)


def test_set_schedule_validates_cron_and_zone(engine: Engine) -> None:
    store = ProfileStore(engine)
    store.ensure("slack", "C1", now=T0)
    assert store.set_schedule("slack", "C1", "30  7 * * mon-fri", "Europe/Berlin", now=T0)
    assert not store.set_schedule("slack", "C1", "30 7 * * mon-fri", "Europe/Berlin", now=T0)
    profile = store.get("slack", "C1")
    assert profile is not None
    assert (profile.schedule, profile.timezone) == ("30 7 * * mon-fri", "Europe/Berlin")
    with pytest.raises(ValueError, match="unknown time zone 'Mars/Base'"):
        store.set_schedule("slack", "C1", "0 9 * * *", "Mars/Base", now=T0)
    with pytest.raises(ValueError, match="invalid schedule '0 9 \\* \\*'"):
        store.set_schedule("slack", "C1", "0 9 * *", "UTC", now=T0)


def test_every_write_moves_updated_at_forward() -> None:
    assert next_stamp(T0, T0 + timedelta(seconds=1)) == T0 + timedelta(seconds=1)
    assert next_stamp(T0, T0) == T0 + timedelta(microseconds=1)  # same clock tick
    assert next_stamp(T0, T0 - timedelta(hours=1)) == T0 + timedelta(microseconds=1)


def test_concurrent_edits_from_two_processes_all_persist(engine: Engine, database: str) -> None:
    # A second engine on the same database stands for a second process.
    other = make_engine(database)
    store_a, store_b = ProfileStore(engine), ProfileStore(other)
    store_a.ensure("slack", "C1", now=T0)
    topics = [f"topic {i}" for i in range(20)]
    with ThreadPoolExecutor(max_workers=20) as pool:
        results = list(
            pool.map(
                lambda i: (store_a if i % 2 else store_b).add_topic(
                    "slack", "C1", topics[i], now=T0
                ),
                range(len(topics)),
            )
        )
    assert all(results)
    assert sorted(_topics(store_a)) == sorted(topics)
    stamps = _updated_at(engine)
    assert stamps == [T0 + timedelta(microseconds=len(topics))]  # 20 distinct writes
    other.dispose()


def test_database_failure_is_a_store_error(database: str) -> None:
    unmigrated = make_engine(database)
    store = ProfileStore(unmigrated)
    with pytest.raises(StoreError, match="cannot read channel profiles"):
        store.all()
    with pytest.raises(StoreError, match="cannot update channel slack:C1"):
        store.ensure("slack", "C1", now=T0)
    unmigrated.dispose()


def test_format_profile() -> None:
    profile = Profile(
        "slack",
        "C1",
        "#ml-papers",
        ("moe", "multi-task learning"),
        max_posts=0,
        timezone="Europe/Berlin",
        lookback=timedelta(hours=12),
    )
    assert format_profile(profile) == (
        "slack:C1 (#ml-papers)\n"
        "  topics:     moe, multi-task learning\n"
        "  exclude:    (none)\n"
        "  authors:    (none)\n"
        "  max posts:  no cap\n"
        "  schedule:   0 9 * * mon-fri (Europe/Berlin)\n"
        "  lookback:   12h\n"
        "  post empty: no"
    )
    assert "lookback:   1d" in format_profile(Profile("discord", "42", max_posts=5))
    assert "max posts:  5" in format_profile(Profile("discord", "42", max_posts=5))
