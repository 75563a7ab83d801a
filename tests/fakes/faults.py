"""Deterministic fault injection for the fake chat servers: which request fails, and how.

A `FaultPlan` is asked once per request (`next(route)`) and answers `None` (serve the
request normally) or a `Fault`. Plans are deterministic: a scripted list, a storm of the
first N requests, a seeded `random.Random` drawn once per request in arrival order, or a
storm lasting a duration on an injected clock (deterministic for a given clock). Plans
for different routes combine (`FaultPlan.combine`). Every injected fault is counted per
kind, so a test can report how many it survived.
"""

from __future__ import annotations

import random as _random
import time
from collections import Counter
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass
from typing import Literal

FaultKind = Literal[
    "rate_limit", "server_error", "error_body", "delay", "reset", "disconnect", "hang"
]
KINDS: tuple[FaultKind, ...] = (
    "rate_limit",
    "server_error",
    "error_body",
    "delay",
    "reset",
    "disconnect",
    "hang",
)
# What a load balancer, proxy or CDN in front of the platform answers instead of the
# platform's own JSON: nothing, a line of text, an HTML page, or JSON cut short.
BodyKind = Literal["empty", "text", "html", "truncated-json"]
BODIES: tuple[BodyKind, ...] = ("empty", "text", "html", "truncated-json")


@dataclass(frozen=True)
class Fault:
    """One injected failure.

    - ``rate_limit``: HTTP 429 in the platform's own format, waiting `retry_after` seconds.
    - ``server_error``: HTTP `status` (5xx) with a platform-shaped body.
    - ``error_body``: HTTP `status` (any 4xx or 5xx) with a body that is *not* the
      platform's JSON (`body`: empty, plain text, an HTML page, or truncated JSON labelled
      ``application/json``), as a load balancer or proxy in front of the platform answers.
    - ``delay``: sleep `seconds` before processing and answering (or, with `after`, after
      processing: the work is done but the answer is late, as when a client times out on a
      slow server). Either way the request is processed even when the client gave up
      meanwhile, as by a server that received it whole.
    - ``reset``: close the connection with a TCP RST and no response; the client sees
      ``ConnectionResetError`` (aiohttp ``ClientOSError``, errno 104 on Linux).
    - ``disconnect``: close the connection cleanly (FIN) with no response; the client sees
      ``aiohttp.ServerDisconnectedError``.
    - ``hang``: hold the request `seconds` (past the client's timeout), then close the
      connection without processing it: the request never took effect (a stuck proxy or
      load balancer). Compare ``delay``, whose request is processed, only late.

    With `after=True`, reset/disconnect happen *after* the request was processed: the
    message exists on the server but its confirmation is lost.
    """

    kind: FaultKind
    retry_after: float = 1.0
    status: int = 500
    seconds: float = 0.0
    after: bool = False
    body: BodyKind = "empty"


def rate_limit(retry_after: float = 1.0) -> Fault:
    """HTTP 429 asking the client to wait `retry_after` seconds."""
    return Fault("rate_limit", retry_after=retry_after)


def server_error(status: int = 500) -> Fault:
    """A 5xx answer."""
    if not 500 <= status <= 599:
        raise ValueError(f"server_error status must be 5xx, got {status}")
    return Fault("server_error", status=status)


def error_body(status: int = 502, body: BodyKind = "html") -> Fault:
    """A 4xx/5xx answer whose body is not the platform's JSON (see `Fault`)."""
    if not 400 <= status <= 599:
        raise ValueError(f"error_body status must be 4xx or 5xx, got {status}")
    return Fault("error_body", status=status, body=body)


def delay(seconds: float, *, after: bool = False) -> Fault:
    """Answer `seconds` late (before processing, or after it with `after=True`)."""
    return Fault("delay", seconds=seconds, after=after)


def reset(*, after: bool = False) -> Fault:
    """Drop the connection with a TCP RST (ConnectionResetError on the client)."""
    return Fault("reset", after=after)


def disconnect(*, after: bool = False) -> Fault:
    """Close the connection without answering (ServerDisconnectedError on the client)."""
    return Fault("disconnect", after=after)


def hang(seconds: float = 30.0) -> Fault:
    """Hold the request `seconds`, then drop it unprocessed (the client times out first)."""
    return Fault("hang", seconds=seconds)


_DEFAULT: dict[str, Callable[[], Fault]] = {
    "rate_limit": rate_limit,
    "server_error": server_error,
    "error_body": error_body,
    "delay": lambda: delay(1.0),
    "reset": reset,
    "disconnect": disconnect,
    "hang": hang,
}


class FaultPlan:
    """Decides, request by request, whether to inject a fault.

    `only` restricts the plan to some route names (a Slack method such as
    ``"chat.postMessage"``, or a Discord route key such as
    ``"POST /channels/{channel_id}/messages"``); other requests are served normally and do
    not advance the plan. `seen` counts the requests the plan was asked about, `injected`
    the faults per kind, `log` lists ``(request index, route, fault)``.
    """

    def __init__(
        self,
        decide: Callable[[int], Fault | None],
        *,
        only: Collection[str] | None = None,
    ) -> None:
        self._decide = decide
        self.only: frozenset[str] | None = frozenset(only) if only is not None else None
        self.seen = 0
        self.injected: Counter[str] = Counter()
        self.log: list[tuple[int, str, Fault]] = []

    def next(self, route: str) -> Fault | None:
        """The fault for this request of `route`, or None to serve it normally."""
        if self.only is not None and route not in self.only:
            return None
        index = self.seen
        self.seen += 1
        fault = self._decide(index)
        if fault is not None:
            self.injected[fault.kind] += 1
            self.log.append((index, route, fault))
        return fault

    @property
    def total(self) -> int:
        """All faults injected so far."""
        return sum(self.injected.values())

    def covers(self, route: str) -> bool:
        """Whether this plan decides for `route` (see `only`)."""
        return self.only is None or route in self.only

    # -- constructors -------------------------------------------------------------------

    @classmethod
    def none(cls) -> FaultPlan:
        """Never inject anything."""
        return cls(lambda _index: None)

    @classmethod
    def script(
        cls, faults: Iterable[Fault | None], *, only: Collection[str] | None = None
    ) -> FaultPlan:
        """Request i gets ``faults[i]``; requests past the end are served normally."""
        steps = list(faults)
        return cls(lambda i: steps[i] if i < len(steps) else None, only=only)

    @classmethod
    def storm(
        cls,
        first_n: int,
        kind: Fault | FaultKind = "rate_limit",
        *,
        only: Collection[str] | None = None,
    ) -> FaultPlan:
        """Fault every one of the first `first_n` requests, then serve normally."""
        fault = kind if isinstance(kind, Fault) else _DEFAULT[kind]()
        return cls(lambda i: fault if i < first_n else None, only=only)

    @classmethod
    def storm_for(
        cls,
        seconds: float,
        kind: Fault | FaultKind = "rate_limit",
        *,
        clock: Callable[[], float] = time.monotonic,
        only: Collection[str] | None = None,
    ) -> FaultPlan:
        """Fault every request for `seconds` on `clock`, counted from the first request
        the plan is asked about, then serve normally (a storm, then recovery).

        Pass the clock the client's waits advance (a test clock whose injected sleep moves
        it forward), so a storm "of a minute" costs no minute of wall time.
        """
        fault = kind if isinstance(kind, Fault) else _DEFAULT[kind]()
        began: list[float] = []

        def decide(_index: int) -> Fault | None:
            now = clock()
            if not began:
                began.append(now)
            return fault if now - began[0] < seconds else None

        return cls(decide, only=only)

    @classmethod
    def combine(cls, *plans: FaultPlan) -> FaultPlan:
        """One plan made of several: a request goes to the first plan that covers its
        route (so each route can have its own storm, starting at its own first request).
        `seen`, `injected` and `log` add up the parts; the parts keep their own counts."""
        return _Combined(plans)

    @classmethod
    def random(
        cls,
        seed: int,
        *,
        rate_limit: float = 0.3,
        server_error: float = 0.1,
        delay: float = 0.0,
        reset: float = 0.0,
        disconnect: float = 0.0,
        lost_answer: float = 0.0,
        hang: float = 0.0,
        retry_after: float = 1.0,
        status: int = 500,
        delay_seconds: float = 1.0,
        hang_seconds: float = 30.0,
        only: Collection[str] | None = None,
    ) -> FaultPlan:
        """Each request independently gets a fault with the given probabilities.

        One ``random.Random(seed).random()`` draw per request, so the i-th request always
        gets the same answer for the same seed. `lost_answer` is the chance of a reset
        *after* the request was processed (posted, but the client never hears so); `hang`
        the chance of a request held `hang_seconds` and dropped unprocessed.
        """
        weights: list[tuple[float, Fault]] = [
            (rate_limit, Fault("rate_limit", retry_after=retry_after)),
            (server_error, Fault("server_error", status=status)),
            (delay, Fault("delay", seconds=delay_seconds)),
            (reset, Fault("reset")),
            (disconnect, Fault("disconnect")),
            (lost_answer, Fault("reset", after=True)),
            (hang, Fault("hang", seconds=hang_seconds)),
        ]
        if any(p < 0 for p, _ in weights) or sum(p for p, _ in weights) > 1.0:
            raise ValueError("fault probabilities must be >= 0 and sum to at most 1")
        rng = _random.Random(seed)

        def decide(_index: int) -> Fault | None:
            draw = rng.random()
            for probability, fault in weights:
                if draw < probability:
                    return fault
                draw -= probability
            return None

        return cls(decide, only=only)


class _Combined(FaultPlan):
    """See `FaultPlan.combine`."""

    def __init__(self, plans: Iterable[FaultPlan]) -> None:
        super().__init__(lambda _index: None)
        self.parts = tuple(plans)
        covered = [p.only for p in self.parts]
        self.only = (
            None
            if any(o is None for o in covered)
            else frozenset(r for o in covered if o is not None for r in o)
        )

    def next(self, route: str) -> Fault | None:
        part = next((p for p in self.parts if p.covers(route)), None)
        if part is None:
            return None
        index = self.seen
        self.seen += 1
        fault = part.next(route)
        if fault is not None:
            self.injected[fault.kind] += 1
            self.log.append((index, route, fault))
        return fault
