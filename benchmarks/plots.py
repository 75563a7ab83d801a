"""Cost-growth plots for BENCHMARKS.md: for each scenario, its figures (wall time or latency,
a rate where the scenario has one, peak memory) against its size, this tree's beside the
code before's, so the growth curve is seen rather than read.

`draw(results, before, into)` writes one PNG per scenario that has results (matplotlib's
Agg backend, no pyplot state, the default style whatever the user's matplotlibrc says, no
creation software or date in the file): the same results give the same bytes. A scenario
without a spec here (one added later) is drawn from what every scenario reports: its size
parameter, `wall.median` and `peak_rss`. Nothing is drawn when matplotlib is missing
(`pip install -e '.[bench]'`); `draw` then says so.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

Result = Mapping[str, Any]
MiB = float(1 << 20)
FIXED = {"svg.hashsalt": "paperboy-benchmarks", "font.family": "DejaVu Sans"}

# The parameters that can be a scenario's size, in the order they are looked for.
SIZES = ("channels", "papers", "slack_channels", "messages", "items", "size")


def value(r: Result, path: str) -> float | None:
    """The number at a dotted path of a result (`wall.median`), None when absent or NaN."""
    got: Any = r
    for part in path.split("."):
        if not isinstance(got, Mapping) or part not in got:
            return None
        got = got[part]
    if isinstance(got, bool) or not isinstance(got, int | float) or got != got:
        return None
    return float(got)


@dataclass(frozen=True)
class Line:
    """One measured quantity of a panel."""

    label: str
    path: str  # dotted path into the result


@dataclass(frozen=True)
class Panel:
    title: str
    unit: str  # "s" (seconds), "B" (bytes) or "/s" (a rate)
    lines: tuple[Line, ...]
    target: float | None = None  # drawn as a dotted line
    higher_is_better: bool = False


@dataclass(frozen=True)
class Spec:
    title: str
    size: str  # the parameter on the x axis
    panels: tuple[Panel, ...]
    axis: str = ""  # the x axis's label (default: the size parameter)
    headline: str = ""  # the line a before/after table shows (default: the first panel's first)
    # parameters that make another curve, each with how its value is named ("{}": the value)
    variants: Mapping[str, str] = field(default_factory=dict)

    def variant(self, r: Result) -> str:
        params = r.get("params") or {}
        return ", ".join(
            name.format(params[k]) for k, name in self.variants.items() if params.get(k)
        )


def _wall(target: float | None = None) -> Panel:
    return Panel("wall time", "s", (Line("wall", "wall.median"),), target)


def _peak(target: float | None = None) -> Panel:
    return Panel("peak memory", "B", (Line("peak RSS", "peak_rss"),), target)


SPECS: dict[str, Spec] = {
    "digest": Spec(
        "Digest cycle (1,000 papers) vs channels",
        "channels",
        (_wall(5.0), _peak(float(1 << 30))),
        variants={"min_rank": "narrow: no top-{} topic"},
    ),
    "search": Spec(
        "Search latency vs papers in the archive",
        "papers",
        (
            Panel(
                "latency per /papers search",
                "s",
                (Line("p50", "p50_median"), Line("p95", "p95_median"), Line("p99", "p99_median")),
                0.030,
            ),
            _peak(),
        ),
        headline="p95",
    ),
    "ingest": Spec(
        "Ingest of dumps vs papers",
        "papers",
        (
            Panel("rate", "/s", (Line("papers/s", "papers_per_second"),), 5000.0, True),
            _wall(),
            _peak(),
        ),
    ),
    "config": Spec("Loading a configuration vs channels", "channels", (_wall(2.0), _peak())),
    "delivery": Spec(
        "Delivering a day's digests at the platforms' rate limits",
        "slack_channels",
        (
            Panel(
                "delivery time",
                "s",
                (Line("wall", "wall_seconds"), Line("the limits allow", "limit_bound_seconds")),
            ),
            _peak(),
        ),
        axis="Slack channels (and as many on Discord)",
        headline="wall",
    ),
    "lexicon": Spec(
        "The lexicon vs papers in the archive",
        "papers",
        (
            Panel("learned from scratch", "s", (Line("build", "seconds.build"),), 30.0),
            Panel("a day's papers later", "s", (Line("update", "seconds.update"),), 1.0),
            Panel("restart to the first /papers", "s", (Line("restart", "seconds.restart"),), 3.0),
            _peak(),
        ),
        headline="update",
    ),
    "slack_ack": Spec(
        "Slash-command ack vs papers in the archive",
        "papers",
        (Panel("ack", "s", (Line("p50", "ack.p50"), Line("p99", "ack_p99_median")), 0.200),),
        headline="p99",
    ),
}


def spec_for(scenario: str, results: Sequence[Result]) -> Spec | None:
    """The plot of a scenario: its own spec, else one from what every scenario reports
    (None when its results have no size parameter)."""
    if scenario in SPECS:
        return SPECS[scenario]
    params = [r.get("params") or {} for r in results]
    size = next((k for k in SIZES if any(isinstance(p.get(k), int) for p in params)), None)
    if size is None:
        return None
    return Spec(scenario.replace("_", " ").capitalize() + f" vs {size}", size, (_wall(), _peak()))


def size_of(spec: Spec, r: Result) -> float | None:
    got = (r.get("params") or {}).get(spec.size, r.get(spec.size))
    return float(got) if isinstance(got, int | float) and not isinstance(got, bool) else None


REFUSED = "refused"  # the curve of the results that were refusals
Points = dict[tuple[str, str], list[tuple[float, float]]]  # (variant, line) -> [(size, y)]


def points(spec: Spec, panel: Panel, results: Sequence[Result]) -> Points:
    """Each curve's (size, value) points, sorted by size; at a size measured twice, the
    last result counts. A result that reports it was refused (`refused`: the code before
    refused a large configuration) is also a point of the REFUSED curve."""
    found: dict[tuple[str, str], dict[float, float]] = {}
    for r in results:
        x = size_of(spec, r)
        if "error" in r or x is None:
            continue
        for line in panel.lines:
            y = value(r, line.path)
            if y is not None:
                found.setdefault((spec.variant(r), line.label), {})[x] = y
                if r.get("refused"):
                    found.setdefault(("", REFUSED), {})[x] = y
    return {key: sorted(xy.items()) for key, xy in found.items()}


def headline(scenario: str, r: Result) -> tuple[str, float | None, str, bool]:
    """The figure a before/after table shows for a result: (what, value, unit, higher is
    better): the spec's headline line, else the first line of its first panel."""
    spec = spec_for(scenario, [r]) or Spec(scenario, "", (_wall(),))
    for panel in spec.panels:
        for line in panel.lines:
            if line.label == spec.headline or not spec.headline:
                return line.label, value(r, line.path), panel.unit, panel.higher_is_better
    return "–", None, "", False


def by_scenario(results: Sequence[Result]) -> dict[str, list[Result]]:
    out: dict[str, list[Result]] = {}
    for r in results:
        out.setdefault(str(r.get("scenario")), []).append(r)
    return out


def fmt(x: float, unit: str) -> str:
    """A figure as people read it: 12 ms, 3.4 s, 2.1 min; 512 MiB, 1.5 GiB; 5.2k/s."""
    if unit == "s":
        if x < 1:
            return f"{x * 1000:.3g} ms"
        return f"{x:.3g} s" if x < 1000 else f"{x / 60:.3g} min"
    if unit == "B":
        return f"{x / (1 << 20):.3g} MiB" if x < 1 << 30 else f"{x / (1 << 30):.3g} GiB"
    if unit == "MiB":
        return f"{x:,.4g} MiB"
    if unit == "/s":
        return f"{x / 1000:.3g}k/s" if x >= 1000 else f"{x:.3g}/s"
    return f"{x:.3g}"


def _size(x: float) -> str:
    if x >= 1_000_000 and x % 100_000 == 0:
        return f"{x / 1_000_000:g}M"
    return f"{x / 1000:g}k" if x >= 1000 and x % 100 == 0 else f"{x:g}"


def draw(
    results: Sequence[Result],
    before: Sequence[Result] | None,
    into: Path,
    *,
    before_label: str = "the code before",
) -> tuple[list[tuple[str, Path]], str | None]:
    """One PNG per scenario into `into` ({scenario}.png); ([(scenario, path)], None), or
    ([], why nothing was drawn). A file whose bytes would not change is left alone."""
    try:
        import matplotlib
        import matplotlib.style
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        return [], "matplotlib is not installed (pip install -e '.[bench]'): no plots drawn"
    now, old = by_scenario(results), by_scenario(before or [])
    drawn: list[tuple[str, Path]] = []
    # the default style, not the user's matplotlibrc (restored on exit)
    with matplotlib.style.context("default"), matplotlib.rc_context(FIXED):
        for scenario in sorted(now):
            spec = spec_for(scenario, now[scenario])
            if spec is None:
                continue
            panels = [
                (p, points(spec, p, now[scenario]), points(spec, p, old.get(scenario, [])))
                for p in spec.panels
            ]
            panels = [(p, a, b) for p, a, b in panels if a or b]
            if not panels:
                continue
            cols = len(panels) if len(panels) <= 3 else 2
            rows = -(-len(panels) // cols)
            fig = Figure(figsize=(4.6 * cols, 0.5 + 3.4 * rows), dpi=100, layout="constrained")
            FigureCanvasAgg(fig)
            fig.suptitle(
                f"{spec.title}\nthis tree (solid) and {before_label} (dashed)", fontsize=10
            )
            for i, (panel, ours, theirs) in enumerate(panels):
                ax = fig.add_subplot(rows, cols, i + 1)
                _panel(ax, spec, panel, ours, theirs)
            buffer = io.BytesIO()
            fig.savefig(buffer, format="png", dpi=100, metadata={"Software": None})
            into.mkdir(parents=True, exist_ok=True)
            path = into / f"{scenario}.png"
            data = buffer.getvalue()
            if not path.exists() or path.read_bytes() != data:
                path.write_bytes(data)
            drawn.append((scenario, path))
    return drawn, None


def _panel(ax: Any, spec: Spec, panel: Panel, ours: Points, theirs: Points) -> None:
    from matplotlib.ticker import FuncFormatter, LogLocator

    keys = sorted(set(ours) | set(theirs), key=lambda k: (k[0], _order(panel, k[1])))
    colours = {k: f"C{n % 10}" for n, k in enumerate(keys)}
    xs: list[float] = []
    ys: list[float] = []
    for key in keys:
        name = " ".join(part for part in (key[1], key[0] and f"({key[0]})") if part)
        for pts, style, marker, suffix in (
            (ours.get(key), "-", "o", ""),
            (theirs.get(key), "--", "s", " before"),
        ):
            if not pts:
                continue
            x, y = zip(*pts, strict=True)
            y = [v / MiB for v in y] if panel.unit == "B" else list(y)  # MiB: round ticks
            xs += x
            ys += y
            if key[1] == REFUSED:  # a mark on the other curves' points
                ax.plot(x, y, "x", color="black", markersize=9, label=REFUSED + suffix)
                continue
            ax.plot(x, y, style, marker=marker, color=colours[key], label=name + suffix,
                    markersize=4, linewidth=1.4)  # fmt: skip
    if panel.target is not None:
        target = panel.target / MiB if panel.unit == "B" else panel.target
        ys.append(target)
        ax.axhline(target, color="0.45", linestyle=":", linewidth=1,
                   label=f"target {fmt(panel.target, panel.unit)}")  # fmt: skip
    if xs and max(xs) / max(min(xs), 1e-12) >= 10:
        ax.set_xscale("log")
    positive = [y for y in ys if y > 0]
    if positive and max(positive) / min(positive) >= 30:
        ax.set_yscale("log")
        ax.yaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
    else:
        # a linear axis from zero: differences not magnified
        ax.set_ylim(0, max(ys, default=1.0) * 1.1 or 1.0)
    ax.set_xticks(sorted(set(xs)))
    ax.set_xticklabels([_size(x) for x in sorted(set(xs))])
    ax.minorticks_off()
    unit = "MiB" if panel.unit == "B" else panel.unit
    ax.yaxis.set_major_formatter(FuncFormatter(lambda y, _pos: fmt(y, unit)))
    ax.set_xlabel(spec.axis or spec.size)
    ax.set_title(panel.title + (" (higher is better)" if panel.higher_is_better else ""),
                 fontsize=9)  # fmt: skip
    ax.tick_params(labelsize=7)
    ax.grid(True, which="major", linewidth=0.4, alpha=0.5)
    ax.legend(fontsize=7, loc="best")


def _order(panel: Panel, label: str) -> int:
    return next((i for i, line in enumerate(panel.lines) if line.label == label), 99)
