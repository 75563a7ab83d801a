"""The weekly trend chart: a `Trends` drawn as a PNG (issue 19).

Pure (bytes in memory, no file, no global state): matplotlib's object-oriented API only
(`Figure` + `FigureCanvasAgg`, never pyplot, never `rcParams` changed), so charts can be
drawn in several threads at once, each its own Figure. Every style is passed explicitly.

Deterministic: the same Trends give the same bytes (fixed size and dpi, the font bundled
with matplotlib, month names spelled here rather than by the locale, a palette PNG written
by Pillow, matplotlib's own dependency, without metadata: no timestamp, no software name),
for the same versions of matplotlib, FreeType and Pillow. Tests: tests/pipeline/test_chart.py.

Readable in dark and light chat clients: an opaque white card with a grey border and
near-black text (a transparent PNG shows dark text on a dark client's background); lines
in the Okabe–Ito colour-blind-safe palette (its yellow left out: too pale on white), each
with its own dash pattern as well, so they tell apart without colour.
"""

from __future__ import annotations

import io
import threading
from collections import OrderedDict
from dataclasses import dataclass
from datetime import date
from functools import lru_cache

from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties, findfont
from matplotlib.ft2font import FT2Font
from matplotlib.ticker import MaxNLocator
from PIL import Image

from bot.models import Attachment
from bot.pipeline.trends import OTHER, TopicTrend, Trends, describe, legend

WIDTH, HEIGHT, DPI = 10.0, 5.0, 100  # inches at DPI: 1000 x 500 pixels
FONT = "DejaVu Sans"  # bundled with matplotlib: the same glyphs on every machine
# Okabe & Ito (2008), "Color Universal Design": blue, vermillion, bluish green, reddish
# purple, orange, sky blue, black (yellow left out: too pale on white); OTHER in grey.
PALETTE = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000")
OTHER_COLOUR = "#7F7F7F"
DASHES = ("solid", (0, (6, 2)), (0, (2, 1.5)), (0, (6, 2, 2, 2)))
BACKGROUND, BORDER, INK, GRID = "#FFFFFF", "#C8C8C8", "#1A1A1A", "#E6E6E6"
WEEK_SHADE = "#0072B2"
NAME_CHARS = 24  # a topic's name in the legend, at most (longer: cut with an ellipsis)
TITLE_CHARS = 90
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
MEAN_DAYS = 7
COLOURS = 64  # of the PNG's palette
# Lines up to which each topic's papers per day are drawn too (thin, under its 7-day mean);
# with more, the means alone stay readable (and the PNG small).
DAILY_UP_TO = 3


def filename(trends: Trends) -> str:
    """`trends-<yyyy-mm-dd>.png`, the chart's last day."""
    return f"trends-{trends.end.isoformat()}.png"


def render_chart(trends: Trends) -> Attachment:
    """The chart of `trends` as a PNG Attachment (about 1000x500 pixels, tens of KB):
    per topic of `legend(trends)` the mean of its papers per day over the last 7 days (a
    thick line; `TopicTrend.lead` gives the days before the chart's first) and, with DAILY_UP_TO
    lines or fewer, each day's count (a thin line); "this week" shaded and labelled; a
    week's first day labelled on the x axis; the legend names each topic (shortened to
    NAME_CHARS with an ellipsis) with its papers this week. Its `alt` is
    `describe(trends)`. Text is drawn as typed: no mathtext (`$x$` stays `$x$`), and
    characters the font lacks (emoji) are left out."""
    fig = Figure(figsize=(WIDTH, HEIGHT), dpi=DPI, facecolor=BACKGROUND, edgecolor=BORDER)
    fig.patch.set_linewidth(2.0)
    FigureCanvasAgg(fig)  # attaches itself: Agg, whatever the default backend
    ax = fig.add_axes((0.065, 0.11, 0.585, 0.77))
    _draw(fig, ax, trends)
    raw = io.BytesIO()
    fig.savefig(raw, format="rgba", dpi=DPI)
    size = (round(WIDTH * DPI), round(HEIGHT * DPI))
    drawn = Image.frombytes("RGBA", size, raw.getvalue())
    # COLOURS colours (no dithering): a line chart needs no more, and the PNG is a few
    # tens of KB instead of over a hundred. Deterministic, as the drawing is.
    image = drawn.convert("RGB").quantize(
        colors=COLOURS, method=Image.Quantize.FASTOCTREE, dither=Image.Dither.NONE
    )
    out = io.BytesIO()
    image.save(out, format="PNG")  # no metadata chunk: no software name, no time
    return Attachment(filename(trends), out.getvalue(), "image/png", describe(trends))


def _draw(fig: Figure, ax: Axes, trends: Trends) -> None:
    days = trends.days
    n = len(days)
    ax.set_facecolor(BACKGROUND)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    for side in ("left", "bottom"):
        ax.spines[side].set_color(BORDER)
    ax.grid(True, axis="y", color=GRID, linewidth=0.8)
    ax.set_axisbelow(True)
    week = (trends.week_start - trends.first_day).days
    ax.axvspan(week - 0.5, n - 0.5, color=WEEK_SHADE, alpha=0.10, linewidth=0)
    lines = legend(trends)
    xs = list(range(n))
    daily = len(lines) <= DAILY_UP_TO
    drawn = [list(t.counts) if daily else _means(t) for t in lines]
    top = max((max(values, default=0) for values in drawn), default=0)
    for k, t in enumerate(lines):
        colour = OTHER_COLOUR if (t.topic == OTHER and len(lines) < len(trends.series)) else None
        colour = colour or PALETTE[k % len(PALETTE)]
        dash = DASHES[k % len(DASHES)]
        if daily:
            ax.plot(xs, list(t.counts), color=colour, linewidth=0.9, alpha=0.5)
        ax.plot(
            xs,
            _means(t),
            color=colour,
            linewidth=2.4,
            linestyle=dash,
            label=f"{_shorten(t.topic, NAME_CHARS)} · {t.this_week} this week",
        )
    ax.set_xlim(-0.5, n - 0.5)
    ax.set_ylim(0, max(1, top) * 1.12)
    ax.yaxis.set_major_locator(MaxNLocator(integer=True, nbins=6))
    starts = [i for i in range(n) if (n - 1 - i) % 7 == 6]  # each week's first day
    ax.set_xticks(starts, [_day(days[i]) for i in starts])
    ax.tick_params(colors=INK, labelsize=9, length=3)
    for label in (*ax.get_xticklabels(), *ax.get_yticklabels()):
        label.set_fontfamily(FONT)
    ax.set_ylabel("papers per day", color=INK, fontsize=10, fontfamily=FONT)
    ax.text(
        (week + n - 1) / 2,
        max(1, top) * 1.09,
        "this week",
        ha="center",
        va="top",
        color=WEEK_SHADE,
        fontsize=9,
        fontfamily=FONT,
        parse_math=False,
    )
    fig.text(
        0.065,
        0.94,
        _shorten(_drawable(trends.title), TITLE_CHARS),
        ha="left",
        va="center",
        color=INK,
        fontsize=13,
        fontweight="bold",
        fontfamily=FONT,
        parse_math=False,
    )
    if not lines or top == 0:
        ax.text(
            (n - 1) / 2,
            0.5,
            "no topics" if not lines else "no papers on these topics",
            ha="center",
            va="center",
            color=INK,
            fontsize=12,
            fontfamily=FONT,
            parse_math=False,
        )
    if lines:
        leg = ax.legend(
            loc="upper left",
            bbox_to_anchor=(1.02, 1.0),
            frameon=False,
            prop=FontProperties(family=FONT, size=9),
            labelcolor=INK,
            handlelength=2.6,
            title="7-day mean; thin: each day" if daily else "7-day mean",
            title_fontproperties=FontProperties(family=FONT, size=8),
        )
        for text in (*leg.get_texts(), leg.get_title()):
            text.set_parse_math(False)
            text.set_text(_drawable(text.get_text()))
        leg.get_title().set_color(INK)


def _means(t: TopicTrend) -> list[float]:
    """Each day's mean of the MEAN_DAYS days ending on it (`TopicTrend.lead` before the
    chart's first day; of the days known, without it)."""
    full, lead = (*t.lead, *t.counts), len(t.lead)
    out = []
    for i in range(lead, len(full)):
        days = full[max(0, i - MEAN_DAYS + 1) : i + 1]
        out.append(sum(days) / len(days))
    return out


def _day(day: date) -> str:
    return f"{day.day} {MONTHS[day.month - 1]}"


def _shorten(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


@lru_cache(maxsize=1)
def _charmap() -> frozenset[int]:
    """The characters FONT draws (read once from its file)."""
    path = findfont(FontProperties(family=FONT), fallback_to_default=True)
    return frozenset(FT2Font(path).get_charmap())


def _drawable(text: str) -> str:
    """`text` without the characters FONT lacks (emoji), whitespace collapsed."""
    chars = _charmap()
    kept = "".join(c if ord(c) in chars else " " for c in text)
    return " ".join(kept.split()) or "?"


@dataclass
class ChartCache:
    """`render_chart` remembered by value: channels whose trends are equal (same topics,
    exclusions' effect, zone and days, and the default title) share one PNG. Keeps the
    `size` most recently used charts; safe to use from several threads (a chart may be
    drawn twice when two threads ask for it at once, never a wrong one)."""

    size: int = 1024

    def __post_init__(self) -> None:
        self._charts: OrderedDict[Trends, Attachment] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def __call__(self, trends: Trends) -> Attachment:
        with self._lock:
            found = self._charts.get(trends)
            if found is not None:
                self._charts.move_to_end(trends)
                self.hits += 1
                return found
            self.misses += 1
        made = render_chart(trends)
        with self._lock:
            self._charts[trends] = made
            while len(self._charts) > self.size:
                self._charts.popitem(last=False)
        return made


__all__ = ["OTHER", "ChartCache", "TopicTrend", "Trends", "filename", "render_chart"]
