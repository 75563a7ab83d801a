"""Slack paper units are remembered per paper, summary and topics (a paper goes to many
channels): the remembered text length is what `block_text_len` counts over the unit's
blocks, and no two messages share a block."""

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
def test_messages_of_two_channels_share_no_block(buttons: bool) -> None:
    paper = _paper("Sparse experts", "We propose sparse experts.", 3)
    item = DigestItem(paper=paper, score=0.8, topics=("moe",), summary="We propose it.")
    digests = [
        Digest(
            channel_ref=f"slack:C{i}",
            channel_name="ml",
            day=date(2026, 11, 30),
            items=(item,),
            more=0,
            topics=("moe",),
        )
        for i in range(2)
    ]
    first, second = (render_slack(d, buttons=buttons) for d in digests)
    assert [m.payload for m in first] == [m.payload for m in second]
    ids = {id(b) for m in first for b in m.payload["blocks"]}  # type: ignore[union-attr]
    shared = [b for m in second for b in m.payload["blocks"] if id(b) in ids]  # type: ignore[union-attr]
    assert all(b is slack.DIVIDER for b in shared)
