"""Titles, abstracts and authors written in TeX read as text, and one paper keeps one key
whichever source spelled its title (issue 14, item 5)."""

from __future__ import annotations

import json
import re
import time
from datetime import UTC, datetime
from html import escape
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.models import Paper, normalize_title, paper_key, read_tex
from bot.pipeline.tex import _TEX_FRAGMENT, tex_to_text
from bot.sources.detect import parse_any
from bot.sources.dump import parse_dump
from bot.sources.hf_daily import parse_hf_daily
from bot.sources.rss import parse_feed
from bot.sources.sniff import sniff
from bot.store.archive import Archive
from bot.store.db import make_engine
from bot.store.migrations import migrate

NOW = datetime(2026, 6, 2, 12, tzinfo=UTC)
ABSTRACT = "We study a made-up problem and report made-up results on invented benchmarks."


def rss(*items: tuple[str, str | None]) -> bytes:
    """An arXiv-style RSS feed of (title as the feed spells it, arXiv id or None) items.
    The title is XML-escaped as a feed escapes it."""
    body = []
    for title, arxiv_id in items:
        guid = f"<guid isPermaLink='false'>oai:arXiv.org:{arxiv_id}v1</guid>" if arxiv_id else ""
        link = f"<link>https://arxiv.org/abs/{arxiv_id}</link>" if arxiv_id else ""
        body.append(
            f"<item><title>{escape(title, quote=False)}</title>{link}"
            f"<description>Abstract: {escape(ABSTRACT)}</description>{guid}"
            "<dc:creator>Andr\\'e Example, Zo\\\"e Sample</dc:creator></item>"
        )
    return (
        "<?xml version='1.0' encoding='UTF-8'?>"
        "<rss xmlns:dc='http://purl.org/dc/elements/1.1/' version='2.0'><channel>"
        "<title>cs.CL updates on arXiv.org</title><link>http://rss.arxiv.org/rss/cs.CL</link>"
        f"<description>x</description>{''.join(body)}</channel></rss>"
    ).encode()


def dump(title: str) -> bytes:
    return f"{title}\n{ABSTRACT}\n".encode()


def hf(title: str, arxiv_id: str = "2306.00001") -> bytes:
    item = {"paper": {"id": arxiv_id, "title": title, "summary": ABSTRACT, "authors": []}}
    return json.dumps([item]).encode()


def only(content: bytes) -> Paper:
    result = parse_any(content, source="t")
    assert len(result.papers) == 1, result
    return result.papers[0]


# --- the case of the issue --------------------------------------------------------------


def test_tex_title_in_rss_is_the_dump_paper_and_reads_as_text(tmp_path: Path) -> None:
    """A dump's "π-Tuning: …" and the arXiv RSS item `$\\pi$-Tuning: …` are one paper: the
    RSS item merges into the archived one (rekeyed to its arXiv id), nothing is new, and the
    title shown is "π-Tuning", never the raw `$\\pi$`."""
    engine = make_engine(str(tmp_path / "p.db"))
    migrate(engine)
    archive = Archive(engine)
    plain = (
        "π-Tuning: Transferring Multimodal Foundation Models with Optimal Multi-task Interpolation"
    )
    stored = archive.upsert([only(dump(plain))], now=NOW)
    assert stored.new == 1
    from_rss = only(rss((r"$\pi$-Tuning: Transferring Multimodal Foundation Models with "
                         "Optimal Multi-task Interpolation", "2304.14381")))  # fmt: skip
    assert from_rss.title == plain
    again = archive.upsert([from_rss], now=NOW)
    assert (again.new, again.known) == (0, 1)
    assert again.rekeyed == [(normalize_title(plain), "2304.14381")]
    [paper] = archive.all()
    assert paper.title == plain and paper.arxiv_id == "2304.14381"


def test_rss_authors_and_abstract_read_tex_as_text() -> None:
    feed = rss((r"Caf\'e: \textbf{Bold} Claims about $O(n^2)$ Attention", None))
    paper = only(feed)
    assert paper.title == "Café: Bold Claims about O(n^2) Attention"
    assert paper.authors == ("André Example", "Zoë Sample")


@pytest.mark.parametrize(
    ("tex", "text"),
    [
        (r"$\pi$-Tuning", "π-Tuning"),
        (r"Caf\'e", "Café"),
        (r"Caf{\'e}", "Café"),
        (r"Caf\'{e}", "Café"),
        (r"\textbf{x} and \emph{y}", "x and y"),
        (r"G\"odel meets $\alpha$-entmax", "Gödel meets α-entmax"),
        (r"$\mathcal{O}(n)$ memory", "𝒪(n) memory"),
        (r"$k$-means for $\ell_1$", "k-means for ℓ_1"),
        (r"Learning in $\mathbb{R}^n$", "Learning in ℝ^n"),
        (r"50\% fewer \& cheaper", "50% fewer & cheaper"),
        (r"Erd\H{o}s and Pe\v{s}i\'c", "Erdős and Pešić"),
        (r"{\o}ystein and \ss{}", "øystein and ß"),
    ],
)
def test_tex_to_text_reads_tex(tex: str, text: str) -> None:
    assert tex_to_text(tex) == text


@pytest.mark.parametrize(
    "plain",
    [
        "Costs $5 to $10 per query",
        "From $20,000 to $30,000: budget-aware training",
        "$100M models and a $ sign",
        "US$5-$10 inference",
        r"Paths like C:\Users\data and a\b",
        "snake_case_names and x^2 and a~b",
        "50% of tokens -- and --- dashes, ``quotes'' and {braces}",
        "Q&A over <html> & entities &amp;",
        "Price: $",
        "$",
        "\\",
        "{",
        "}",
        "",
    ],
)
def test_ordinary_text_is_unchanged(plain: str) -> None:
    assert tex_to_text(plain) == plain


# --- one title, every source's spelling, one key -----------------------------------------

GREEK = {"π": "pi", "α": "alpha", "β": "beta", "λ": "lambda", "Σ": "Sigma", "ω": "omega"}
ACCENTS = {"é": r"\'e", "è": r"\`e", "ö": r"\"o", "ñ": r"\~n", "ç": r"\c{c}", "ô": r"\^o"}
WORDS = ["Tuning", "Qwen2", "Qwen2.5", "MoE", "Learning", "Attention", "Mixture-of-Experts",
         "LLMs", "R&D", "3D", "Zero-Shot", "x"]  # fmt: skip

piece = st.one_of(
    st.sampled_from(WORDS).map(lambda w: (w, w)),
    st.sampled_from(sorted(GREEK)).map(lambda g: (g, f"${{\\{GREEK[g]}}}$")),
    st.sampled_from(sorted(GREEK)).map(lambda g: (g, f"$\\{GREEK[g]}$")),
    st.tuples(st.sampled_from(["Caf", "Na", "G", "Se"]), st.sampled_from(sorted(ACCENTS))).map(
        lambda p: (p[0] + p[1], p[0] + ACCENTS[p[1]])
    ),
    st.tuples(st.sampled_from(["Caf", "Na"]), st.sampled_from(sorted(ACCENTS))).map(
        lambda p: (p[0] + p[1], p[0] + "{" + ACCENTS[p[1]] + "}")
    ),
)
separator = st.sampled_from([" ", ": ", "-", " & ", ", "])


@st.composite
def titles(draw: st.DrawFn) -> tuple[str, str]:
    """(the title in Unicode, the same title in TeX) of 1-6 pieces."""
    pieces = draw(st.lists(piece, min_size=1, max_size=6))
    seps = [draw(separator) for _ in pieces[1:]]
    plain, tex = pieces[0]
    for (p, t), sep in zip(pieces[1:], seps, strict=True):
        plain, tex = plain + sep + p, tex + sep + t
    # A dump tells titles from abstracts by their look: keep it a title's.
    tail = ": Scaling Sparse Models"
    return plain + tail, tex + tail


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(titles())
def test_one_title_in_every_source_spelling_is_one_key(title: tuple[str, str]) -> None:
    plain, tex = title
    spellings = {
        "dump (unicode)": only(dump(plain)),
        "rss (unicode, entities)": only(rss((plain, None))),
        "rss (tex, entities)": only(rss((tex, None))),
        "rss (tex, html entities)": only(
            rss((tex.replace("&", "&amp;").replace("é", "&eacute;"), None))
        ),
        "hf (tex)": only(hf(tex)),
        "hf (unicode)": only(hf(plain)),
    }
    keys = {name: p.title_norm for name, p in spellings.items()}
    assert len(set(keys.values())) == 1, keys
    shown = {name: p.title for name, p in spellings.items()}
    assert len(set(shown.values())) == 1, shown
    assert paper_key(None, tex) == paper_key(None, plain) == normalize_title(plain)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("Qwen2 Technical Report", "Qwen2.5 Technical Report"),
        ("Multi-Head Mixture-of-Experts", "MH-MoE: Multi-Head Mixture-of-Experts"),
        (r"$\pi$-Tuning", r"$\Pi$-Tuning Revisited"),
        (r"$\alpha$-entmax", r"$\beta$-entmax"),
        (r"$\ell_1$ regularisation", r"$\ell_2$ regularisation"),
    ],
)
def test_similar_titles_stay_different_papers(a: str, b: str) -> None:
    assert normalize_title(a) != normalize_title(b)


# --- bounded on hostile input ----------------------------------------------------------


@pytest.mark.parametrize(
    "hostile",
    [
        "{" * 100_000 + "x",
        "}" * 100_000,
        "\\textbf{" * 20_000,
        "$" + "{" * 5_000 + "\\pi" + "$",
        "$\\frac{" * 10_000,
        "\\'" * 50_000,
        " ".join(f"\\textbf{{w{i}}}" for i in range(20_000)),
        "$" + "\\left(" * 3_000 + "$",
    ],
)
def test_hostile_tex_is_bounded(hostile: str) -> None:
    start = time.perf_counter()
    out = tex_to_text(hostile)
    normalize_title(hostile)
    assert isinstance(out, str)
    assert time.perf_counter() - start < 5


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.sampled_from("\\${}_^~'\"`abxπ é0 %&"), max_size=60))
def test_tex_to_text_never_raises_and_is_stable(text: str) -> None:
    """A title as shown (read once, `read_tex`) has the identity of the title as typed."""
    tex_to_text(text)
    title = " ".join(text.split()) or "x"
    shown = read_tex(Paper(title=title))
    assert shown.title and normalize_title(shown.title) == normalize_title(title)


@pytest.mark.parametrize("title", [r"\approx", r"$\rightarrow$", r"\S", "$\\leq$ $\\geq$"])
def test_a_title_of_symbols_only_keeps_a_key(title: str) -> None:
    """`\\approx` reads `≈`, which has no letters: the key is the letters as typed, and the
    title is shown as typed, so that its key is the same."""
    assert normalize_title(title)
    paper = read_tex(Paper(title=title))
    assert paper.key == normalize_title(title) == normalize_title(paper.title)


def _raw_papers(path: Path) -> list[Paper]:
    """The papers of a file as its parser reads them, before TeX is read (`parse_any` does)."""
    content = path.read_bytes()
    kind = sniff(content)
    if kind == "json":
        return list(parse_hf_daily(content, source="t").papers)
    if kind == "xml":
        return list(parse_feed(content, source="t", include_replacements=True).papers)
    return list(parse_dump(content, source="t").papers)


def test_real_text_outside_tex_is_unchanged(shared_dir: Path) -> None:
    """Every title, abstract and author of the real seeds, recorded payloads and fixtures:
    the text between TeX fragments is kept as it is, in order (dollar signs, backslashes
    of `\\eg`, underscores, dashes and percent signs of ordinary text stay), and a text
    without TeX is unchanged."""
    fixtures = Path(__file__).resolve().parents[1] / "fixtures"
    folders = (shared_dir / "seeds", shared_dir / "fixtures" / "real", fixtures)
    files = [
        f for d in folders for f in sorted(d.iterdir()) if f.suffix in (".txt", ".xml", ".json")
    ]
    seen = changed = 0
    for path in files:
        for paper in _raw_papers(path):
            for text in (paper.title, paper.abstract, *paper.authors):
                seen += 1
                out = tex_to_text(text)
                if out == text:
                    continue
                changed += 1
                at = 0
                for kept in re.split(_TEX_FRAGMENT, text)[:: _TEX_FRAGMENT.groups + 1]:
                    found = out.find(kept, at)
                    assert found >= 0, (path.name, kept, out)
                    at = found + len(kept)
                assert "\\textbf" not in out and "\\%" not in out and '\\"' not in out
    assert seen > 900
    assert 0 < changed < seen // 20  # TeX is rare; a reader that rewrites much is wrong
