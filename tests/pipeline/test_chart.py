"""chart: the weekly trend chart as a PNG, deterministic, readable, with its alt text."""

from __future__ import annotations

import hashlib
import io
import os
import subprocess
import sys
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from pathlib import Path

from PIL import Image

from bot.pipeline.render.chart import OTHER_COLOUR, PALETTE, ChartCache, render_chart
from bot.pipeline.trends import LINES, WEEKS, TopicTrend, Trends, describe, window

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


def test_a_fresh_process_draws_the_same_bytes() -> None:
    t = trends(("mixture of experts", wave(1)), ("<!channel> $x$ 🚀", wave(4)))
    here = render_chart(t).content
    code = (
        "import sys, hashlib\n"
        "from tests.pipeline.test_chart import trends, wave\n"
        "from bot.pipeline.render.chart import render_chart\n"
        "t = trends(('mixture of experts', wave(1)), ('<!channel> $x$ 🚀', wave(4)))\n"
        "sys.stdout.write(hashlib.sha256(render_chart(t).content).hexdigest())\n"
    )
    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(root), str(root / "tests")])}
    env["MPLBACKEND"] = "pdf"  # another default backend: the chart draws with Agg anyway
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == hashlib.sha256(here).hexdigest()


def test_charts_drawn_in_threads_at_once_are_the_same_as_one_by_one() -> None:
    charts = [trends((f"topic {k}", wave(k)), ("RLHF", wave(k + 1))) for k in range(6)]
    alone = [render_chart(t).content for t in charts]
    with ThreadPoolExecutor(3) as pool:
        together = [a.content for a in pool.map(render_chart, charts * 2)]
    assert together == alone * 2


def pixels(chart_bytes: bytes) -> Image.Image:
    with Image.open(io.BytesIO(chart_bytes)) as image:
        return image.convert("RGB")


def test_the_background_is_opaque_white_with_a_border_and_this_week_is_shaded() -> None:
    image = pixels(render_chart(trends(("MoE", wave(1)))).content)
    assert image.getpixel((500, 3)) == (255, 255, 255)  # the card
    assert image.getpixel((0, 250)) != (255, 255, 255)  # its border
    # "this week" (the last 7 of 56 days) is shaded: a light blue, not white
    r, g, b = image.getpixel((640, 470 - 30))
    assert b > r and (r, g, b) != (255, 255, 255)
    r, g, b = image.getpixel((300, 470 - 30))
    assert (r, g, b) == (255, 255, 255)


def test_lines_use_the_colour_blind_safe_palette_and_more_topics_share_one_grey_line() -> None:
    names = [f"topic {k}" for k in range(LINES + 2)]
    t = trends(*((n, [3 + k] * DAYS) for k, n in enumerate(names)))
    colours = {c for _, c in pixels(render_chart(t).content).getcolors(4096) or []}
    okabe_ito = {tuple(int(h[i : i + 2], 16) for i in (1, 3, 5)) for h in PALETTE}
    grey = tuple(int(OTHER_COLOUR[i : i + 2], 16) for i in (1, 3, 5))
    assert okabe_ito <= colours
    assert grey in colours
    assert (0xF0, 0xE4, 0x42) not in colours  # Okabe-Ito's yellow: too pale on white


def test_a_long_title_and_many_long_names_still_draw_a_small_png() -> None:
    long = "x" * 500
    t = trends(*((f"{long} {k}", wave(k)) for k in range(20)), title=long)
    chart = render_chart(t)
    assert chart.content.startswith(PNG) and len(chart.content) < 150_000
    assert len(chart.alt) <= 1000


def test_a_chart_does_not_depend_on_the_charts_drawn_before_it() -> None:
    a = trends(("mixture of experts", wave(1)), ("RLHF", wave(2)))
    first = render_chart(a).content
    # others of the same days (the same frame), of other days and titles, larger and empty
    render_chart(trends(*((f"t{k}", [40 * k] * DAYS) for k in range(12))))
    render_chart(trends())
    first_day, week_start = window(date(2027, 3, 1))
    render_chart(Trends("other", first_day, date(2027, 3, 1), week_start, a.series))
    render_chart(trends(("MoE", [1] * DAYS), title="another title"))
    assert render_chart(a).content == first
