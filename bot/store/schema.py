"""The current database schema as SQLAlchemy Core tables. The revisions of
bot/store/alembic/versions/ create it (tests/store/test_migrations_upgrade.py checks that
they agree); a change here needs a new revision there."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Date,
    DateTime,
    Dialect,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
    false,
)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite stores them naive)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store; use timezone-aware UTC")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        assert isinstance(value, datetime)
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


metadata = MetaData()

schema_version = Table(
    "schema_version",
    metadata,
    Column("version", Integer, primary_key=True),
    Column("description", Text, nullable=False),
    Column("applied_at", UTCDateTime, nullable=False),
)

papers = Table(
    "papers",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("key", String(512), nullable=False, unique=True),
    Column("arxiv_id", String(64), unique=True),
    Column("title", Text, nullable=False),
    Column("title_norm", String(512), nullable=False, index=True),
    Column("abstract", Text, nullable=False, default=""),
    Column("authors", JSON, nullable=False, default=list),
    Column("published", UTCDateTime),
    Column("daily_date", Date),
    Column("upvotes", Integer),
    Column("ai_summary", Text),
    Column("ai_keywords", JSON, nullable=False, default=list),
    Column("github_repo", Text),
    Column("project_page", Text),
    Column("categories", JSON, nullable=False, default=list),
    Column("announce_type", String(32)),
    Column("sources", JSON, nullable=False, default=list),
    Column("first_seen", UTCDateTime, nullable=False, index=True),
    Column("updated_at", UTCDateTime, nullable=False),
)

# Per source: conditional-GET validators, the last fetch's outcome, and the fetch lease
# (`lease_until`) that keeps replicas sharing a database to one fetch per interval.
source_state = Table(
    "source_state",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("location", Text),
    Column("etag", Text),
    Column("last_modified", Text),
    Column("last_attempt", UTCDateTime),
    Column("last_success", UTCDateTime),
    Column("last_result", Text),
    Column("last_error", Text),
    Column("consecutive_failures", Integer, nullable=False, default=0),
    Column("lease_until", UTCDateTime),
)

# A channel's interest profile. Chat edits write the profile columns; `seeded` holds the
# config values last applied to them (see bot/store/seeding.py for which wins). Webhook
# URLs are secrets: they stay in the settings and are never stored here. Its lifecycle
# (bot/store/seeding.py): `origin` "config" (listed in the configuration) or "chat"
# (created from chat); `state` "active", "paused" or "removed", set by `state_by` ("config":
# the channel left the configuration; "hand": paused or removed from chat or the shell) at
# `state_at`.
channels = Table(
    "channels",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("platform", String(32), nullable=False),
    Column("channel_id", String(128), nullable=False),
    Column("name", Text),
    Column("topics", JSON, nullable=False),
    Column("exclude", JSON, nullable=False),
    Column("authors", JSON, nullable=False),
    Column("max_posts", Integer, nullable=False),
    Column("schedule", Text, nullable=False),
    Column("timezone", String(64), nullable=False),
    Column("lookback_seconds", Integer, nullable=False),
    Column("post_empty", Boolean, nullable=False),
    Column("seeded", JSON),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("origin", String(16), nullable=False, server_default="config"),
    Column("state", String(16), nullable=False, server_default="active"),
    Column("state_by", String(16)),
    Column("state_at", UTCDateTime),
    # issue 19 (migration 0013): the weekly digest's schedule (cron, in `timezone`; null: no
    # weekly digest); `kind` "channel" or "person" (a person's own profile, delivered by
    # DM: `channel_id` is then their user id, unique beside channel ids on both platforms:
    # Slack user ids and channel ids differ in their first letter, Discord snowflakes are
    # unique across kinds); a person's `home` channel (ref) and `include_channel_posts`;
    # `state_reason` why a channel or person was paused by the bot (a DM refused);
    # `notified_at` when the person was told so.
    Column("weekly", Text),
    Column("kind", String(16), nullable=False, server_default="channel"),
    Column("home", String(200)),
    Column("include_channel_posts", Boolean, nullable=False, server_default=false()),
    Column("state_reason", Text),
    Column("notified_at", UTCDateTime),
    UniqueConstraint("platform", "channel_id", name="uq_channels_platform_channel_id"),
)

# The posted ledger: one row per (channel, paper). `status` is "pending" while a post is
# in flight (reserved until `lease_until`), "posted" once the platform confirmed it.
posted = Table(
    "posted",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("channel", String(200), nullable=False),
    Column("paper_key", String(512), nullable=False),
    Column("status", String(16), nullable=False),
    Column("lease_until", UTCDateTime),
    Column("posted_at", UTCDateTime),
    Column("message_ref", Text),
    UniqueConstraint("channel", "paper_key", name="uq_posted_channel_paper"),
    # a digest cycle reads the ledger rows of its window's papers for every channel at once
    Index("ix_posted_paper_key", "paper_key"),
    # a reaction on a posted message finds the papers it carries (bot.store.feedback)
    Index("ix_posted_channel_message_ref", "channel", "message_ref"),
)

# One row per digest run. A scheduled run carries `scheduled_for` (the local scheduled
# time as UTC): the unique constraint is the claim that keeps a run to one execution.
digest_runs = Table(
    "digest_runs",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("channel", String(200), nullable=False),
    Column("scheduled_for", UTCDateTime),
    Column("started_at", UTCDateTime, nullable=False),
    Column("finished_at", UTCDateTime),
    Column("window_start", UTCDateTime),
    Column("window_end", UTCDateTime),
    Column("status", String(16), nullable=False),
    Column("posted", Integer, nullable=False, default=0),
    Column("error", Text),
    UniqueConstraint("channel", "scheduled_for", name="uq_digest_runs_claim"),
)

# Archive writes in progress (bot/store/ingests.py): a digest's window ends no later than
# the start of the oldest one still alive, so it never passes papers stamped but not yet
# committed. `owner` names the process (bot.store.owner); `lease_until` ends a dead one.
ingests = Table(
    "ingests",
    metadata,
    Column("token", String(64), primary_key=True),
    Column("owner", String(200)),
    Column("started_at", UTCDateTime, nullable=False),
    Column("lease_until", UTCDateTime, nullable=False),
)

# Each channel's feedback (bot/store/feedback.py): one person's latest vote on one paper,
# +1 "more like this" or -1 "not for us", when and how it was given ("button", "reaction",
# "command", "cli"). `paper_key` follows the paper's re-keying like the ledger.
feedback = Table(
    "feedback",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("channel", String(200), nullable=False),
    Column("user", String(200), nullable=False),
    Column("paper_key", String(512), nullable=False),
    Column("vote", Integer, nullable=False),
    Column("at", UTCDateTime, nullable=False),
    Column("via", String(16), nullable=False),
    UniqueConstraint("channel", "user", "paper_key", name="uq_feedback_channel_user_paper"),
)

# The archive's lexicon (bot/store/lexicon_store.py): its counts saved (`data`, zlib JSON)
# with the archive state they describe: every paper up to id `papers_mark`, every change up
# to id `changes_mark`; the log below was pruned up to `pruned_until`. One row (id 1).
lexicon_state = Table(
    "lexicon_state",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("papers_mark", Integer, nullable=False),
    Column("changes_mark", Integer, nullable=False),
    Column("pruned_until", Integer, nullable=False),
    Column("data", LargeBinary, nullable=False),
    Column("saved_at", UTCDateTime, nullable=False),
)

# The old text of each paper whose title, abstract or keywords changed, or that was deleted,
# written by triggers on `papers` (migration 0011) in the changing transaction. Ids never
# reused (AUTOINCREMENT on SQLite): a lexicon counted up to an id has seen every change
# before it.
lexicon_changes = Table(
    "lexicon_changes",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("paper_id", Integer, nullable=False),
    Column("title", Text, nullable=False),
    Column("abstract", Text, nullable=False),
    Column("ai_keywords", JSON),
    sqlite_autoincrement=True,
)
