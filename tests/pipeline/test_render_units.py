"""Slack paper units share their paper's remembered parts (a paper goes to many channels):
their text length is what `block_text_len` counts over their blocks, and digests rendered
from remembered parts are the ones rendered from fresh parts."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.models import Digest, DigestItem, Paper
from bot.pipeline.render import slack
from bot.pipeline.render.slack import render_slack

TEXT = st.text(st.characters(blacklist_categories=("Cs",)), max_size=400)


def _paper(title: str, abstract: str, upvotes: int | None) -> Paper:
    return Paper(
        title=title,
        abstract=abstract,
        arxiv_id="2406.00001",
        authors=("Ada <!channel> Lovelace", "Alan Turing"),
        upvotes=upvotes,
    )


@settings(max_examples=150, deadline=None)
@given(
    title=TEXT,
    summary=TEXT,
    topics=st.lists(TEXT, max_size=4),
    buttons=st.booleans(),
    upvotes=st.none() | st.integers(0, 10**6),
)
def test_remembered_text_length_is_the_blocks_text(
    title: str, summary: str, topics: list[str], buttons: bool, upvotes: int | None
) -> None:
    item = DigestItem(
        paper=_paper(title, "An abstract.", upvotes),
        score=0.7,
        topics=tuple(topics),
        summary=summary,
    )
    unit = slack._paper_unit(item, buttons=buttons)
    assert unit.text_len == sum(slack.block_text_len(b) for b in unit.blocks)


@pytest.mark.parametrize("buttons", [False, True])
def test_remembered_parts_render_what_fresh_ones_do(buttons: bool) -> None:
    papers = [_paper(f"Sparse experts {i}", "We propose sparse experts.", i) for i in range(3)]

    def digest(i: int, topics: tuple[str, ...]) -> Digest:
        items = tuple(
            DigestItem(paper=p, score=0.8, topics=topics, summary="We propose it.")
            for p in papers[i:] + papers[:i]
        )
        return Digest(
            channel_ref=f"slack:C{i}",
            channel_name="ml",
            day=date(2026, 11, 30),
            items=items,
            more=i,
            topics=topics,
        )

    digests = [digest(i, t) for i in range(3) for t in (("moe",), ("moe", "speech"))]
    slack._remembered_parts.cache_clear()
    slack._topics_text.cache_clear()
    fresh = []
    for d in digests:
        fresh.append([m.payload for m in render_slack(d, buttons=buttons)])
        slack._remembered_parts.cache_clear()
    slack._topics_text.cache_clear()
    for d in digests:
        render_slack(d, buttons=buttons)
    assert [[m.payload for m in render_slack(d, buttons=buttons)] for d in digests] == fresh
