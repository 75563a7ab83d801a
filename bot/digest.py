"""One digest cycle: the only place where the pure steps (match, dedupe, rank, summarize,
render) meet I/O (archive, ledger, delivery)."""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from bot.delivery.base import Delivery
from bot.errors import DeliveryError, StoreError
from bot.models import Digest, DigestItem, Message, Profile
from bot.pipeline.lexicon import Lexicon
from bot.pipeline.match import Matcher
from bot.pipeline.plan import in_window, plan_digest
from bot.store.archive import Archive
from bot.store.ledger import DigestRuns, Ledger

log = logging.getLogger(__name__)

Sleep = Callable[[float], Awaitable[None]]
LEASE = timedelta(minutes=15)  # a reservation outlives any send's retries
SEND_ATTEMPTS = 4  # after the delivery's own retries, for transient failures
BACKOFF = 2.0


@dataclass(slots=True)
class ChannelOutcome:
    """What one channel's digest did. `status`: done, empty, partial, failed, claimed
    (another firing already ran this scheduled digest), dry-run."""

    profile: Profile
    status: str
    digest: Digest | None = None
    posted: list[str] = field(default_factory=list)
    error: str | None = None

    @property
    def failed(self) -> bool:
        return self.status in {DigestRuns.FAILED, DigestRuns.PARTIAL}


def idempotency_key(channel: str, message: Message, index: int) -> str:
    """Stable for the same channel and papers: a re-sent message gets the same key."""
    basis = "\n".join([channel, str(index), *message.keys]).encode()
    return hashlib.sha256(basis).hexdigest()[:25]


class DigestCycle:
    """Runs digests for channels. Everything is injected; `clock` gives aware UTC now,
    `sleep` waits between send attempts (tests pass a fake)."""

    def __init__(
        self,
        *,
        archive: Archive,
        ledger: Ledger,
        runs: DigestRuns,
        lexicon: Callable[[], Lexicon],
        deliveries: Mapping[str, Delivery],
        clock: Callable[[], datetime],
        sleep: Sleep = asyncio.sleep,
        summary_chars: int = 280,
    ) -> None:
        self._archive = archive
        self._ledger = ledger
        self._runs = runs
        self._lexicon = lexicon
        self._deliveries = deliveries
        self._clock = clock
        self._sleep = sleep
        self._summary_chars = summary_chars

    def window(
        self, profile: Profile, now: datetime, since: datetime | None
    ) -> tuple[datetime, datetime]:
        """Papers first stored in [start, now]: since the last complete digest, or the
        look-back for a channel that never had one; `since` widens it on request."""
        if since is not None:
            return since, now
        last = self._runs.last_complete(profile.ref)
        if last is not None and last.window_end is not None:
            return last.window_end, now
        return now - profile.lookback, now

    async def run(
        self,
        profiles: Sequence[Profile],
        *,
        dry_run: bool = False,
        since: datetime | None = None,
        scheduled_for: datetime | None = None,
    ) -> list[ChannelOutcome]:
        """One digest for each profile. A failing channel is reported in its outcome and
        the others go on. `dry_run` posts and records nothing."""
        now = self._clock()
        windows = {p.ref: self.window(p, now, since) for p in profiles}
        if not windows:
            return []
        earliest = min(start for start, _ in windows.values())
        papers = await asyncio.to_thread(self._archive.since, earliest, now)
        lexicon = await asyncio.to_thread(self._lexicon)
        matcher = Matcher(papers, lexicon)
        outcomes = []
        for profile in profiles:
            start, end = windows[profile.ref]
            matches = [m for m in matcher.match(profile) if in_window(m, start, end)]
            try:
                posted = self._ledger.posted(profile.ref, [m.paper.key for m in matches])
                day = now.astimezone(ZoneInfo(profile.timezone)).date()
                digest = plan_digest(
                    profile, matches, posted, day=day, summary_chars=self._summary_chars
                )
                if dry_run:
                    outcomes.append(ChannelOutcome(profile, "dry-run", digest))
                    continue
                outcomes.append(
                    await self._deliver(profile, digest, (start, end), now, scheduled_for)
                )
            except StoreError as e:
                outcomes.append(ChannelOutcome(profile, DigestRuns.FAILED, error=str(e)))
        return outcomes

    async def _deliver(
        self,
        profile: Profile,
        digest: Digest,
        window: tuple[datetime, datetime],
        now: datetime,
        scheduled_for: datetime | None,
    ) -> ChannelOutcome:
        run_id = self._runs.start(profile.ref, now=now, window=window, scheduled_for=scheduled_for)
        if run_id is None:
            return ChannelOutcome(profile, "claimed", digest)
        try:
            outcome = await self._post(profile, digest, now)
        except BaseException:
            # Interrupted (shutdown): what was confirmed is in the ledger; the run is
            # marked failed so the next start retakes the claim and posts the rest.
            self._runs.finish(
                run_id,
                status=DigestRuns.FAILED,
                posted_count=0,
                now=self._clock(),
                error="interrupted",
            )
            raise
        self._runs.finish(
            run_id,
            status=outcome.status,
            posted_count=len(outcome.posted),
            now=self._clock(),
            error=outcome.error,
        )
        return outcome

    async def _post(self, profile: Profile, digest: Digest, now: datetime) -> ChannelOutcome:
        delivery = self._deliveries.get(profile.platform)
        if delivery is None:
            error = f"{profile.platform} is not configured: add its credentials (see README)"
            return ChannelOutcome(profile, DigestRuns.FAILED, digest, error=error)
        keys = [i.paper.key for i in digest.items]
        reserved = set(self._ledger.reserve(profile.ref, keys, now=now, lease=LEASE))
        digest = replace(digest, items=tuple(i for i in digest.items if i.paper.key in reserved))
        if not digest.items and not profile.post_empty:
            return ChannelOutcome(profile, DigestRuns.EMPTY, digest)
        outcome = ChannelOutcome(profile, DigestRuns.DONE, digest)
        pending = [m for m in delivery.render(digest)]
        try:
            for index, message in enumerate(pending):
                ref = await self._send(delivery, profile, message, index)
                if message.keys:
                    self._ledger.confirm(profile.ref, message.keys, ref=ref, now=self._clock())
                    outcome.posted += message.keys
        except DeliveryError as e:
            outcome.status = DigestRuns.PARTIAL if outcome.posted else DigestRuns.FAILED
            outcome.error = str(e)
        finally:
            unconfirmed = [k for k in reserved if k not in set(outcome.posted)]
            if unconfirmed:
                self._ledger.release(profile.ref, unconfirmed)
        return outcome

    async def _send(
        self, delivery: Delivery, profile: Profile, message: Message, index: int
    ) -> str:
        key = idempotency_key(profile.ref, message, index)
        for attempt in range(1, SEND_ATTEMPTS + 1):
            try:
                return await delivery.send(profile, message, idempotency_key=key)
            except DeliveryError as e:
                if e.permanent or attempt == SEND_ATTEMPTS:
                    raise
                log.warning("post to %s failed (attempt %d): %s; retrying", profile.ref, attempt, e)
                await self._sleep(BACKOFF * attempt)
        raise AssertionError("unreachable")


def items_json(outcome: ChannelOutcome) -> list[dict[str, object]]:
    """The `--json` lines of a channel's digest: one object per paper to post."""
    digest = outcome.digest
    if digest is None:
        return []
    return [_item_json(outcome.profile, item) for item in digest.items]


def _item_json(profile: Profile, item: DigestItem) -> dict[str, object]:
    return {
        "channel": profile.channel_id,
        "key": item.paper.key,
        "title": item.paper.title,
        "score": round(item.score, 4),
        "matched": list(item.topics),
        "summary": item.summary,
        "links": item.paper.links,
    }
