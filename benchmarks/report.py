"""BENCHMARKS.md from the measurements: the machine, the targets and what was measured,
growth with scale, the baselines, and where the time goes."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

TARGETS = {
    "digest": ("1,000 papers × 10,000 channels: ≤ 5 s wall, ≤ 1 GiB peak", 5.0, 1 << 30),
    "search": ("250,000 papers, 1,000 queries: p95 ≤ 30 ms, p99 ≤ 100 ms", 0.030, None),
    "search_huge": ("1,000,000 papers: p95 ≤ 100 ms", 0.100, None),
    "digest_huge": ("1,000 papers × 100,000 channels: ≤ 30 s wall, ≤ 2 GiB peak", 30.0, 2 << 30),
    "ingest": ("100,000 papers from dumps into SQLite: ≥ 5,000 papers/s", 5000.0, None),
    "ingest_json": (
        "100,000 papers of HF Daily Papers JSON into SQLite: ≥ 5,000 papers/s",
        5000.0,
        None,
    ),
    "ingest_pg": ("dumps into PostgreSQL: ≥ 3,000 papers/s", 3000.0, None),
    "slack_ack": ("50 concurrent signed /papers: p99 ack ≤ 200 ms", 0.200, None),
    "config": ("a configuration file with 10,000 channels loads in ≤ 2 s", 2.0, None),
    "delivery": (
        "2,000 Slack + 2,000 Discord channels: all delivered, 0 lost, 0 duplicates, in ≤ 1.25× "
        "what the rate limits allow",
        1.25,
        None,
    ),
    "lexicon": (
        "250,000 papers: a day's 1,000 papers update it in ≤ 1 s, the first /papers after a "
        "restart in ≤ 3 s, from scratch ≤ 30 s, identical to a build from scratch",
        1.0,
        None,
    ),
}

HEADER = """# Benchmarks

Scale benchmarks of Paperboy on synthetic data whose distributions come from the seed
dumps (`benchmarks/synth.py`), each beside the obvious implementation (fuzzy matching of
every topic against every paper, a linear-scan search). `make bench` (`python -m
benchmarks`) runs them all, each once more right after on the code before issue 18
(*Before and after*), and rewrites this file and its plots (`docs/benchmarks/`): about an
hour on 2 cores, half of it the code before (`--no-baseline` leaves it out); `python -m
benchmarks --quick` is a fast pass at small sizes (a few minutes), and
`tests/test_benchmarks_smoke.py` runs every scenario at toy size in `make test`
(correctness only). Each figure is the median of the runs shown; peak memory is the
resident high-water mark (VmHWM, reset before the measured run) of the process that ran
the measurement, everything it had loaded included. *Targets* says which targets are met;
*What remains, and where the time goes* says what would close those still missed.
"""


def _s(seconds: float | None) -> str:
    if seconds is None or seconds != seconds:  # None or NaN: not measured
        return "–"
    if seconds < 1:
        return f"{seconds * 1000:.1f} ms"
    if seconds < 120:
        return f"{seconds:.2f} s"
    return f"{seconds / 60:.1f} min"


def _mib(n: float | None) -> str:
    return "–" if not n else f"{n / (1 << 20):,.0f} MiB"


def _n(x: float | None) -> str:
    return "–" if x is None else f"{x:,.0f}"


def _ok(good: bool) -> str:
    return "✅ met" if good else "❌ missed"


def _ratio(ours: float | None, base: float | None) -> str:
    if not ours or not base or ours != ours or base != base:
        return "–"
    return f"{base / ours:,.0f}× faster" if base >= ours else f"{ours / base:,.1f}× slower"


def _find(results: Sequence[dict[str, Any]], scenario: str, **params: Any) -> dict[str, Any] | None:
    """The result measured with `params`, else (a quick run) the largest of the scenario."""
    for r in results:
        if r.get("scenario") == scenario and all(
            r.get("params", {}).get(k) == v for k, v in params.items()
        ):
            return r
    ok = _all(results, scenario)
    key = next(iter(params))
    return max(ok, key=lambda r: r.get("params", {}).get(key, 0)) if ok else None


def _matches(r: dict[str, Any], params: dict[str, Any]) -> bool:
    """Whether `r` was measured with `params` (None: a parameter left at its default),
    sizes aside."""
    got = r.get("params", {})
    return all(got.get(k) == v for k, v in params.items() if k != "papers")


def _all(results: Sequence[dict[str, Any]], scenario: str) -> list[dict[str, Any]]:
    return [r for r in results if r.get("scenario") == scenario and "error" not in r]


def _size(r: dict[str, Any], key: str, target: int) -> str:
    got = r.get("params", {}).get(key)
    return "" if got == target else f" (smaller run: {_n(got)} {key}, not the target's size)"


def _verdict(r: dict[str, Any], key: str, target: int, good: bool) -> str:
    return _ok(good) if r.get("params", {}).get(key) == target else "–"


def _machine(info: dict[str, Any]) -> list[str]:
    load = info.get("load_before") or ()
    after = info.get("load_after") or ()
    mem = info.get("memory")
    return [
        "## Machine",
        "",
        "| | |",
        "| --- | --- |",
        f"| date | {datetime.now(UTC):%Y-%m-%d %H:%M} UTC ({info.get('mode', 'full')} run, "
        f"{_s(info.get('total_seconds'))} in all) |",
        f"| platform | {info.get('platform')} |",
        f"| CPU | {info.get('cpu')} |",
        f"| CPU count | {info.get('cpus')} (usable: {info.get('cpus_usable')}) |",
        f"| memory | {mem / (1 << 30):.1f} GiB |" if mem else "| memory | – |",
        f"| Python | {info.get('python')} |",
        f"| SQLite | {info.get('sqlite')} (SQLAlchemy {info.get('sqlalchemy')}) |",
        "| load average (1/5/15 min) | before "
        + "/".join(f"{x:.2f}" for x in load)
        + ", after "
        + "/".join(f"{x:.2f}" for x in after)
        + " |",
        "",
    ]


def _summary(results: Sequence[dict[str, Any]]) -> list[str]:
    out = [
        "## Targets",
        "",
        "| scenario | target | measured | | obvious baseline | ratio |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    d = _find(results, "digest", channels=10_000)
    if d and "error" not in d:
        wall, peak = d["wall"]["median"], d["peak_rss"]
        base = d["baseline"]["extrapolated_seconds"]
        verdict = _verdict(d, "channels", 10_000, wall <= 5.0 and peak <= 1 << 30)
        out.append(
            f"| digest cycle{_size(d, 'channels', 10_000)} | {TARGETS['digest'][0]} "
            f"| {_s(wall)} wall, {_mib(peak)} peak "
            f"(matching {_s(d['matching_seconds'])}) | {verdict} "
            f"| matching by partial_ratio: {_s(base)} (extrapolated from "
            f"{d['baseline']['sample_channels']} channels) "
            f"| matching {_ratio(d['matching_seconds'], base)} |"
        )
    h = _find(results, "digest", channels=100_000)
    if h and "error" not in h and h is not d:
        wall, peak = h["wall"]["median"], h["peak_rss"]
        verdict = _verdict(h, "channels", 100_000, wall <= 30.0 and peak <= 2 << 30)
        out.append(
            f"| digest cycle{_size(h, 'channels', 100_000)} | {TARGETS['digest_huge'][0]} "
            f"| {_s(wall)} wall, {_mib(peak)} peak | {verdict} | – | – |"
        )
    s = _find(results, "search", papers=250_000)
    if s and "error" not in s:
        base = s["baseline"]
        good = s["p95_median"] <= 0.030 and s["p99_median"] <= 0.100
        out.append(
            f"| search{_size(s, 'papers', 250_000)} | {TARGETS['search'][0]} "
            f"| p95 {_s(s['p95_median'])}, p99 {_s(s['p99_median'])} "
            f"(p50 {_s(s['p50_median'])}) "
            f"| {_verdict(s, 'papers', 250_000, good)} "
            f"| linear scan: p50 {_s(base['p50'])} ({base['sample_queries']} queries) "
            f"| p50 {_ratio(s['p50_median'], base['p50'])} |"
        )
    m = _find(results, "search", papers=1_000_000)
    if m and "error" not in m and m is not s:
        out.append(
            f"| search{_size(m, 'papers', 1_000_000)} | {TARGETS['search_huge'][0]} "
            f"| p95 {_s(m['p95_median'])}, p99 {_s(m['p99_median'])} "
            f"(p50 {_s(m['p50_median'])}; {_n(m.get('queries'))} queries) "
            f"| {_verdict(m, 'papers', 1_000_000, m['p95_median'] <= 0.100)} | – | – |"
        )
    for target, want, params in (
        ("ingest", 5000.0, {"papers": 100_000, "source": None, "backend": None}),
        ("ingest_json", 5000.0, {"papers": 100_000, "source": "hf-json"}),
        ("ingest_pg", 3000.0, {"backend": "postgresql"}),
    ):
        i = _find(results, "ingest", **params)
        if i is None or "error" in i or not _matches(i, params):
            continue
        rate = i["papers_per_second"]
        size = params.get("papers")
        shown = _size(i, "papers", size) if size else f" ({_n(i.get('stored'))} papers)"
        verdict = _verdict(i, "papers", size, rate >= want) if size else _ok(rate >= want)
        out.append(
            f"| ingest{shown} | {TARGETS[target][0]} | {_n(rate)} papers/s "
            f"({_s(i['wall']['median'])}); archive {_mib(i['archive_bytes_checkpointed'])} "
            f"on disk | {verdict} | – | – |"
        )
    c = _find(results, "config", channels=10_000)
    if c and "error" not in c:
        wall = c["wall"]["median"]
        loaded = not c.get("refused")
        shown = f"{_s(wall)} ({_file(c.get('file_bytes'))} file)" + (
            "" if loaded else f", **refused**: {c['refused']}"
        )
        verdict = _verdict(c, "channels", 10_000, loaded and wall <= 2.0)
        out.append(
            f"| configuration load{_size(c, 'channels', 10_000)} | {TARGETS['config'][0]} "
            f"| {shown} | {verdict} | – | – |"
        )
    out += _delivery_target(results) + _lexicon_target(results)
    k = _find(results, "slack_ack", concurrency=50)
    if k and "error" not in k:
        p99 = k["ack_p99_median"]
        out.append(
            f"| slash-command ack | {TARGETS['slack_ack'][0]} | p99 {_s(p99)} "
            f"(p50 {_s(k['ack']['p50'])}) | {_ok(p99 <= 0.200)} | – | – |"
        )
    failed = [r for r in results if "error" in r]
    for r in failed:
        out.append(f"| {r['scenario']} {r.get('params')} | | **failed**: {r['error']} | | | |")
    return [*out, ""]


def _digest(results: Sequence[dict[str, Any]]) -> list[str]:
    rows = sorted(_all(results, "digest"), key=lambda r: (r.get("min_rank", 0), r["channels"]))
    if not rows:
        return []
    out = [
        "## Digest cycle",
        "",
        "`DigestCycle.run` (dry run: nothing posted or recorded) over the day's papers for "
        "every channel, then each digest rendered as Slack Block Kit. The channels follow 5 "
        "topics and exclude 1 each, drawn from 2,000 with a Zipf long tail; the posted "
        "ledger holds the stated number of rows (a tenth of the channels already had "
        "today's best papers posted). The lexicon is the cached one (see *lexicon* below).",
        "",
        "| channels | papers | ledger rows | distinct topics | matches / channel "
        "(median, p90) | wall (runs) | peak | matching | baseline matching | ratio |",
        "| ---: | ---: | ---: | ---: | --- | --- | ---: | ---: | ---: | --- |",
    ]
    for r in rows:
        m, b = r["matches_per_channel"], r["baseline"]
        runs = ", ".join(_s(x) for x in r["wall"]["runs"])
        out.append(
            f"| {_channels(r)} | {_n(r['papers'])} | {_n(r['ledger_rows'])} "
            f"| {_n(r['distinct_topics'])} | {m['median']:.0f}, {m['p90']:.0f} "
            f"| **{_s(r['wall']['median'])}** ({runs}) | {_mib(r['peak_rss'])} "
            f"| {_s(r['matching_seconds'])} | {_s(b['extrapolated_seconds'])} "
            f"| {_ratio(r['matching_seconds'], b['extrapolated_seconds'])} |"
        )
    out += [
        "",
        "Where the time goes (median of the runs, seconds):",
        "",
        "| step | " + " | ".join(_channels(r) for r in rows) + " |",
        "| --- | " + " | ".join("---:" for _ in rows) + " |",
    ]
    steps = list(rows[0]["steps"])
    for step in steps:
        out.append(
            f"| {step} | " + " | ".join(f"{r['steps'].get(step, 0.0):.2f}" for r in rows) + " |"
        )
    out.append(
        "| (rest: the cycle's own loop, windows, filtering) | "
        + " | ".join(f"{r['wall']['median'] - sum(r['steps'].values()):.2f}" for r in rows)
        + " |"
    )
    lex = rows[0]
    out += [
        "",
        f"Learning the lexicon from the archive ({_n(lex['lexicon_papers'])} papers: "
        f"`build(archive.all())`) takes **{_s(lex['lexicon_build_seconds'])}**, outside the "
        f"figures above: `LexiconCache` learns it once per change of the archive, for every "
        f"digest job and command of the process. "
        f"Baseline matches per channel (partial_ratio ≥ 90, median): "
        f"{lex['baseline']['matches_per_channel_median']:.0f}.",
        "",
    ]
    return out


def _channels(r: dict[str, Any]) -> str:
    narrow = r.get("min_rank") or 0
    return f"{_n(r['channels'])}" + (f" (narrow: no top-{narrow} topic)" if narrow else "")


def _search(results: Sequence[dict[str, Any]]) -> list[str]:
    rows = sorted(_all(results, "search"), key=lambda r: r["papers"])
    if not rows:
        return []
    out = [
        "## Search",
        "",
        "`/papers search <query>` through `handlers.commands.dispatch` with the services "
        "`paperboy run` builds, one query at a time: topics as people type them, acronyms, "
        "typos, author names, title fragments, sentences and hostile input. The first "
        "command builds the cached lexicon (timed apart).",
        "",
        "| papers | queries × passes | p50 | p95 | p99 | max | lexicon (first command) "
        "| archive on disk | peak | linear scan p50 (sample) | ratio (p50) |",
        "| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    full = [r for r in rows if not r.get("lexicon_papers")]
    for r in rows:
        b = r["baseline"]
        lexicon = _s(r["setup_seconds"].get("lexicon (first command)"))
        base_p50, base_note = b["p50"], f"({b['sample_queries']})"
        if r.get("lexicon_papers"):
            # a smaller run: the lexicon of a smaller archive; extrapolate what is missing
            ref = max(full, key=lambda f: f["papers"]) if full else None
            scale = r["papers"] / ref["papers"] if ref else None
            learned = ref and ref["setup_seconds"].get("lexicon (first command)")
            lexicon = (
                f"≈ {_s(learned * scale)} (extrapolated; this run used the lexicon of "
                f"{_n(r['lexicon_papers'])} papers)"
                if learned and scale
                else f"– (lexicon of {_n(r['lexicon_papers'])} papers)"
            )
            if not b["n"] and ref and scale:
                base_p50 = ref["baseline"]["p50"] * scale
                base_note = "(extrapolated)"
        out.append(
            f"| {_n(r['papers'])} | {_n(r['queries'])} × {len(r['passes'])} "
            f"| {_s(r['p50_median'])} | **{_s(r['p95_median'])}** | {_s(r['p99_median'])} "
            f"| {_s(r['pooled']['max'])} | {lexicon} "
            f"| {_mib(r['archive_bytes'])} | {_mib(r['peak_rss'])} "
            f"| {_s(base_p50)} {base_note} | {_ratio(r['p50_median'], base_p50)} |"
        )
    out += [
        "",
        "Where a query's time goes (mean per query, last pass):",
        "",
        "| step | " + " | ".join(f"{_n(r['papers'])}" for r in rows) + " |",
        "| --- | " + " | ".join("---:" for _ in rows) + " |",
    ]
    for step in rows[-1]["steps_mean"]:
        out.append(f"| {step} | " + " | ".join(_s(r["steps_mean"].get(step)) for r in rows) + " |")
    out.append("| whole command | " + " | ".join(_s(r["pooled"]["mean"]) for r in rows) + " |")
    return [*out, ""]


def _ingest(results: Sequence[dict[str, Any]]) -> list[str]:
    rows = _all(results, "ingest")
    if not rows:
        return []
    out = [
        "## Ingest",
        "",
        "Hugging Face papers-page text dumps (both layouts, 1,000 papers a file) or Hugging "
        "Face Daily Papers API JSON (1,000 papers a file) into an empty archive (SQLite, or "
        "PostgreSQL on the tests' server), one file after the other, as `paperboy ingest` "
        "does.",
        "",
        "| from → into | papers | files | input size | wall (runs) | papers/s | archive on "
        "disk (checkpointed) | bytes / paper | peak |",
        "| --- | ---: | ---: | ---: | --- | ---: | ---: | ---: | ---: |",
    ]
    for r in rows:
        runs = ", ".join(_s(x) for x in r["wall"]["runs"])
        per = r["archive_bytes_checkpointed"] / max(r["stored"], 1)
        params = r.get("params", {})
        source = "HF JSON" if params.get("source") == "hf-json" else "dumps"
        store = "PostgreSQL" if params.get("backend") == "postgresql" else "SQLite"
        out.append(
            f"| {source} → {store} | {_n(r['stored'])} | {_n(r['files'])} "
            f"| {_mib(r['dump_bytes'])} "
            f"| **{_s(r['wall']['median'])}** ({runs}) | **{_n(r['papers_per_second'])}** "
            f"| {_mib(r['archive_bytes_checkpointed'])} | {_n(per)} | {_mib(r['peak_rss'])} |"
        )
    return [*out, ""]


def _file(n: float | None) -> str:
    return "–" if not n else f"{n / (1 << 20):,.1f} MiB"


def _delivery_target(results: Sequence[dict[str, Any]]) -> list[str]:
    r = _find(results, "delivery", slack_channels=2_000)
    if not r or "error" in r:
        return []
    ratio, bad = r.get("ratio_to_bound"), _undelivered(r)
    good = not bad and ratio is not None and ratio <= 1.25
    return [
        f"| delivery at the platforms' limits{_size(r, 'slack_channels', 2_000)} "
        f"| {TARGETS['delivery'][0]} | {_s(r.get('wall_seconds'))} for "
        f"{_s(r.get('limit_bound_seconds'))} allowed ({_times(ratio)}); "
        f"{_n(r.get('papers_confirmed'))} of {_n(r.get('papers_planned'))} papers, "
        f"{bad or 'none'} lost or duplicated | "
        f"{_verdict(r, 'slack_channels', 2_000, good)} | – | – |"
    ]


def _lexicon_target(results: Sequence[dict[str, Any]]) -> list[str]:
    r = _find(results, "lexicon", papers=250_000)
    if not r or "error" in r:
        return []
    t = r.get("seconds") or {}
    update, restart, build = t.get("update"), t.get("restart"), t.get("build")
    good = (
        r.get("identical") is True
        and r.get("update") == 1_000
        and all(x is not None for x in (update, restart, build))
        and update <= 1.0
        and restart <= 3.0
        and build <= 30.0
    )
    return [
        f"| lexicon{_size(r, 'papers', 250_000)} | {TARGETS['lexicon'][0]} "
        f"| update ({_n(r.get('update'))} papers) {_s(update)}, first /papers after a restart "
        f"{_s(restart)}, from scratch {_s(build)}; identical: {_yes(r.get('identical'))} "
        f"| {_verdict(r, 'papers', 250_000, good)} | – | – |"
    ]


def _yes(x: object) -> str:
    return "yes" if x is True else "**no**" if x is False else "–"


def _times(x: float | None) -> str:
    return "–" if x is None else f"{x:.2f}×"


def _undelivered(r: dict[str, Any]) -> str:
    """What went wrong in a delivery run ('' when nothing did)."""
    counts = {
        "papers lost": r.get("lost_papers"),
        "messages lost": r.get("lost_messages"),
        "duplicate papers": r.get("duplicate_papers"),
        "duplicate messages": r.get("duplicate_messages"),
        "failed channels": r.get("failed"),
    }
    return ", ".join(f"{_n(v)} {k}" for k, v in counts.items() if v)


def _delivery(results: Sequence[dict[str, Any]]) -> list[str]:
    rows = sorted(_all(results, "delivery"), key=lambda r: r.get("slack_channels", 0))
    if not rows:
        return []
    out = [
        "## Delivery at the platforms' limits",
        "",
        "One day's digests through the Slack and Discord deliveries against the fakes of "
        "`tests/fakes` with the platforms' rate limits enforced (Slack: about 1 message per "
        "second per channel with bursts; Discord: 50 requests per second per bot and "
        "per-route buckets) and a network latency per request (`benchmarks/delivery.py`). "
        "*Allowed*: the least time the limits allow for these messages.",
        "",
        "| channels (Slack + Discord) | papers delivered | messages (Slack, Discord) | wall "
        "| allowed | ratio | Discord msg/s (limit) | Slack busiest channel msg/s (limit) "
        "| lost, duplicated | 429s |",
        "| --- | ---: | --- | ---: | ---: | ---: | --- | --- | --- | ---: |",
    ]
    for r in rows:
        msgs = r.get("messages") or {}
        http = r.get("http_429") or {}
        rate, peak = r.get("discord_messages_per_second"), r.get("discord_peak_per_second")
        busiest = r.get("slack_busiest_channel_per_second")
        out.append(
            f"| {_n(r.get('slack_channels'))} + {_n(r.get('discord_channels'))} "
            f"| {_n(r.get('papers_confirmed'))} of {_n(r.get('papers_planned'))} "
            f"| {_n(msgs.get('slack'))}, {_n(msgs.get('discord'))} "
            f"| **{_s(r.get('wall_seconds'))}** | {_s(r.get('limit_bound_seconds'))} "
            f"| {_times(r.get('ratio_to_bound'))} "
            f"| {_rate(rate)} (peak {_rate(peak)}; {_n(r.get('discord_limit_per_second'))}) "
            f"| {_rate(busiest)} ({r.get('slack_limit', '–')}) "
            f"| {_undelivered(r) or 'none'} | {_n(sum(http.values()) if http else None)} |"
        )
    return [*out, ""]


def _rate(x: float | None) -> str:
    return "–" if x is None else f"{x:,.1f}/s"


def _lexicon(results: Sequence[dict[str, Any]]) -> list[str]:
    rows = sorted(_all(results, "lexicon"), key=lambda r: r.get("papers", 0))
    if not rows:
        return []
    out = [
        "## Lexicon",
        "",
        "What `/papers` and digests understand topics with, at each archive size "
        "(`benchmarks/lexicon.py`): learned from scratch (`build`), the service's first "
        "lexicon on an archive that never had one (and the wait for its save), the next one "
        "after a day's papers (new ones stored, a tenth as many updated), and a new process "
        "from its start to the reply of its first `/papers`. *Identical*: the updated "
        "lexicon equals a build from scratch.",
        "",
        "| papers | from scratch | first | save | a day later (papers) | restart to first "
        "/papers | identical | peak |",
        "| ---: | ---: | ---: | ---: | --- | ---: | --- | ---: |",
    ]
    for r in rows:
        t = r.get("seconds") or {}
        out.append(
            f"| {_n(r.get('papers'))} | {_s(t.get('build'))} | {_s(t.get('first'))} "
            f"| {_s(t.get('save'))} | **{_s(t.get('update'))}** ({_n(r.get('update'))}) "
            f"| **{_s(t.get('restart'))}** | {_yes(r.get('identical'))} "
            f"| {_mib(r.get('peak_rss'))} |"
        )
    return [*out, ""]


def _config(results: Sequence[dict[str, Any]]) -> list[str]:
    rows = sorted(_all(results, "config"), key=lambda r: r["channels"])
    if not rows:
        return []
    out = [
        "## Configuration load",
        "",
        "`load_settings` of a file with that many channels (`benchmarks/config_load.py`: each "
        "channel a block mapping with its topics, an exclusion, a schedule and a time zone, "
        "no YAML aliases), as every `paperboy` command starts.",
        "",
        "| channels | file | wall (runs) | peak | outcome |",
        "| ---: | ---: | --- | ---: | --- |",
    ]
    for r in rows:
        runs = ", ".join(_s(x) for x in r["wall"]["runs"])
        outcome = f"refused: {r['refused']}" if r.get("refused") else f"{_n(r['loaded'])} loaded"
        out.append(
            f"| {_n(r['channels'])} | {_file(r.get('file_bytes'))} "
            f"| **{_s(r['wall']['median'])}** ({runs}) | {_mib(r.get('peak_rss'))} "
            f"| {outcome} |"
        )
    return [*out, ""]


def _slack(results: Sequence[dict[str, Any]]) -> list[str]:
    rows = _all(results, "slack_ack")
    if not rows:
        return []
    out = [
        "## Slash-command ack",
        "",
        "Bursts of concurrent signed `/papers` requests (mostly searches) against the "
        "Slack HTTP endpoint (`build_slack_app` + `serve_http`, in its own process), the "
        "Web API and response_urls served by the fake Slack of `tests/fakes`. Ack = the "
        "HTTP answer Slack waits for (3 s at most); reply = until the answer reached the "
        "response_url. The first burst meets a cold lexicon cache.",
        "",
        "| archive | concurrency × bursts | ack p50 | ack p99 (median of bursts) | ack max "
        "| reply p50 | reply p99 | cold burst: ack p99, reply p99 |",
        "| ---: | --- | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for r in rows:
        c = r["cold_burst"]
        out.append(
            f"| {_n(r['papers'])} | {r['concurrency']} × {r['bursts']} | {_s(r['ack']['p50'])} "
            f"| **{_s(r['ack_p99_median'])}** | {_s(r['ack']['max'])} "
            f"| {_s(r['reply']['p50'])} | {_s(r['reply']['p99'])} "
            f"| {_s(c['ack']['p99'])}, {_s(c['reply']['p99'])} |"
        )
    return [*out, ""]


def _change(now: float | None, then: float | None, higher_is_better: bool) -> str:
    if not now or not then:
        return "–"
    better = now > then if higher_is_better else now < then
    factor = max(now, then) / min(now, then)
    if factor < 1.05:
        return "same (within 5%)"
    if higher_is_better:
        return f"{factor:,.1f}× {'higher' if better else 'lower'}"
    return f"{factor:,.1f}× {'faster' if better else 'slower'}"


def _load(r: dict[str, Any]) -> str:
    load = r.get("load_at_start")
    return f"{load[0]:.1f}" if load else "–"


def _cut(text: str, n: int) -> str:
    return text if len(text) <= n else text[: n - 1].rstrip() + "…"


def _failure(r: dict[str, Any]) -> str:
    last = (r.get("log") or [""])[-1].strip().replace("|", "/")
    return f"failed: {r['error']}" + (f" ({last[:140]})" if last else "")


def _growth(
    info: dict[str, Any],
    results: Sequence[dict[str, Any]],
    before: Sequence[dict[str, Any]] | None,
    figures: Sequence[tuple[str, str]],
) -> list[str]:
    """Each measurement beside the same one on the code before, and the plots of both."""
    from benchmarks.plots import fmt, headline, spec_for

    meta = info.get("before") or {}
    out = ["## Before and after: growth with size", ""]
    if meta.get("label"):
        out += [
            f"Every measurement of this run ran twice, on this tree and right after it on "
            f'{meta["label"]}: "{_cut(meta.get("subject", ""), 72)}", the last commit before issue '
            "18's work, exported from git into a temporary folder with this tree's "
            "benchmarks and fakes beside it: the same scenarios on the same machine under "
            "the same load. The code before leaves out the obvious-implementation baselines.",
            "",
        ]
        asked = sorted(
            {
                int(b["queries"])
                for b in before or ()
                if b.get("scenario") == "search" and isinstance(b.get("queries"), int)
            }
        )
        out[-1:-1] = [
            "It runs each measurement once"
            + (
                f", and its searches (seconds each at the larger sizes) the first "
                f"{', '.join(f'{q:,}' for q in asked)} of the same queries."
                if asked
                else "."
            )
        ]
    elif before:
        out += ["Each measurement beside the same one on the code before.", ""]
    else:
        why = meta.get("skipped", "no measurement of it in these results")
        out += [f"The code before was not measured in this run: {why}.", ""]
    if results:
        out += [
            "| scenario | size | figure | this tree | the code before | change "
            "| peak memory: this tree, before | load at start (1 min): this tree, before |",
            "| --- | ---: | --- | ---: | ---: | --- | --- | --- |",
        ]
    for r in results:
        scenario = str(r.get("scenario"))
        spec = spec_for(scenario, [r])
        params = r.get("params") or {}
        size = f"{_n(params.get(spec.size))} {spec.axis or spec.size}" if spec else "–"
        if spec and spec.variant(r):
            size += f" ({spec.variant(r)})"
        old = next(
            (
                b
                for b in before or ()
                if b.get("scenario") == scenario and (b.get("params") or {}) == params
            ),
            None,
        )
        what, now, unit, higher = headline(scenario, r)
        then = None if old is None or "error" in old else headline(scenario, old)[1]
        shown_now = _failure(r) if "error" in r else fmt(now, unit) if now is not None else "–"
        if old is None:
            shown_then = "not measured"
        elif "error" in old:
            shown_then = _failure(old)
        else:
            shown_then = fmt(then, unit) if then is not None else "–"
            if old.get("refused"):  # measured until the code before refused
                shown_then += f" (refused: {_cut(str(old['refused']), 100)})".replace("|", "/")
                then = None  # nothing to compare: it did not do the work
        peaks = ", ".join(_mib(x.get("peak_rss")) for x in (r, old) if x is not None)
        loads = ", ".join(_load(x) for x in (r, old) if x is not None)
        out.append(
            f"| {scenario} | {size} | {what} | {shown_now} | {shown_then} "
            f"| {_change(now, then, higher)} | {peaks} | {loads} |"
        )
    if figures:
        out += [
            "",
            "Solid lines: this tree; dashed: the code before; dotted: the target. Axes are "
            "logarithmic where the figures span a factor of ten or more.",
            "",
        ]
        out += [f"![{scenario}]({path})" for scenario, path in figures]
    elif info.get("plots_note"):
        out += ["", f"No plots: {info['plots_note']}."]
    return [*out, ""]


NOTES = Path(__file__).resolve().parent / "NOTES.md"


def write_report(
    info: dict[str, Any],
    results: Sequence[dict[str, Any]],
    out: Path | None,
    *,
    before: Sequence[dict[str, Any]] | None = None,
    figures: Sequence[tuple[str, str]] = (),
) -> str:
    """The report as Markdown; written to `out` when given. `before`: the same
    measurements on the code before; `figures`: (scenario, path relative to `out`) of the
    plots to show."""
    lines = [
        HEADER,
        *_machine(info),
        *_summary(results),
        *_growth(info, results, before, figures),
        *_digest(results),
        *_search(results),
        *_ingest(results),
        *_config(results),
        *_delivery(results),
        *_lexicon(results),
        *_slack(results),
    ]
    if NOTES.exists():
        lines.append(NOTES.read_text().strip())
    text = "\n".join(lines).rstrip() + "\n"
    if out is not None:
        out.write_text(text)
    return text
