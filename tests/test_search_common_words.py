"""In a large archive the full-text query leaves out loose words that a tenth of the papers
have (bot.search.COMMON_SHARE): ranking every paper that has one is what made `/papers` slow
at 250,000 papers. The topic's phrasings stay, and small archives keep every word."""

from __future__ import annotations

from bot.pipeline.lexicon import Lexicon
from bot.pipeline.query import understand
from bot.pipeline.text import stem
from bot.search import COMMON_FROM, COMMON_SHARE, GENERIC_SHARE, fts_query


def _lexicon(n_docs: int) -> Lexicon:
    shares = {"speech": 0.001, "recognition": COMMON_SHARE, "benchmarks": GENERIC_SHARE}
    return Lexicon(n_docs=n_docs, df={stem(w): int(s * n_docs) + 1 for w, s in shares.items()})


def _terms(text: str, lex: Lexicon) -> tuple[str, ...]:
    query = fts_query(understand(text, lex), lex)
    assert query is not None
    return query.terms


def test_a_large_archive_leaves_out_common_loose_words() -> None:
    terms = _terms("speech recognition benchmarks", _lexicon(COMMON_FROM))
    assert "speech recognition benchmarks" in terms and "speech" in terms
    assert "recognition" not in terms and "benchmarks" not in terms


def test_a_small_archive_leaves_out_only_the_words_of_half_its_papers() -> None:
    terms = _terms("speech recognition benchmarks", _lexicon(COMMON_FROM - 1))
    assert "recognition" in terms and "benchmarks" not in terms


def test_a_query_of_common_words_only_keeps_them() -> None:
    assert _terms("recognition", _lexicon(COMMON_FROM)) == ("recognition",)
