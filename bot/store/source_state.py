"""Per-source fetch state: conditional-GET validators, the last result (for `status`), and
the fetch lease that keeps processes sharing a database to one fetch per interval."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Engine, or_, select, update
from sqlalchemy.exc import SQLAlchemyError

from bot.errors import StoreError
from bot.models import Validators, redact_url
from bot.store.db import insert_ignore
from bot.store.schema import source_state

# A fetch is due this much before its interval has passed since the last one, so that a
# timer firing a moment early still fetches (at most a tenth of the interval).
CLAIM_SLACK = timedelta(minutes=1)


class Claim(enum.Enum):
    """The answer to `SourceStateStore.claim_fetch`."""

    CLAIMED = "claimed"  # this process fetches now, and records the result
    FRESH = "fresh"  # fetched less than an interval ago (by any process)
    BUSY = "busy"  # another process is fetching it right now (its lease runs)


def slack(interval: timedelta) -> timedelta:
    return min(CLAIM_SLACK, interval / 10)


@dataclass(frozen=True, slots=True)
class SourceStatus:
    """The last known state of one source (times in UTC)."""

    name: str
    last_attempt: datetime | None
    last_success: datetime | None
    last_result: str | None
    last_error: str | None
    consecutive_failures: int


class SourceStateStore:
    """Reads and writes `source_state`; each call is its own transaction. Raises StoreError.

    Locations are stored redacted (`redact_url`: no userinfo, no secret-looking parameter
    values): a source URL's password or `api_key` never reaches the database. Validators
    are matched on the redacted form too.
    """

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def validators(self, name: str, location: str) -> Validators:
        """The validators of the last successful fetch of `location` by this source."""
        with self._engine.connect() as conn:
            row = conn.execute(select(source_state).where(source_state.c.name == name)).first()
        if row is None or row.location != redact_url(location):
            return Validators()
        return Validators(row.etag, row.last_modified)

    def _write(self, name: str, values: dict[str, object]) -> None:
        """Upsert the source's row (safe when several processes write it at once)."""
        try:
            with self._engine.begin() as conn:
                insert_ignore(conn, source_state, [{"name": name, "consecutive_failures": 0}])
                if "location" not in values:  # one stored in plain text by an older version
                    stored = conn.execute(
                        select(source_state.c.location).where(source_state.c.name == name)
                    ).scalar()
                    if stored and redact_url(stored) != stored:
                        values = {**values, "location": redact_url(stored)}
                conn.execute(update(source_state).where(source_state.c.name == name).values(values))
        except SQLAlchemyError as e:
            raise StoreError(f"cannot record state of source {name}: {e.__class__.__name__}") from e

    def claim_fetch(
        self, name: str, *, now: datetime, interval: timedelta, lease: timedelta
    ) -> Claim:
        """Claim the next fetch of source `name`, for processes sharing this database (the
        replicas of `paperboy run`): CLAIMED for exactly one caller once `interval` (less
        a small slack) has passed since the last recorded fetch, while no other claim's
        `lease` runs. The claimant fetches and records the outcome (`record_success` /
        `record_failure`, which end the lease) or gives up (`release_fetch`). A claimant
        that dies leaves its lease to expire. One conditional UPDATE: atomic on SQLite and
        PostgreSQL alike."""
        due = now - (interval - slack(interval))
        try:
            with self._engine.begin() as conn:
                insert_ignore(conn, source_state, [{"name": name, "consecutive_failures": 0}])
                row = source_state.c
                taken = conn.execute(
                    update(source_state)
                    .where(
                        row.name == name,
                        or_(row.lease_until.is_(None), row.lease_until < now),
                        or_(row.last_attempt.is_(None), row.last_attempt <= due),
                    )
                    .values(lease_until=now + lease)
                )
                if taken.rowcount == 1:
                    return Claim.CLAIMED
                held = conn.execute(select(row.lease_until).where(row.name == name)).scalar()
        except SQLAlchemyError as e:
            raise StoreError(f"cannot claim a fetch of {name}: {e.__class__.__name__}") from e
        return Claim.BUSY if held is not None and held >= now else Claim.FRESH

    def release_fetch(self, name: str) -> None:
        """End a claim without a result (the fetch was interrupted): due again at once."""
        self._write(name, {"lease_until": None})

    def record_success(
        self,
        name: str,
        *,
        location: str,
        validators: Validators | None,
        result: str,
        now: datetime,
    ) -> None:
        """Remember a successful fetch of `location`; `validators` None keeps the stored ones."""
        values: dict[str, object] = {
            "last_attempt": now,
            "last_success": now,
            "last_result": result,
            "last_error": None,
            "consecutive_failures": 0,
            "lease_until": None,
        }
        if validators is not None:
            values |= {
                "location": redact_url(location),
                "etag": validators.etag,
                "last_modified": validators.last_modified,
            }
        self._write(name, values)

    def record_failure(self, name: str, *, error: str, now: datetime) -> None:
        """Remember a failed fetch; the validators and last success are kept."""
        self._write(
            name,
            {
                "last_attempt": now,
                "last_error": error,
                "consecutive_failures": source_state.c.consecutive_failures + 1,
                "lease_until": None,
            },
        )

    def all(self) -> list[SourceStatus]:
        with self._engine.connect() as conn:
            rows = conn.execute(select(source_state).order_by(source_state.c.name)).all()
        return [
            SourceStatus(
                r.name,
                r.last_attempt,
                r.last_success,
                r.last_result,
                r.last_error,
                r.consecutive_failures,
            )
            for r in rows
        ]
