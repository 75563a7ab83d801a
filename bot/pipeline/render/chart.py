"""The weekly trend chart: a `Trends` drawn as a PNG (issue 19).

Pure (bytes in memory, no file, no global state): matplotlib's object-oriented API only
(`Figure` + `FigureCanvasAgg`, never pyplot, never `rcParams` changed), so charts can be
drawn in several threads at once, each its own Figure (matplotlib's font cache,
`font_manager._get_font`, is keyed by thread id "to prevent segfaults with
multi-threading"; tests/pipeline/test_chart.py draws in threads). Every style is passed
explicitly; the defaults it leaves to matplotlib (tick sizes, line joins) are its own
unless a program changes `rcParams`, which Paperboy never does.

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
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np
import numpy.typing as npt
from matplotlib.artist import Artist
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties, findfont
from matplotlib.ft2font import FT2Font
from matplotlib.lines import Line2D
from matplotlib.ticker import MaxNLocator
from PIL import Image

from bot.models import Attachment
from bot.pipeline.trends import OTHER, TopicTrend, Trends, day_text, describe, legend

WIDTH, HEIGHT, DPI = 10.0, 5.0, 100  # inches at DPI: 1000 x 500 pixels
FONT = "DejaVu Sans"  # bundled with matplotlib: the same glyphs on every machine
# Okabe & Ito (2008), "Color Universal Design": blue, vermillion, bluish green, reddish
# purple, orange, sky blue, black (yellow left out: too pale on white); OTHER in grey.
PALETTE = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000")
OTHER_COLOUR = "#7F7F7F"
DASHES: tuple[Any, ...] = ("solid", (0, (6, 2)), (0, (2, 1.5)), (0, (6, 2, 2, 2)))
BACKGROUND, BORDER, INK, GRID = "#FFFFFF", "#C8C8C8", "#1A1A1A", "#E6E6E6"
WEEK_SHADE = "#0072B2"
NAME_CHARS = 24  # a topic's name in the legend, at most (longer: cut with an ellipsis)
TITLE_CHARS = 90
MEAN_DAYS = 7
SHADE_ALPHA, DAILY_ALPHA = 0.10, 0.5
# Blends of each colour with the background a palette PNG keeps (antialiased edges).
BLENDS = (0.2, 0.4, 0.6, 0.8)
# Lines up to which each topic's papers per day are drawn too (thin, under its 7-day mean);
# with more, the means alone stay readable (and the PNG small).
DAILY_UP_TO = 3


def filename(trends: Trends) -> str:
    """`trends-<yyyy-mm-dd>.png`, the chart's last day."""
    return f"trends-{trends.end.isoformat()}.png"


def render_chart(trends: Trends) -> Attachment:
    """The chart of `trends` as a PNG Attachment (about 1000x500 pixels, tens of KB):
    per topic of `legend(trends)` the mean of its papers per day over the last 7 days (a
    thick line; `TopicTrend.lead` gives the days before the chart's first) and, with
    DAILY_UP_TO lines or fewer, each day's count (a thin line); "this week" shaded and
    labelled; a week's first day labelled on the x axis; the legend names each topic
    (shortened to NAME_CHARS with an ellipsis) with its papers this week. Its `alt` is
    `describe(trends)`. Text is drawn as typed: no mathtext (`$x$` stays `$x$`), and
    characters the font lacks (emoji) are left out.

    What charts of the same days and title share (the card, title, x axis, shading,
    labels: most of the text, which is most of the drawing) is drawn once per thread
    (`_Frame`, kept for FRAMES_KEPT such days and titles) and each chart drawn over a copy
    of it (matplotlib's blitting: `copy_from_bbox`, `restore_region`)."""
    lines = legend(trends)
    daily = len(lines) <= DAILY_UP_TO
    frame = _frame(trends, daily, bool(lines))
    image = _quantized(frame.chart(trends, lines, daily), frame.size)
    out = io.BytesIO()
    image.save(out, format="PNG")  # no metadata chunk: no software name, no time
    return Attachment(filename(trends), out.getvalue(), "image/png", describe(trends))


# Frames kept per thread (each ~5 MB: its figure's pixels and their copy): a weekly cycle's
# charts end on one or two days, with daily lines or not.
FRAMES_KEPT = 4
_threads = threading.local()


def _frame(trends: Trends, daily: bool, lines: bool) -> _Frame:
    """This thread's frame for the days and title of `trends` (made when missing)."""
    frames: OrderedDict[tuple[object, ...], _Frame] | None = getattr(_threads, "frames", None)
    if frames is None:
        frames = _threads.frames = OrderedDict()
    key = (trends.first_day, trends.end, trends.week_start, trends.title, daily, lines)
    found = frames.get(key)
    if found is None:
        found = frames[key] = _Frame(trends, daily, lines)
        while len(frames) > FRAMES_KEPT:
            frames.popitem(last=False)
    frames.move_to_end(key)
    return found


class _Frame:
    """A chart without its data: the card and its border, the title, the x axis (a week's
    first day labelled), "this week" shaded, the y axis' label and the legend's heading,
    drawn once; `chart` draws a chart's y axis, lines and legend over a
    copy. One thread's own (a Figure is not shared between threads)."""

    def __init__(self, trends: Trends, daily: bool, lines: bool) -> None:
        fig = Figure(figsize=(WIDTH, HEIGHT), dpi=DPI, facecolor=BACKGROUND, edgecolor=BORDER)
        fig.patch.set_linewidth(2.0)
        canvas = FigureCanvasAgg(fig)  # Agg, whatever the default backend
        ax = fig.add_axes((0.065, 0.11, 0.585, 0.77))
        days = trends.days
        n = len(days)
        ax.set_facecolor(BACKGROUND)
        for side in ("top", "right"):
            ax.spines[side].set_visible(False)
        for side in ("left", "bottom"):
            ax.spines[side].set_color(BORDER)
        ax.grid(True, axis="y", color=GRID, linewidth=0.8)
        week = (trends.week_start - trends.first_day).days
        ax.axvspan(week - 0.5, n - 0.5, color=WEEK_SHADE, alpha=SHADE_ALPHA, linewidth=0)
        ax.set_xlim(-0.5, n - 0.5)
        ax.set_ylim(0, 1)
        ax.yaxis.set_major_locator(MaxNLocator(integer=True, nbins=6))
        starts = [i for i in range(n) if (n - 1 - i) % 7 == 6]  # each week's first day
        ax.set_xticks(starts, [day_text(days[i]) for i in starts])
        ax.tick_params(colors=INK, labelsize=9, length=3)
        for label in ax.get_xticklabels():
            label.set_fontfamily(FONT)
        fig.text(0.025, 0.495, "papers per day", **{**_TEXT, "ha": "center"}, rotation=90, size=10)
        title = _shorten(_drawable(trends.title), TITLE_CHARS)
        fig.text(0.065, 0.94, title, **_TEXT, size=13, fontweight="bold")
        if lines:
            heading = "7-day mean; thin: each day" if daily else "7-day mean"
            fig.text(LEGEND_X, LEGEND_Y + 0.04, heading, **_TEXT, size=8)
        ax.yaxis.set_visible(False)  # drawn with each chart
        canvas.draw()  # type: ignore[no-untyped-call]
        self.background = canvas.copy_from_bbox(fig.bbox)  # type: ignore[no-untyped-call]
        ax.yaxis.set_visible(True)
        self.fig, self.canvas, self.ax, self.n = fig, canvas, ax, n
        self.week_middle = ((week + n - 1) / 2 + 0.5) / n  # the shade's, in axes coordinates
        self.size = canvas.get_width_height()

    def chart(self, trends: Trends, lines: Sequence[TopicTrend], daily: bool) -> bytes:
        """The RGBA pixels of the chart of `trends` (its `lines`, see `render_chart`)."""
        fig, ax, canvas = self.fig, self.ax, self.canvas
        canvas.restore_region(self.background)  # type: ignore[no-untyped-call]
        drawn = [list(t.counts) if daily else _means(t) for t in lines]
        top = max((max(values, default=0) for values in drawn), default=0)
        ax.set_ylim(0, max(1, top) * 1.12)
        grouped = len(lines) < len(trends.series)
        colours = [
            OTHER_COLOUR if grouped and k == len(lines) - 1 else PALETTE[k % len(PALETTE)]
            for k in range(len(lines))
        ]
        xs = list(range(self.n))
        artists: list[Artist] = []
        try:
            for k, t in enumerate(lines):
                colour, dash = colours[k], DASHES[k % len(DASHES)]
                if daily:
                    artists += ax.plot(
                        xs, list(t.counts), color=colour, linewidth=0.9, alpha=DAILY_ALPHA
                    )
                artists += ax.plot(xs, _means(t), color=colour, linewidth=2.4, linestyle=dash)
                at = LEGEND_Y - k * LEGEND_STEP
                sample = Line2D(
                    (LEGEND_X, LEGEND_X + 0.03),
                    (at, at),
                    color=colour,
                    linewidth=2.4,
                    linestyle=dash,
                )
                artists.append(fig.add_artist(sample))
                name = _shorten(_drawable(t.topic), NAME_CHARS)
                label = f"{name} · {t.this_week} this week"
                artists.append(fig.text(LEGEND_X + 0.04, at, label, **_TEXT, size=9))
            if not lines or top == 0:
                empty = "no topics" if not lines else "no papers on these topics"
                artists.append(
                    ax.text(
                        0.5,
                        0.5,
                        empty,
                        transform=ax.transAxes,
                        **{**_TEXT, "ha": "center"},
                        size=12,
                    )
                )
            # over the y axis' grid lines, as the lines are
            above = {**_TEXT, "ha": "center", "va": "top", "color": WEEK_SHADE}
            artists.append(
                ax.text(
                    self.week_middle, 0.975, "this week", transform=ax.transAxes, **above, size=9
                )
            )
            renderer = canvas.get_renderer()  # type: ignore[no-untyped-call]
            ax.yaxis.draw(renderer)
            for artist in artists:
                artist.draw(renderer)
        finally:
            for artist in artists:
                artist.remove()
        return bytes(canvas.buffer_rgba())  # type: ignore[no-untyped-call]


LEGEND_X, LEGEND_Y, LEGEND_STEP = 0.675, 0.86, 0.05


_TEXT: dict[str, Any] = {
    "color": INK,
    "fontfamily": FONT,
    "va": "center",
    "ha": "left",
    "parse_math": False,
    "usetex": False,
}


def _means(t: TopicTrend) -> list[float]:
    """Each day's mean of the MEAN_DAYS days ending on it (`TopicTrend.lead` before the
    chart's first day; of the days known, without it)."""
    full, lead = (*t.lead, *t.counts), len(t.lead)
    out = []
    for i in range(lead, len(full)):
        days = full[max(0, i - MEAN_DAYS + 1) : i + 1]
        out.append(sum(days) / len(days))
    return out


def _shorten(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


@lru_cache(maxsize=1)
def _charmap() -> frozenset[int]:
    """The characters FONT draws (read once from its file)."""
    path = findfont(FontProperties(family=FONT), fallback_to_default=True)
    return frozenset(FT2Font(path).get_charmap())


def _rgb(colour: str) -> tuple[int, int, int]:
    return (int(colour[1:3], 16), int(colour[3:5], 16), int(colour[5:7], 16))


def _blend(colour: tuple[int, ...], under: tuple[int, ...], alpha: float) -> tuple[int, ...]:
    return tuple(round(c * alpha + u * (1 - alpha)) for c, u in zip(colour, under, strict=True))


@lru_cache(maxsize=1)
def _palette() -> tuple[list[int], npt.NDArray[np.uint8]]:
    """The colours a chart draws with, exactly, and their BLENDS with the two backgrounds
    (white and this week's shade), as a flat PNG palette; and the index of the nearest of
    them for each colour of 6 bits a channel (`_quantized`). Made once (a fraction of a
    second)."""
    white = _rgb(BACKGROUND)
    shade = _blend(_rgb(WEEK_SHADE), white, SHADE_ALPHA)
    keys: list[tuple[int, ...]] = [
        _rgb(c) for c in (*PALETTE, OTHER_COLOUR, INK, BORDER, GRID, WEEK_SHADE)
    ]
    keys += [_blend(k, white, DAILY_ALPHA) for k in keys[: len(PALETTE) + 1]]
    colours = dict.fromkeys([white, shade, *keys])
    for key in keys:
        for under in (white, shade):
            for alpha in BLENDS:
                colours.setdefault(_blend(key, under, alpha))
    table = np.array(list(colours), dtype=np.int32)  # (n, 3)
    assert len(table) <= 256, len(table)
    levels = np.arange(64, dtype=np.int32) * 4 + 2  # each 6-bit level's middle
    r, g, b = np.meshgrid(levels, levels, levels, indexing="ij")
    cube = np.stack([r.ravel(), g.ravel(), b.ravel()], axis=1)  # (64**3, 3), r major
    nearest = np.empty(len(cube), dtype=np.uint8)
    for start in range(0, len(cube), 1 << 14):
        part = cube[start : start + (1 << 14), None, :] - table[None, :, :]
        nearest[start : start + (1 << 14)] = np.argmin((part * part).sum(axis=2), axis=1)
    for i, colour in enumerate(table):  # the palette's own colours map to themselves
        nearest[_cell(colour)] = i
    return [int(v) for v in table.ravel()], nearest


def _cell(rgb: npt.NDArray[np.int32]) -> int:
    return int((rgb[0] >> 2) << 12 | (rgb[1] >> 2) << 6 | (rgb[2] >> 2))


def _quantized(rgba: bytes, size: tuple[int, int]) -> Image.Image:
    """The drawn RGBA pixels as a palette image of `_palette`'s colours (each pixel the
    nearest, no dithering)."""
    flat, nearest = _palette()
    pixels = np.frombuffer(rgba, dtype=np.uint8).reshape(size[1], size[0], 4)
    cells = (
        (pixels[..., 0].astype(np.int32) >> 2) << 12
        | (pixels[..., 1].astype(np.int32) >> 2) << 6
        | (pixels[..., 2].astype(np.int32) >> 2)
    )
    image = Image.fromarray(nearest[cells], mode="P")
    image.putpalette(flat)
    return image


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
