"""Check that a performance change kept behaviour identical: `python -m benchmarks.equivalence
[REV]` runs the same workload on the code of git revision REV (default HEAD) and on the
working tree, each in its own process, and compares every output.

Compared: for synthetic papers and the seed dumps (when `../shared/seeds` is there) every
Matcher output (each profile's matches with scores, topics, reasons and order; every
topic's evidence and understood concept; verdicts; index_of; matches and concepts again with
every topic evaluated first, in two processes, as a digest run does), typo repairs of misspelt
words, rendered digests (Slack, Discord, text; hostile strings included), and searches
against a small archive (hits, scores, reasons, notes, totals). Exit status 1 on a
difference, which is printed.
"""

from __future__ import annotations

import argparse
import os
import pickle
import random
import subprocess
import sys
import tarfile
import tempfile
from dataclasses import replace
from datetime import date
from io import BytesIO
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SEEDS = ROOT.parent / "shared" / "seeds"


def outputs(archive: str) -> dict[str, Any]:
    """Everything compared, computed with whichever `bot` this process imports."""
    from benchmarks.synth import EPOCH, Corpus
    from bot.models import Digest, DigestItem, Profile
    from bot.pipeline import query
    from bot.pipeline.lexicon import build
    from bot.pipeline.match import Matcher
    from bot.pipeline.render.discord_embeds import render_discord
    from bot.pipeline.render.slack import render_slack
    from bot.pipeline.render.text import render_text
    from bot.pipeline.summarize import summarize
    from bot.search import Search
    from bot.sources.detect import parse_any
    from bot.store.archive import Archive
    from bot.store.db import make_engine

    out: dict[str, Any] = {}
    corpus = Corpus(seed=11)
    sets = {"synthetic": (list(corpus.papers(400, first_seen=EPOCH)), list(corpus.papers(4000)))}
    if SEEDS.is_dir():
        seeds = [
            p
            for f in sorted(SEEDS.glob("*.txt"))
            for p in parse_any(f.read_bytes(), source=f.name).papers
        ]
        sets["seeds"] = (seeds, seeds)
    extra = [
        ("moe", "multi-task learning", "MoE", "moe"),
        ("speech", "medical"),
        ("mixture of experst",),
    ]
    profiles = corpus.profiles(200) + [
        Profile("x", str(i), topics=t, exclude=("survey",), authors=("Wei Wang",) * (i % 2))
        for i, t in enumerate(extra)
    ]
    for name, (papers, more) in sets.items():
        lex = build([*papers, *more])
        m = Matcher(papers, lex)
        out[f"{name} matches"] = [
            [(x.paper.key, x.score, x.topics, x.reasons) for x in m.match(p)] for p in profiles
        ]
        topics = sorted({t for p in profiles for t in (*p.topics, *p.exclude)})
        out[f"{name} evidence"] = {
            t: sorted((i, e.evidence, e.reasons) for i, e in m.topic_evidence(t).items())
            for t in topics
        }
        out[f"{name} concepts"] = {t: repr(m.concept(t)) for t in topics}
        # a digest run evaluates every topic first, in two processes (issue 18; lazily before)
        ahead = Matcher(papers, lex)
        every = [t for p in profiles for t in (*p.topics, *p.exclude)]
        if hasattr(ahead, "evaluate"):
            ahead.evaluate(every, split=True)
        out[f"{name} matches, topics evaluated first"] = [
            [(x.paper.key, x.score, x.topics, x.reasons) for x in ahead.match(p)] for p in profiles
        ] + [ahead.concept(t) for t in every]  # (equal: a set's repr may differ once pickled)
        out[f"{name} verdicts"] = [
            repr(m.verdict(p, i)) for p in profiles[:40] for i in range(0, len(papers), 9)
        ]
        out[f"{name} index_of"] = [m.index_of(p.key) for p in papers[::7]] + [m.index_of("?")]
        rng = random.Random(5)
        words = [w for w in lex.vocab if len(w) >= 5 and w.isalpha()]
        typos = []
        for w in rng.sample(words, min(300, len(words))):
            j = rng.randrange(len(w))
            typos.append(w[:j] + rng.choice("aeiourstkx") + w[j + 1 :])
        out[f"{name} typo repairs"] = [query._fix_typo(w, lex) for w in typos]
    weird = [
        "<!channel> *b* _i_ ~s~ `c` | & > \u202e x \x00\x07\tt\nn",
        "Zoë\u0301 — “q” ﬁne",
        "x" * 400,
    ]
    papers = list(corpus.papers(120, first_seen=EPOCH))
    papers += [
        replace(p, title=w + p.title, authors=(w, *p.authors), ai_summary=w * 2 if i % 2 else None)
        for i, (p, w) in enumerate(zip(papers[:30], weird * 10, strict=False))
    ]  # fmt: skip
    rng = random.Random(1)
    renders = []
    for c in range(150):
        topics = ["moe", "llms", "<!here>", "a" * 150]
        items = tuple(
            DigestItem(p, 0.7, tuple(rng.sample(topics, 2)), summarize(p))
            for p in rng.sample(papers, rng.randint(0, 30))
        )
        d = Digest(
            f"slack:C{c}", f"papers-{c}", date(2026, 11, 30), items, rng.randint(0, 5), ("moe",)
        )
        renders.append((render_slack(d), render_discord(d), render_text(d)))
    out["renders"] = renders
    store = Archive(make_engine(archive, read_only=True))
    lexicon = build(store.all())
    search = Search(store, lambda: lexicon)
    texts = corpus.queries(150, archive=3000)
    results = []
    for text in texts + texts[:30]:
        r = search.search(text, limit=10)
        results.append(
            ([(h.paper.key, round(h.score, 9), h.reason) for h in r.hits], r.notes, r.total)
        )
    out["searches"] = results
    return out


def _export(rev: str, into: Path) -> None:
    data = subprocess.run(
        ["git", "archive", rev, "bot"], cwd=ROOT, capture_output=True, check=True
    ).stdout
    with tarfile.open(fileobj=BytesIO(data)) as tar:
        tar.extractall(into, filter="data")


def _run(code_root: Path | None, archive: Path, out: Path) -> None:
    env = dict(os.environ, PYTHONHASHSEED="0")
    env["PAPERBOY_EQUIVALENCE_CODE"] = str(code_root or "")
    subprocess.run(
        [sys.executable, "-m", "benchmarks.equivalence", "--dump", str(archive), str(out)],
        cwd=ROOT,
        env=env,
        check=True,
    )


def _dump(archive: str, out: str) -> None:
    code = os.environ.get("PAPERBOY_EQUIVALENCE_CODE")
    if code:  # the old code first on the path, the installed (editable) bot out of the way
        sys.meta_path[:] = [f for f in sys.meta_path if "editable" not in repr(f).lower()]
        sys.path.insert(0, code)
    if str(ROOT) not in sys.path:
        sys.path.append(str(ROOT))
    Path(out).write_bytes(pickle.dumps(outputs(archive)))


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.equivalence", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("rev", nargs="?", default="HEAD", help="git revision (default HEAD)")
    parser.add_argument("--dump", nargs=2, metavar=("ARCHIVE", "OUT"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.dump:  # one side's outputs, in its own process (_run)
        _dump(*args.dump)
        return 0
    rev = args.rev
    from benchmarks.fixtures import ensure_archive
    from benchmarks.synth import EPOCH, Corpus

    with tempfile.TemporaryDirectory(prefix="paperboy-equivalence-") as tmp:
        folder = Path(tmp)
        archive = ensure_archive(folder, Corpus(seed=11), 3000, now=EPOCH)
        _export(rev, folder / "old")
        _run(folder / "old", archive, folder / "old.pickle")
        _run(None, archive, folder / "new.pickle")
        old = pickle.loads((folder / "old.pickle").read_bytes())
        new = pickle.loads((folder / "new.pickle").read_bytes())
    differ = [k for k in old if old[k] != new.get(k)]
    for k in differ:
        a, b = old[k], new[k]
        items = a.keys() if isinstance(a, dict) else range(len(a))
        first = next((i for i in items if a[i] != b[i]), None)
        print(f"DIFFERENT {k}: first at {first!r}")
        print(f"  {rev}: {a[first]!r:.500}\n  now: {b[first]!r:.500}")
    if not differ:
        print(f"identical to {rev}: {', '.join(old)}")
    return 1 if differ else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
