"""Pseudo-relevance feedback for a topic: the stems over-represented in the papers clearly
about it (`related_terms`), which `bot.pipeline.match.Matcher` lets count as weaker evidence
for the papers below the threshold (`bot.pipeline.evidence.with_related`). Pure."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence

from bot.pipeline.evidence import Doc, Evidence
from bot.pipeline.query import Concept

# Pseudo-relevance feedback (`related_terms`): from at least MIN_SEEDS papers with
# SEED_EVIDENCE, the RELATED_TERMS stems in RELATED_SUPPORT of them and RELATED_LIFT times as
# frequent there as in all papers.
SEED_EVIDENCE = 1.2
MIN_SEEDS = 3
RELATED_SUPPORT = 0.2
RELATED_LIFT = 2.0
RELATED_TERMS = 10


def related_terms(
    concept: Concept,
    found: Mapping[int, Evidence],
    docs: Sequence[Doc],
    postings: Mapping[str, set[int]],
) -> list[str]:
    """Pseudo-relevance feedback: stems over-represented in the papers that are clearly
    about the topic (standard Rocchio-style expansion, learned from these papers)."""
    seeds = [i for i, ev in found.items() if ev.evidence >= SEED_EVIDENCE]
    if len(seeds) < MIN_SEEDS:
        return []
    own = {s for ph in concept.phrases for s in ph.stems}
    counts: Counter[str] = Counter()
    for i in seeds:
        counts.update(docs[i].feedback)
    n = len(docs)
    scored = []
    for s, a in counts.items():
        if a < max(MIN_SEEDS, RELATED_SUPPORT * len(seeds)) or s in own:
            continue
        lift = (a / len(seeds)) / (len(postings[s]) / n)
        if lift >= RELATED_LIFT:
            scored.append((a * math.log(lift), s))
    return [s for _, s in sorted(scored, reverse=True)[:RELATED_TERMS]]
