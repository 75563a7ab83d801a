"""Revision 0012's `paperboy_words` counts every text's words as the function it replaced:
the generated `search_length` (bm25's length normalization on PostgreSQL) is unchanged."""

from __future__ import annotations

import importlib
import random

import pytest
from sqlalchemy import text

from bot.store.db import make_engine
from bot.store.migrations import migrate

_REVISION = importlib.import_module("bot.store.alembic.versions.0012_cheaper_word_count")

# Letters, digits, whitespace of every kind, ASCII and Unicode punctuation, accents (composed
# and combining), full-width and compatibility forms that NFKD splits (½, ﬁ), CJK, emoji.
_ALPHABET = list("abcXYZ019 \t\n\r\x0b\x0c-_.,;:!?()[]{}'\"/\\@#$%^&*+=<>|~`") + list(
    "éÉñüßøÆœ\u00a0\u00ad\u00b7\u00bd\u00d7\u00f7\u2000\u2009\u2013\u2014\u2026\u2028"
    "\u2029\u3000\u00b2\uff21\uff0c\u0301\u0308\u1e9b\u2044\ufb01\u0130\u4e2d\u6587\U0001f600"
)


def _texts(n: int) -> list[tuple[str | None, str | None, str | None]]:
    rnd = random.Random(12)
    made: list[tuple[str | None, str | None, str | None]] = [
        (None, "a b", None),
        ("", "", ""),
        (" ", "\u3000", "\u00a0"),
        ("Mixture-of-Experts", "Qwen2.5 and C++ … «quoted»", '["Zoë Ångström", "J. Doe"]'),
    ]
    for _ in range(n):
        made.append(
            (
                "".join(rnd.choice(_ALPHABET) for _ in range(rnd.randint(0, 30))),
                "".join(rnd.choice(_ALPHABET) for _ in range(rnd.randint(0, 60))),
                "".join(rnd.choice(_ALPHABET) for _ in range(rnd.randint(0, 20))),
            )
        )
    return made


@pytest.mark.postgres
def test_the_new_word_count_equals_the_old_one(pg_url: str) -> None:
    engine = make_engine(pg_url)
    migrate(engine)  # paperboy_words as revision 0012 made it
    try:
        with engine.begin() as conn:
            conn.exec_driver_sql(
                _REVISION._OLD_WORDS.replace("paperboy_words", "old_words").replace("%", "%%")
            )
            conn.exec_driver_sql("CREATE TEMPORARY TABLE texts (a text, b text, c text)")
            conn.execute(
                text("INSERT INTO texts VALUES (:a, :b, :c)"),
                [{"a": a, "b": b, "c": c} for a, b, c in _texts(3_000)],
            )
            differ = conn.exec_driver_sql(
                "SELECT a, b, c FROM texts"
                " WHERE paperboy_words(a, b, c) IS DISTINCT FROM old_words(a, b, c)"
            ).all()
            counted = conn.exec_driver_sql("SELECT sum(paperboy_words(a, b, c)) FROM texts")
            assert (counted.scalar() or 0) > 10_000  # words were counted
        assert differ == []
    finally:
        engine.dispose()
