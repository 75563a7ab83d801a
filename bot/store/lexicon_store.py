"""The archive's lexicon, kept in the database and brought up to date instead of relearned.

The counts a Lexicon is made of (bot.pipeline.lexicon.Tally) are saved in `lexicon_state`
(one row: the counts as zlib-compressed JSON, and the archive state they describe, a
`Mark`). Triggers on `papers` (migration 0011) write the old text of every paper whose
title, abstract or keywords change, or that is deleted, into `lexicon_changes`, in the
transaction that changes it. So a tally counted at mark (P, C) — every paper with id ≤ P,
every change ≤ C — is brought to the archive's current state by reading, in one snapshot:
the changes after C (each changed paper's text as counted is its first change after C),
the current text of those papers, and the papers after P. The result is the lexicon a
build from scratch learns from the archive (tests/test_lexicon_store.py compares them).

Processes sharing one database each keep their own tally and catch up from the shared log;
the saved state only moves forward (`save` keeps the newer of two), and the log is pruned
up to the state saved before it, so a process whose tally is older than that reloads the
saved state first. Archive writers take turns (bot.store.archive), so paper ids and change
ids grow in commit order: a snapshot's highest ids say everything before them is in it.
"""

from __future__ import annotations

import json
import logging
import multiprocessing
import os
import zlib
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, delete, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import SQLAlchemyError

from bot.errors import StoreError
from bot.pipeline.lexicon import PaperText, Tally
from bot.store.db import chunks
from bot.store.schema import lexicon_changes, lexicon_state, papers

log = logging.getLogger(__name__)

# Save the tally when it is this many papers or changes ahead of the saved one (a restarted
# process then catches up at most this many: ~0.3 s per 1,000 papers).
SAVE_EVERY = 1_000
READ_BATCH = 2_000
STATE_ID = 1
# A count from scratch of at least this many papers is split by id ranges between up to
# COUNT_WORKERS processes (one per core).
PARALLEL_FROM = 20_000
COUNT_WORKERS = 4


@dataclass(frozen=True, slots=True)
class Mark:
    """An archive state: the highest paper id and the highest change id in it."""

    papers: int
    changes: int

    def behind(self, other: Mark) -> int:
        """How many papers and changes `other` has beyond this mark (0 when not newer)."""
        return max(other.papers - self.papers, 0) + max(other.changes - self.changes, 0)


@dataclass(slots=True)
class Counted:
    """A tally and the archive state it counted."""

    tally: Tally
    mark: Mark


def _snapshot(conn: Connection) -> None:
    """Every read of `conn`'s transaction sees one state of the database."""
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql("BEGIN")  # pysqlite defers BEGIN: reads would not be one snapshot


def _current(conn: Connection) -> Mark:
    top_paper = conn.execute(select(func.max(papers.c.id))).scalar()
    top_change = conn.execute(select(func.max(lexicon_changes.c.id))).scalar()
    return Mark(int(top_paper or 0), int(top_change or 0))


def _text(row: Any) -> PaperText:
    return (int(row[0]), row[1], row[2], tuple(row[3] or ()))


_TEXT = (papers.c.id, papers.c.title, papers.c.abstract, papers.c.ai_keywords)


def _papers_from(conn: Connection, start: int, end: int) -> Iterator[PaperText]:
    """The texts of papers `start` … `end` in id order, READ_BATCH rows a query."""
    while start <= end:
        rows = conn.execute(
            select(*_TEXT)
            .where(papers.c.id >= start, papers.c.id <= end)
            .order_by(papers.c.id)
            .limit(READ_BATCH)
        ).all()
        if not rows:
            return
        for row in rows:
            yield _text(row)
        start = int(rows[-1][0]) + 1


def _count_range(url: str, start: int, end: int) -> Tally:
    """Papers `start` … `end` counted (in a worker process: its own engine)."""
    engine = create_engine(url)
    try:
        tally = Tally()
        with engine.connect() as conn:
            for paper in _papers_from(conn, start, end):
                tally.add(*paper)
        return tally
    finally:
        engine.dispose()


def _parts(top: int, workers: int) -> list[tuple[int, int]]:
    step = -(-top // workers)
    return [(lo, min(lo + step - 1, top)) for lo in range(1, top + 1, step)]


def _encode(tally: Tally) -> bytes:
    text = json.dumps(tally.dump(), ensure_ascii=False, separators=(",", ":"))
    return zlib.compress(text.encode(), 1)


def _decode(data: bytes) -> Tally:
    return Tally.load(json.loads(zlib.decompress(data)))


class LexiconStore:
    """The lexicon's counts in the database (see the module docstring). Raises StoreError."""

    def __init__(
        self,
        engine: Engine,
        *,
        save_every: int = SAVE_EVERY,
        saving: bool = True,
        parallel_from: int = PARALLEL_FROM,
    ) -> None:
        """`saving=False`: never write (read-only commands leave the database unchanged).
        `parallel_from`: the archive size from which a count from scratch is split between
        processes."""
        self._engine = engine
        self._save_every = save_every
        self._saving = saving
        self._parallel_from = parallel_from
        self._saved: Mark | None = None  # the saved state's mark, as last seen
        self._spoiled = False  # the saved counts disagreed with the archive: save anew

    def mark(self) -> Mark:
        """The archive's current state (two index look-ups: cheap enough for every command)."""
        try:
            with self._engine.connect() as conn:
                return _current(conn)
        except SQLAlchemyError as e:
            raise StoreError(f"lexicon state read failed: {e.__class__.__name__}") from e

    def save_due(self, counted: Counted) -> bool:
        """Whether `counted` is `save_every` ahead of the saved state (as last seen)."""
        saved = self._saved
        if not self._saving:
            return False
        return self._spoiled or saved is None or saved.behind(counted.mark) >= self._save_every

    def catch_up(self, counted: Counted | None, *, save: bool = True) -> Counted:
        """`counted` brought to the archive's current state (the same object, updated), or
        the saved state brought up to date when `counted` is None or older than the log
        reaches, or a tally counted from scratch when nothing is saved. Saves the result
        when it is `save_every` ahead of the saved state (unless `save` is False: the
        caller saves later, see `save_due`). On StoreError `counted` may be half
        updated: pass None next time."""
        try:
            if counted is None and self._engine.url.database not in (None, "", ":memory:"):
                counted = self._count_in_parallel()
            with self._engine.connect() as conn:
                if conn.dialect.name == "postgresql":
                    conn = conn.execution_options(isolation_level="REPEATABLE READ")
                with conn.begin():
                    _snapshot(conn)
                    saved = conn.execute(
                        select(
                            lexicon_state.c.papers_mark,
                            lexicon_state.c.changes_mark,
                            lexicon_state.c.pruned_until,
                        ).where(lexicon_state.c.id == STATE_ID)
                    ).first()
                    saved_mark = Mark(saved[0], saved[1]) if saved else None
                    self._saved = saved_mark
                    if counted is None or counted.mark.changes < (saved[2] if saved else 0):
                        counted = self._start(conn, saved_mark)
                    now = _current(conn)
                    try:
                        _advance(conn, counted, now)
                    except (KeyError, ValueError) as e:
                        # The kept counts disagree with the archive (counted by other text
                        # code, e.g. another stemmer version, or a change not logged):
                        # counted again from scratch, in this snapshot, and saved anew, so
                        # that no later catch-up starts from them and fails the same way.
                        log.warning(
                            "lexicon counts disagree with the archive (%r): counting again", e
                        )
                        counted = Counted(Tally(), Mark(0, 0))
                        _advance(conn, counted, now)
                        self._spoiled = True
        except SQLAlchemyError as e:
            # the class only: the driver's message may carry SQL, paper text or the host
            raise StoreError(f"lexicon catch-up failed: {e.__class__.__name__}") from e
        if save and self.save_due(counted):
            try:
                self.save(counted)
            except StoreError as e:  # served all the same; the next catch-up saves it
                log.warning("%s", e)
        return counted

    def _count_in_parallel(self) -> Counted | None:
        """When nothing is saved and the archive is large: the archive counted by id ranges
        in worker processes at once, at the mark read before (None otherwise). A paper
        whose text changed meanwhile may be counted either way: then None (counted again
        in one snapshot)."""
        workers = min(os.cpu_count() or 1, COUNT_WORKERS)
        with self._engine.connect() as conn:
            if conn.execute(select(lexicon_state.c.id)).first() is not None:
                return None
            before = _current(conn)
        if workers < 2 or before.papers < self._parallel_from:
            return None
        url = self._engine.url.render_as_string(hide_password=False)
        parts = _parts(before.papers, workers)
        spawn = multiprocessing.get_context("spawn")  # no fork of a threaded service
        try:
            with ProcessPoolExecutor(len(parts) - 1, mp_context=spawn) as pool:
                later = [pool.submit(_count_range, url, lo, hi) for lo, hi in parts[1:]]
                tally = Tally()
                with self._engine.connect() as conn:
                    for paper in _papers_from(conn, *parts[0]):
                        tally.add(*paper)
                for future in later:
                    tally.extend(future.result())
        except (BrokenProcessPool, OSError, RuntimeError, SQLAlchemyError) as e:
            # e.g. no way to spawn here, or a worker refused a connection: one process counts
            log.warning("lexicon counted in one process: %s: %s", e.__class__.__name__, e)
            return None
        if self.mark().changes != before.changes:
            return None
        return Counted(tally, before)

    def _start(self, conn: Connection, saved: Mark | None) -> Counted:
        """The saved tally, or an empty one at the empty archive's mark."""
        if saved is None:
            return Counted(Tally(), Mark(0, 0))
        data = conn.execute(
            select(lexicon_state.c.data).where(lexicon_state.c.id == STATE_ID)
        ).scalar_one()
        try:
            return Counted(_decode(data), saved)
        except (ValueError, KeyError, TypeError, zlib.error) as e:  # another format: count
            log.warning("saved lexicon not read (%s): counting it again", e)
            return Counted(Tally(), Mark(0, 0))

    def save(self, counted: Counted) -> bool:
        """Save `counted` unless the saved state is as new; prune the log up to the state
        saved before. True when saved."""
        data = _encode(counted.tally)
        mark = counted.mark
        try:
            with self._engine.begin() as conn:
                if conn.dialect.name == "sqlite":
                    conn.exec_driver_sql("BEGIN IMMEDIATE")
                query = select(lexicon_state.c.papers_mark, lexicon_state.c.changes_mark).where(
                    lexicon_state.c.id == STATE_ID
                )
                if conn.dialect.name == "postgresql":
                    query = query.with_for_update()
                saved = conn.execute(query).first()
                values = {
                    "papers_mark": mark.papers,
                    "changes_mark": mark.changes,
                    "data": data,
                    "saved_at": datetime.now(UTC),
                }
                if saved is None:
                    # FOR UPDATE locks no row yet: two processes may both get here, and the
                    # second one's insert yields to the first (its save comes next time)
                    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
                    first = conn.execute(
                        dialect.insert(lexicon_state)
                        .values(id=STATE_ID, pruned_until=0, **values)
                        .on_conflict_do_nothing()
                    )
                    if first.rowcount == 0:
                        return False
                    self._saved, self._spoiled = mark, False
                    return True
                before = Mark(saved[0], saved[1])
                if before.changes > mark.changes or before.behind(mark) == 0:
                    self._saved, self._spoiled = before, False
                    return False  # another process saved this state, or a newer one
                conn.execute(
                    update(lexicon_state)
                    .where(lexicon_state.c.id == STATE_ID)
                    .values(pruned_until=before.changes, **values)
                )
                conn.execute(delete(lexicon_changes).where(lexicon_changes.c.id <= before.changes))
            self._saved, self._spoiled = mark, False
            return True
        except SQLAlchemyError as e:
            raise StoreError(f"lexicon state write failed: {e.__class__.__name__}") from e


def _advance(conn: Connection, counted: Counted, now: Mark) -> None:
    """Count what changed between `counted.mark` and `now` (read in the caller's snapshot)."""
    tally, then = counted.tally, counted.mark
    if now == then:
        return
    olds: dict[int, PaperText] = {}  # each changed paper's text as counted: its first change
    for row in conn.execute(
        select(
            lexicon_changes.c.paper_id,
            lexicon_changes.c.title,
            lexicon_changes.c.abstract,
            lexicon_changes.c.ai_keywords,
        )
        .where(lexicon_changes.c.id > then.changes, lexicon_changes.c.id <= now.changes)
        .order_by(lexicon_changes.c.id)
    ):
        if int(row[0]) <= then.papers:  # a later paper is counted as it is now
            olds.setdefault(int(row[0]), _text(row))
    for pid, title, abstract, keywords in olds.values():
        tally.remove(pid, title, abstract, keywords)
    for ids in chunks(sorted(olds), READ_BATCH):
        rows = conn.execute(select(*_TEXT).where(papers.c.id.in_(ids)).order_by(papers.c.id))
        for row in rows:
            tally.add(*_text(row))
    for paper in _papers_from(conn, then.papers + 1, now.papers):
        tally.add(*paper)
    start = tally.orphaned_from()
    if start is not None:
        tally.resolve(_papers_from(conn, start, now.papers))
    counted.mark = now
