"""The delivery outbox on its own (bot/outbox.py): every transition of its state table, the
moves it refuses, the sender's clean-up after each kind of failure, and what the next run
does after a crash at each point of the protocol. On SQLite, then PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

import pytest
from moe_papers import moe_papers
from sqlalchemy import Engine

import bot.store.ledger as ledger_module
from bot.errors import DeliveryError, StoreError
from bot.models import Digest, DigestItem, Message
from bot.outbox import TRANSITIONS, Held, IllegalMove, Outbox, Outgoing, State
from bot.store.aio import Async
from bot.store.archive import Archive
from bot.store.db import make_engine
from bot.store.ledger import Ledger
from bot.store.migrations import migrate
from bot.store.owner import this_process

T0 = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
MINUTE = timedelta(minutes=1)
CHANNEL = "slack:C1"
PAPERS = moe_papers(4)
KEYS = [p.key for p in PAPERS]
P, S, X, A, R = State.PLANNED, State.SENDING, State.POSTED, State.ABANDONED, State.RELEASED


@pytest.fixture
def engine(database: str) -> Iterator[Engine]:
    eng = make_engine(database)
    migrate(eng)
    Archive(eng).upsert(PAPERS, now=T0)
    yield eng
    eng.dispose()


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


def outbox(engine: Engine, clock: Clock, ledger: Ledger | None = None) -> Outbox:
    return Outbox(
        Async(ledger or Ledger(engine)), Async(Archive(engine)), clock=clock, lease=MINUTE
    )


def message(*keys: str) -> Message:
    return Message({"text": " ".join(keys)}, tuple(keys))


@dataclass
class Platform:
    """A Delivery that renders `per_message` papers a message and records what it was
    sent; `fail` maps a send's index to the error it raises; `hold` makes that send wait
    until it is cancelled."""

    per_message: int = 1
    sent: list[Outgoing] = field(default_factory=list)
    fail: dict[int, BaseException] = field(default_factory=dict)
    hold: int | None = None
    holding: asyncio.Event = field(default_factory=asyncio.Event)

    def render(self, digest: Digest) -> list[Message]:
        keys = [i.paper.key for i in digest.items]
        n = self.per_message
        return [message(*keys[i : i + n]) for i in range(0, len(keys), n)]

    async def send(self, out: Outgoing) -> str:
        index = len(self.sent)
        self.sent.append(out)
        if index == self.hold:
            self.holding.set()
            await asyncio.Event().wait()
        if index in self.fail:
            raise self.fail[index]
        return f"ts{index}"


def digest(keys: Sequence[str]) -> Digest:
    papers = {p.key: p for p in PAPERS}
    items = tuple(DigestItem(papers[k], 1.0, ("moe",), "summary") for k in keys)
    return Digest(CHANNEL, "C1", date(2026, 11, 20), items)


async def states(box: Outbox, keys: Sequence[str] = KEYS) -> list[State]:
    got = await box.state_of(CHANNEL, keys)
    return [got[k] for k in keys]


# -- the table --------------------------------------------------------------------------


def test_the_transition_table_is_the_documented_one() -> None:
    assert set(TRANSITIONS) == {(P, S), (P, R), (S, X), (S, A), (S, R)}
    # Every state is reachable from PLANNED; POSTED, ABANDONED and RELEASED end a run's
    # part (what comes after ABANDONED is the next run's takeover).
    assert {to for _, to in TRANSITIONS} | {P} == set(State)
    assert not {frm for frm, _ in TRANSITIONS} & {X, A, R}


async def test_every_transition_is_written_to_the_ledger(engine: Engine) -> None:
    clock = Clock()
    box = outbox(engine, clock)
    a, b, c, d = KEYS
    held = await box.plan(CHANNEL, KEYS, now=T0)
    assert held.keys == KEYS and held.deferred == [] and held.resend == {}
    assert await states(box) == [P, P, P, P]
    assert await box.sending(held, [a], "m1")
    assert await box.sending(held, [b], "m2")
    assert await box.sending(held, [c], "m3")
    assert await states(box) == [S, S, S, P]
    await box.posted(held, [a], "ts1")  # SENDING -> POSTED
    await box.abandon(held, [b])  # SENDING -> ABANDONED
    await box.release(held, [c])  # SENDING -> RELEASED (refused)
    await box.release(held, [d])  # PLANNED -> RELEASED
    assert await states(box) == [X, A, R, R]
    assert held.states == {a: X, b: A, c: R, d: R}
    assert Ledger(engine).posted(CHANNEL) == {a: T0}


@pytest.mark.parametrize(
    ("path", "move"),
    [
        ([], "posted"),  # PLANNED -> POSTED: never confirmed without sending
        ([], "abandon"),  # PLANNED -> ABANDONED
        (["sending"], "sending"),  # SENDING -> SENDING
        (["sending", "posted"], "release"),  # POSTED -> RELEASED
        (["sending", "posted"], "abandon"),  # POSTED -> ABANDONED
        (["sending", "abandon"], "posted"),  # ABANDONED -> POSTED
        (["release"], "sending"),  # RELEASED -> SENDING
    ],
)
async def test_a_move_outside_the_table_is_refused_and_changes_nothing(
    engine: Engine, path: list[str], move: str
) -> None:
    box = outbox(engine, Clock())
    key = KEYS[0]
    held = await box.plan(CHANNEL, [key], now=T0)
    moves = {
        "sending": lambda: box.sending(held, [key], "m"),
        "posted": lambda: box.posted(held, [key], "ts"),
        "abandon": lambda: box.abandon(held, [key]),
        "release": lambda: box.release(held, [key]),
    }
    for step in path:
        await moves[step]()
    before = await states(box, [key])
    with pytest.raises(IllegalMove):
        await moves[move]()
    assert await states(box, [key]) == before


async def test_a_paper_not_held_cannot_move(engine: Engine) -> None:
    box = outbox(engine, Clock())
    held = await box.plan(CHANNEL, KEYS[:1], now=T0)
    with pytest.raises(IllegalMove):
        await box.sending(held, KEYS[:2], "m")
    assert await states(box, KEYS[:2]) == [P, R]


async def test_a_posted_paper_is_never_planned_again(engine: Engine) -> None:
    box = outbox(engine, Clock())
    held = await box.plan(CHANNEL, KEYS[:2], now=T0)
    await box.sending(held, KEYS[:1], "m")
    await box.posted(held, KEYS[:1], "ts")
    await box.release(held, KEYS[1:2])
    again = await box.plan(CHANNEL, KEYS[:2], now=T0 + 2 * MINUTE)
    assert again.keys == KEYS[1:2] and again.deferred == KEYS[:1]


async def test_a_lost_lease_refuses_sending_and_keeps_the_paper_planned(engine: Engine) -> None:
    clock = Clock()
    box = outbox(engine, clock)
    held = await box.plan(CHANNEL, KEYS[:2], now=T0)
    other = await box.plan(CHANNEL, KEYS[:2], now=T0 + 2 * MINUTE)  # lease over: taken
    assert other.keys == KEYS[:2]
    clock.now = T0 + 2 * MINUTE
    assert not await box.sending(held, KEYS[:1], "m")
    assert held.states[KEYS[0]] is P
    assert await box.sending(other, KEYS[:1], "m")


async def test_a_live_run_keeps_its_papers(engine: Engine) -> None:
    box = outbox(engine, Clock())
    await box.plan(CHANNEL, KEYS[:2], now=T0)
    later = await box.plan(CHANNEL, KEYS, now=T0 + MINUTE / 2)
    assert later.keys == KEYS[2:] and later.deferred == KEYS[:2]


# -- the sender -------------------------------------------------------------------------


async def plan_all(box: Outbox, platform: Platform) -> tuple[Held, list[Outgoing]]:
    held = await box.plan(CHANNEL, KEYS, now=T0)
    plan, _ = await box.messages(held, digest(KEYS), platform)  # type: ignore[arg-type]
    return held, plan


async def test_drain_posts_every_message_in_order(engine: Engine) -> None:
    box, platform = outbox(engine, Clock()), Platform()
    held, plan = await plan_all(box, platform)
    out = await box.drain(held, plan, platform.send)
    assert out.posted == KEYS and out.error is None and not out.interrupted
    assert [o.message.keys for o in platform.sent] == [(k,) for k in KEYS]
    assert await states(box) == [X, X, X, X]


async def test_a_transient_failure_abandons_the_message_in_flight_and_releases_the_rest(
    engine: Engine,
) -> None:
    box, platform = outbox(engine, Clock()), Platform(fail={1: DeliveryError("503")})
    held, plan = await plan_all(box, platform)
    out = await box.drain(held, plan, platform.send)
    assert out.posted == KEYS[:1] and out.error == "503"
    assert await states(box) == [X, A, R, R]


async def test_a_refused_message_is_released(engine: Engine) -> None:
    box = outbox(engine, Clock())
    platform = Platform(fail={1: DeliveryError("channel_not_found", permanent=True)})
    held, plan = await plan_all(box, platform)
    out = await box.drain(held, plan, platform.send)
    assert out.posted == KEYS[:1] and out.error == "channel_not_found"
    assert await states(box) == [X, R, R, R]


async def test_a_stop_between_messages_releases_the_rest(engine: Engine) -> None:
    box, platform = outbox(engine, Clock()), Platform()
    held, plan = await plan_all(box, platform)
    out = await box.drain(held, plan, platform.send, stop=lambda: len(platform.sent) == 2)
    assert out.interrupted and out.posted == KEYS[:2]
    assert await states(box) == [X, X, R, R]


async def test_a_confirmation_that_cannot_be_written_abandons_the_message(
    engine: Engine,
) -> None:
    class Unconfirmed(Ledger):
        def confirm(self, channel: str, keys: Sequence[str], *, ref: str, now: datetime) -> None:
            raise StoreError("database is locked")

    box, platform = outbox(engine, Clock(), Unconfirmed(engine)), Platform()
    held, plan = await plan_all(box, platform)
    out = await box.drain(held, plan, platform.send)
    # On the platform, so counted; not recorded, so the next run looks for it first.
    assert out.posted == KEYS[:1] and out.error == "database is locked"
    assert await states(box) == [A, R, R, R]


async def test_a_cancelled_send_abandons_its_message_and_releases_the_rest(
    engine: Engine,
) -> None:
    box, platform = outbox(engine, Clock()), Platform(hold=1)
    held, plan = await plan_all(box, platform)
    task = asyncio.ensure_future(box.drain(held, plan, platform.send))
    await platform.holding.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert await states(box) == [X, A, R, R]


# -- crash points: a run killed at each point, then the next run ------------------------

CRASH_POINTS = ["planned", "sending", "sent", "posted", "abandoned", "released"]


@pytest.mark.parametrize("point", CRASH_POINTS)
async def test_the_next_run_after_a_crash(
    engine: Engine, monkeypatch: pytest.MonkeyPatch, point: str
) -> None:
    """A run whose process died (same host: recognised at once, long before its lease
    ends) after `point` for its first message of two papers; then the next run."""
    me = this_process()
    if me is None:
        pytest.skip("processes cannot be told apart here (no /proc)")
    host, boot, ns, _pid, _start = me.split("/")
    monkeypatch.setattr(ledger_module, "this_process", lambda: f"{host}/{boot}/{ns}/999999999/1")
    clock = Clock()
    box = outbox(engine, clock)
    first, rest = KEYS[:2], KEYS[2:]
    dead = await box.plan(CHANNEL, KEYS, now=T0)
    if point != "planned":
        assert await box.sending(dead, first, "m1")
    if point == "posted":
        await box.posted(dead, first, "ts-dead")
    if point == "abandoned":
        await box.abandon(dead, first)
    if point == "released":
        await box.release(dead, first)
    monkeypatch.setattr(ledger_module, "this_process", lambda: me)

    clock.now = T0 + MINUTE / 10  # the dead run's lease still runs
    platform = Platform(per_message=2)
    held = await box.plan(CHANNEL, rest[:1] + first[:1], now=clock.now)
    plan, carried = await box.messages(held, digest(rest[:1] + first[:1]), platform)  # type: ignore[arg-type]
    out = await box.drain(held, plan, platform.send)
    sent = [(o.message.keys, o.key if o.maybe_sent else None) for o in platform.sent]
    if point in {"sending", "sent", "abandoned"}:
        # Maybe on the platform: the whole message again, first, under its key; the paper
        # not asked for (first[1]) travels with it.
        assert held.resend == dict.fromkeys(first, "m1")
        assert sent == [(tuple(first), "m1"), ((rest[0],), None)]
        assert sorted(out.posted) == sorted([*first, rest[0]])
    elif point == "posted":
        assert held.deferred == first[:1] and sent == [((rest[0],), None)]
    else:  # planned, released: nothing was sent; sent as new
        assert held.resend == {} and sent == [((rest[0], first[0]), None)]
    assert len({k for keys, _ in sent for k in keys}) == sum(len(k) for k, _ in sent)
    assert [i.paper.key for i in carried.items] == [k for keys, _ in sent for k in keys]


async def test_a_crash_is_taken_over_by_lease_when_the_owner_cannot_be_told(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ledger_module, "this_process", lambda: "another-host/b/1/2/3")
    box = outbox(engine, Clock())
    dead = await box.plan(CHANNEL, KEYS[:2], now=T0)
    assert await box.sending(dead, KEYS[:1], "m1")
    monkeypatch.undo()
    assert (await box.plan(CHANNEL, KEYS[:2], now=T0 + MINUTE / 2)).keys == []
    after = await box.plan(CHANNEL, KEYS[:2], now=T0 + 2 * MINUTE)
    assert after.keys == KEYS[:2] and after.resend == {KEYS[0]: "m1"}
