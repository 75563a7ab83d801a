"""Search quality on the real seed dumps: each development subscription typed as a
`/papers` query finds labelled papers in its top 5. Needs ../shared (skips without it)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.models import normalize_title
from bot.pipeline.lexicon import build
from bot.search import Search
from bot.sources.dump import parse_dump
from bot.store.archive import Archive
from bot.store.db import make_engine
from bot.store.migrations import migrate

T0 = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
TOP = 5
NEED = 4  # labelled-relevant papers among the top 5 (all of them when fewer are labelled)

# ../shared/relevance/README.md: label key -> what a user would type
SUBSCRIPTIONS = {
    "moe": "moe",
    "multitask": "multi-task learning",
    "spelling": "spelling correction",
    "translation": "machine translation",
    "speech": "speech",
    "medical": "medical",
    "code": "code generation",
}
# The three `code` papers are XiYan-SQL (text-to-SQL: never says "code"), CodeGen2 ("program
# synthesis": "code" only inside the name CodeGen2) and one on programming-language models.
# Without knowledge that SQL and programs are code, no lexical rule finds the first two.
KNOWN_GAPS = {"code": "lexically unreachable: text-to-SQL and program-synthesis papers"}


@pytest.fixture
def labels(shared_dir: Path) -> dict[str, frozenset[str]]:
    path = shared_dir / "relevance" / "dev-labels.jsonl"
    if not path.is_file():
        pytest.skip(f"no relevance labels at {path}")
    rows = [json.loads(line) for line in path.read_text("utf-8").splitlines() if line.strip()]
    return {normalize_title(r["title"]): frozenset(r["topics"]) for r in rows}


@pytest.fixture
def search(shared_dir: Path, tmp_path: Path) -> Iterator[Search]:
    files = sorted((shared_dir / "seeds").glob("*.txt"))
    if not files:
        pytest.skip(f"no seed dumps in {shared_dir / 'seeds'}")
    engine = make_engine(str(tmp_path / "paperboy.db"))
    migrate(engine)
    archive = Archive(engine)
    for f in files:  # as `paperboy ingest` stores them: the archive merges repeats
        archive.upsert(parse_dump(f.read_bytes(), source=f.name).papers, now=T0)
    assert archive.count() == 268
    lexicon = build(archive.all())
    yield Search(archive, lambda: lexicon)
    engine.dispose()


def relevant_in_top(search: Search, labels: dict[str, frozenset[str]], key: str) -> int:
    result = search.search(SUBSCRIPTIONS[key], limit=TOP)
    assert len(result.hits) == TOP
    return sum(key in labels[normalize_title(h.paper.title)] for h in result.hits)


@pytest.mark.shared
def test_moe_finds_five_mixture_of_experts_papers(
    search: Search, labels: dict[str, frozenset[str]]
) -> None:
    result = search.search("moe")
    assert len(result.hits) == 5
    for hit in result.hits:
        assert "moe" in labels[normalize_title(hit.paper.title)], hit.paper.title
        assert "moebius" not in hit.paper.title.lower()
    assert any("mixture of experts" in n for n in result.notes)


@pytest.mark.shared
@pytest.mark.parametrize(
    "key",
    [
        pytest.param(k, marks=pytest.mark.xfail(strict=True, reason=KNOWN_GAPS[k]))
        if k in KNOWN_GAPS
        else k
        for k in SUBSCRIPTIONS
    ],
)
def test_each_subscription_as_a_query_finds_labelled_papers(
    search: Search, labels: dict[str, frozenset[str]], key: str
) -> None:
    labelled = sum(key in topics for topics in labels.values())
    need = min(NEED, labelled)
    started = time.perf_counter()
    found = relevant_in_top(search, labels, key)
    elapsed = time.perf_counter() - started
    print(f"\n{SUBSCRIPTIONS[key]!r}: {found}/{TOP} labelled relevant ({elapsed * 1000:.0f} ms)")
    assert found >= need, f"{SUBSCRIPTIONS[key]!r}: {found}/{TOP}, need {need}"
