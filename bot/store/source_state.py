"""Per-source fetch state: conditional-GET validators and the last result, for `status`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, select
from sqlalchemy.exc import SQLAlchemyError

from bot.errors import StoreError
from bot.sources.base import Validators
from bot.store.schema import source_state


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
    """Reads and writes `source_state`; each call is its own transaction. Raises StoreError."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def validators(self, name: str, location: str) -> Validators:
        """The validators of the last successful fetch of `location` by this source."""
        with self._engine.connect() as conn:
            row = conn.execute(select(source_state).where(source_state.c.name == name)).first()
        if row is None or row.location != location:
            return Validators()
        return Validators(row.etag, row.last_modified)

    def _write(self, name: str, values: dict[str, object]) -> None:
        try:
            with self._engine.begin() as conn:
                exists = conn.execute(
                    select(source_state.c.name).where(source_state.c.name == name)
                ).first()
                if exists:
                    conn.execute(
                        source_state.update().where(source_state.c.name == name).values(**values)
                    )
                else:
                    conn.execute(source_state.insert().values(name=name, **values))
        except SQLAlchemyError as e:
            raise StoreError(f"cannot record state of source {name}: {e.__class__.__name__}") from e

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
        }
        if validators is not None:
            values |= {
                "location": location,
                "etag": validators.etag,
                "last_modified": validators.last_modified,
            }
        self._write(name, values)

    def record_failure(self, name: str, *, error: str, now: datetime) -> None:
        """Remember a failed fetch; the validators and last success are kept."""
        previous = {s.name: s for s in self.all()}.get(name)
        failures = previous.consecutive_failures + 1 if previous else 1
        self._write(
            name,
            {"last_attempt": now, "last_error": error, "consecutive_failures": failures},
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
