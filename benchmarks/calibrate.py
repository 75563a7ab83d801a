"""Derive the generator's distributions from the seed dumps: `python -m benchmarks.calibrate`.

Writes `benchmarks/data/seeds.json`: word frequencies of titles and abstracts (surface
forms), title, abstract and sentence lengths in words, the share of titles with a
"Name: …" prefix, acronym definitions per paper and the definitions themselves. The
benchmarks read only that file, so they run without the seeds (and stay deterministic).
"""

from __future__ import annotations

import json
import re
import sys
from collections import Counter
from pathlib import Path

from bot.pipeline.lexicon import find_definitions
from bot.sources.detect import parse_any

SEEDS = Path(__file__).resolve().parents[2] / "shared" / "seeds"
OUT = Path(__file__).resolve().parent / "data" / "seeds.json"
TOKEN = re.compile(r"[A-Za-z][\w'’\-.]*[A-Za-z0-9]|[A-Za-z]|\d+(?:\.\d+)?%?")
SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9(])")
NAME_PREFIX = re.compile(r"^([^:]{1,40}):\s")


def main(seeds: Path = SEEDS) -> None:
    papers = []
    for path in sorted(seeds.glob("*.txt")):
        papers += parse_any(path.read_bytes(), source=path.name).papers
    if not papers:
        sys.exit(f"no papers in {seeds}")
    title_words: Counter[str] = Counter()
    abstract_words: Counter[str] = Counter()
    title_len: Counter[int] = Counter()
    abstract_len: Counter[int] = Counter()
    sentence_len: Counter[int] = Counter()
    definitions_per_paper: Counter[int] = Counter()
    definitions: Counter[tuple[str, str]] = Counter()
    prefixed = 0
    for p in papers:
        title = p.title
        m = NAME_PREFIX.match(title)
        if m:
            prefixed += 1
            title = title[m.end() :]
        tw = TOKEN.findall(title)
        title_words.update(tw)
        title_len[len(tw)] += 1
        aw = TOKEN.findall(p.abstract)
        abstract_words.update(w.rstrip(".") for w in aw)
        abstract_len[len(aw)] += 1
        for s in SENTENCE.split(p.abstract):
            sentence_len[len(TOKEN.findall(s))] += 1
        found = find_definitions(f"{p.title}. {p.abstract}")
        definitions_per_paper[len(found)] += 1
        definitions.update(found)
    data = {
        "papers": len(papers),
        "title_prefix_share": round(prefixed / len(papers), 3),
        "title_len": sorted(title_len.items()),
        "abstract_len": sorted(abstract_len.items()),
        "sentence_len": sorted((k, v) for k, v in sentence_len.items() if k >= 4),
        "definitions_per_paper": sorted(definitions_per_paper.items()),
        "definitions": sorted(definitions),
        "title_words": title_words.most_common(),
        "abstract_words": abstract_words.most_common(),
    }
    OUT.write_text(json.dumps(data, ensure_ascii=False, separators=(",", ":")) + "\n")
    print(f"{OUT}: {len(papers)} papers, {len(abstract_words)} abstract words")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else SEEDS)
