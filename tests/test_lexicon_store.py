"""LexiconStore: the lexicon saved in the database and brought up to date from what changed
is, after inserts, updates (longer abstracts, keywords, an arXiv title), re-keys and
deletes, the lexicon a build from scratch learns from the archive; on SQLite and PostgreSQL,
for one process and for several sharing the database."""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine, delete, func, select, update
from test_lexicon_tally import exact

from bot.models import Paper
from bot.pipeline.lexicon import build
from bot.store.archive import Archive
from bot.store.db import make_engine
from bot.store.lexicon_store import Counted, LexiconStore
from bot.store.migrations import migrate
from bot.store.schema import lexicon_changes, lexicon_state, papers

T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


@pytest.fixture
def engine(database: str) -> Iterator[Engine]:
    eng = make_engine(database)
    migrate(eng)
    yield eng
    eng.dispose()


def paper(n: int, **kw: object) -> Paper:
    fields: dict[str, object] = {
        "title": f"Sparse Mixture of Experts number {n}",
        "abstract": f"We study the Mixture-of-Experts (MoE) layer {n} for speech models.",
    }
    fields.update(kw)
    return Paper(**fields)  # type: ignore[arg-type]


def from_scratch(archive: Archive) -> tuple[object, ...]:
    return exact(build(archive.all()))


def test_catch_up_follows_inserts_updates_rekeys_and_deletes(engine: Engine) -> None:
    archive = Archive(engine)
    store = LexiconStore(engine, save_every=3)
    archive.upsert([paper(i) for i in range(5)], now=T0)
    counted = store.catch_up(None)
    assert exact(counted.tally.lexicon()) == from_scratch(archive)

    steps: list[list[Paper]] = [
        [paper(5), paper(6, title="Zoë Large Language Models (LLMs) explained")],
        # a longer abstract wins: the paper's text changes
        [paper(1, abstract="Longer: we study the Mixture-of-Experts (MoE) layer 1 for speech.")],
        # keywords filled in later
        [paper(2, ai_keywords=("routing", "experts", "zoë"))],
        # the arXiv record of a title-keyed paper: its title and key change (re-keyed)
        [paper(3, arxiv_id="2501.00003", title="sparse mixture of experts number 3")],
        [paper(7, title="Neural Machine Translation (NMT) today"), paper(8)],
    ]
    for batch in steps:
        result = archive.upsert(batch, now=T0)
        assert result.new or result.updated
        counted = store.catch_up(counted)
        assert exact(counted.tally.lexicon()) == from_scratch(archive)
    assert archive.get("2501.00003") is not None

    # a deleted paper (migration 0008 merges papers so) is taken back
    with engine.begin() as conn:
        conn.execute(delete(papers).where(papers.c.title.like("%number 0")))
    counted = store.catch_up(counted)
    assert exact(counted.tally.lexicon()) == from_scratch(archive)

    # a restarted process starts from the saved state and catches up
    archive.upsert([paper(9, abstract="Speech recognition (ASR) with experts.")], now=T0)
    restarted = LexiconStore(engine).catch_up(None)
    assert exact(restarted.tally.lexicon()) == from_scratch(archive)


def test_only_text_changes_are_logged(engine: Engine) -> None:
    archive = Archive(engine)
    archive.upsert([paper(1, upvotes=3)], now=T0)
    archive.upsert([paper(1, upvotes=9)], now=T0)  # upvotes only: the text is unchanged
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(lexicon_changes)).scalar() == 0
    archive.upsert([paper(1, ai_keywords=("moe",))], now=T0)
    with engine.connect() as conn:
        logged = conn.execute(select(lexicon_changes.c.paper_id, lexicon_changes.c.title)).all()
    assert [(t) for _, t in logged] == [paper(1).title]


def test_processes_sharing_the_database_stay_consistent(engine: Engine) -> None:
    """Two processes, each with its own tally, one saving often: the log is pruned up to the
    state saved before, and a process older than that reloads the saved state."""
    archive = Archive(engine)
    one, two = LexiconStore(engine, save_every=1), LexiconStore(engine, save_every=10**9)
    archive.upsert([paper(i) for i in range(4)], now=T0)
    a = one.catch_up(None)
    b: Counted | None = two.catch_up(None)
    for i in range(4, 10):
        archive.upsert([paper(i), paper(i - 3, ai_keywords=(f"kw{i}",))], now=T0)
        a = one.catch_up(a)  # saves each time, pruning the log
        assert exact(a.tally.lexicon()) == from_scratch(archive)
    with engine.connect() as conn:
        pruned = conn.execute(select(lexicon_state.c.pruned_until)).scalar_one()
    assert b is not None and b.mark.changes < pruned  # `two` fell behind what the log keeps
    b = two.catch_up(b)
    assert exact(b.tally.lexicon()) == from_scratch(archive)
    assert not one.save(a)  # the saved state is as new already


def test_an_empty_archive_has_an_empty_lexicon(engine: Engine) -> None:
    counted = LexiconStore(engine).catch_up(None)
    assert counted.tally.lexicon().n_docs == 0
    with engine.begin() as conn:  # a paper's text edited by hand is followed too
        Archive(engine).upsert([paper(1)], now=T0)
        conn.execute(update(papers).values(title="Hand edited title (HET)"))
    counted = LexiconStore(engine).catch_up(counted)
    assert exact(counted.tally.lexicon()) == from_scratch(Archive(engine))


def test_a_count_from_scratch_split_between_processes_is_the_same(engine: Engine) -> None:
    archive = Archive(engine)
    archive.upsert([paper(i, ai_keywords=(f"k{i % 3}",)) for i in range(40)], now=T0)
    archive.upsert([paper(3, abstract="Now longer: Speech Recognition (ASR) for experts.")], now=T0)
    counted = LexiconStore(engine, parallel_from=10).catch_up(None)
    assert exact(counted.tally.lexicon()) == from_scratch(archive)
    assert counted.mark.papers == 40


def test_saved_counts_of_another_format_are_counted_again(engine: Engine) -> None:
    archive = Archive(engine)
    archive.upsert([paper(i) for i in range(3)], now=T0)
    store = LexiconStore(engine, save_every=1)
    store.catch_up(None)
    with engine.begin() as conn:
        conn.execute(update(lexicon_state).values(data=zlib.compress(b'{"format": 1}')))
    counted = LexiconStore(engine).catch_up(None)
    assert exact(counted.tally.lexicon()) == from_scratch(archive)
    lex = counted.tally.lexicon()
    assert lex.idf("experts") == build(archive.all()).idf("experts")  # the stems cache agrees


def test_two_processes_saving_the_first_state_at_once_do_not_fail(engine: Engine) -> None:
    """No state saved yet, and another process's first save not yet committed: this one's
    save waits for it and yields (PostgreSQL's FOR UPDATE locks no row that is not there
    yet, so both may try to insert it); the state stays one row and later saves go on."""
    import threading

    from bot.store.lexicon_store import STATE_ID, _encode

    archive = Archive(engine)
    archive.upsert([paper(i) for i in range(4)], now=T0)
    one, two = LexiconStore(engine), LexiconStore(engine)
    a = one.catch_up(None, save=False)
    b = two.catch_up(None, save=False)
    outcome: list[object] = []
    with engine.connect() as conn:
        with conn.begin():
            conn.execute(
                lexicon_state.insert().values(
                    id=STATE_ID,
                    papers_mark=a.mark.papers,
                    changes_mark=a.mark.changes,
                    data=_encode(a.tally),
                    saved_at=T0,
                    pruned_until=0,
                )
            )
            saver = threading.Thread(target=lambda: outcome.append(_try(two.save, b)))
            saver.start()
            saver.join(1.0)  # it waits for the first save's transaction
        saver.join(30)
    assert outcome and not isinstance(outcome[0], Exception), outcome
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(lexicon_state)).scalar_one() == 1
    archive.upsert([paper(9)], now=T0)
    assert two.save(two.catch_up(b, save=False))  # a newer state is saved over it


def _try(call: object, *args: object) -> object:
    try:
        return call(*args)  # type: ignore[operator]
    except Exception as e:  # the test reports it
        return e


def test_saved_counts_made_by_other_text_code_are_counted_again_and_saved_anew(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Counts saved by a process whose text code differed (another stemmer version): taking
    back a changed paper's old text finds items never counted. The catch-up counts again
    from scratch instead of failing on every call, and saves the new counts at once, so a
    restarted process starts from them."""
    import bot.pipeline.lexicon as lexicon_module

    archive = Archive(engine)
    text = "We use convolutional neural networks (CNNs) for speech."
    archive.upsert([paper(i, abstract=text) for i in range(5)], now=T0)
    LexiconStore(engine, save_every=1).catch_up(None)  # saved
    real = lexicon_module.stem
    monkeypatch.setattr(lexicon_module, "stem", lambda w: real(w) + "x")  # "upgraded"
    with engine.begin() as conn:
        conn.execute(update(papers).where(papers.c.id == 2).values(abstract="Something else."))
    store = LexiconStore(engine, save_every=10**9)
    counted = store.catch_up(None)
    assert exact(counted.tally.lexicon()) == from_scratch(archive)
    with engine.connect() as conn:
        saved = conn.execute(select(lexicon_state.c.changes_mark)).scalar_one()
    assert saved == counted.mark.changes  # saved anew although save_every is not reached
    again = LexiconStore(engine).catch_up(None)  # a restart starts from the new counts
    assert exact(again.tally.lexicon()) == from_scratch(archive)
