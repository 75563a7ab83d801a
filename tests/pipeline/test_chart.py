"""chart: the weekly trend chart as a PNG, deterministic, readable, with its alt text."""

from __future__ import annotations

import io
from collections.abc import Sequence
from datetime import date

from PIL import Image

from bot.pipeline.render.chart import ChartCache, render_chart
from bot.pipeline.trends import WEEKS, TopicTrend, Trends, describe, window

END = date(2026, 12, 4)
DAYS = WEEKS * 7
PNG = b"\x89PNG\r\n\x1a\n"


def trends(*series: tuple[str, Sequence[int]], title: str = "Papers per day") -> Trends:
    first, week_start = window(END)
    made = tuple(TopicTrend(name, (0,) * (DAYS - len(tail)) + tuple(tail)) for name, tail in series)
    return Trends(title, first, END, week_start, made)


def wave(seed: int) -> list[int]:
    return [(seed * 7 + d * 3) % 11 for d in range(DAYS)]


def test_a_chart_is_a_png_of_about_1000_by_500_with_its_alt_text() -> None:
    t = trends(("mixture of experts", wave(1)), ("RLHF", wave(2)))
    chart = render_chart(t)
    assert chart.filename == "trends-2026-12-04.png"
    assert chart.media_type == "image/png"
    assert chart.content.startswith(PNG)
    assert chart.alt == describe(t)
    with Image.open(io.BytesIO(chart.content)) as image:
        assert image.format == "PNG"
        assert image.size == (1000, 500)
        assert image.mode in {"RGB", "RGBA", "P"}
        # opaque: readable on a dark client's background as on a light one
        rgba = image.convert("RGBA")
        alpha = rgba.getchannel("A")
        assert alpha.getextrema() == (255, 255)
        assert "Software" not in image.info
    assert len(chart.content) < 150_000


def test_the_same_trends_give_the_same_bytes() -> None:
    t = trends(("mixture of experts", wave(1)), ("RLHF", wave(2)))
    assert render_chart(t).content == render_chart(t).content
    other = trends(("mixture of experts", wave(1)), ("RLHF", wave(3)))
    assert render_chart(other).content != render_chart(t).content


def test_hostile_names_and_titles_are_drawn_as_text() -> None:
    hostile = [
        "<!channel> $x^2$ \\frac{a}{b}",
        "$",
        "unbalanced $math",
        "🚀🔥 emoji only",
        "🚀",
        "a topic name far too long to fit in the legend of a chart of this size at all",
        "tab\there\nnewline",
        "@everyone _underscores_ ^carets^ {braces}",
    ]
    t = trends(*((n, wave(k)) for k, n in enumerate(hostile)), title="<!here> $\\alpha$ 📈")
    chart = render_chart(t)
    assert chart.content.startswith(PNG)
    assert chart.alt.startswith("<!channel> $x^2$ \\frac{a}{b}: ")


def test_empty_charts_are_drawn() -> None:
    for t in (trends(), trends(("MoE", []), ("RLHF", []))):
        chart = render_chart(t)
        assert chart.content.startswith(PNG)
        assert chart.alt == describe(t)


def test_the_cache_renders_equal_trends_once() -> None:
    cache = ChartCache(size=2)
    a = trends(("MoE", wave(1)))
    b = trends(("MoE", wave(1)))  # equal value, another object
    first = cache(a)
    assert cache(b) is first
    assert (cache.hits, cache.misses) == (1, 1)
    cache(trends(("MoE", wave(2))))
    cache(trends(("MoE", wave(3))))  # a is the least recently used: dropped
    assert cache(a) is not first
    assert cache(a).content == first.content
    assert cache.misses == 4
