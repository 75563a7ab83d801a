"""Many distinct papers about one topic (Mixture-of-Experts): a channel that follows it with
`max_posts: 0` (no cap) gets every one, for tests of large digests."""

from __future__ import annotations

import json

from bot.models import Paper

TOPIC = "mixture of experts"


def moe_papers(n: int, first: int = 0) -> list[Paper]:
    """`n` distinct Mixture-of-Experts papers with arXiv ids, numbered from `first`."""
    return [
        Paper(
            title=f"Routing Study {i}: Sparse Mixture-of-Experts Layers at Scale {i}",
            abstract=(
                f"We propose routing variant {i} for Mixture-of-Experts (MoE) models. Experts "
                f"are selected per token by a learned gate, and variant {i} balances load."
            ),
            arxiv_id=f"2611.{i:05d}",
        )
        for i in range(first, first + n)
    ]


def hf_daily_json(n: int, first_id: int) -> bytes:
    """An HF Daily Papers answer of `n` Mixture-of-Experts papers (the i-th numbered `i`),
    their arXiv ids numbered from `first_id`."""
    return json.dumps(
        [
            {
                "paper": {
                    "id": f"2611.{i + first_id:05d}",
                    "title": f"Sparse Mixture-of-Experts Routing Study {i}",
                    "summary": f"We propose routing variant {i} for Mixture-of-Experts (MoE) "
                    "language models. A learned gate selects experts per token.",
                    "authors": [{"name": "Ada Example"}],
                    "submittedOnDailyAt": "2026-11-23T03:00:00.000Z",
                    "upvotes": i,
                },
            }
            for i in range(n)
        ]
    ).encode()
