"""The README's pictures of a digest: docs/digest-slack.png and docs/digest-discord.png.

    .venv/bin/python docs/picture/make_picture.py        # or: python -m docs.picture.make_picture
    .venv/bin/python docs/picture/make_picture.py --html-only   # the HTML pages, no Chromium

A development tool, not part of the test suite. It makes one real digest of the bundled
sample data (bot/data/sample-dump.txt) with the real code: the sample dump ingested into a
scratch SQLite archive, `DigestCycle.run` (dry run) for a Slack channel and a Discord
channel that follow the demo's topics, and each platform's delivery rendering the digest
(`SlackDelivery.render` → `render_slack`: Block Kit; `DiscordDelivery.render` →
`render_discord`: embeds). Those payloads are drawn as HTML styled like Slack's and
Discord's clients (header, section, context, divider and actions blocks; content, embeds,
fields and button components: the feedback buttons appear as soon as the deliveries send
them) and captured with headless Chromium (`apt-get install chromium`, or set $CHROMIUM).
"""

from __future__ import annotations

import argparse
import asyncio
import html
import os
import re
import shutil
import subprocess
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # run as a file: import the working tree's `bot`
    sys.path.insert(0, str(ROOT))

from bot.app import build_app  # noqa: E402
from bot.models import Digest, Message  # noqa: E402
from bot.settings import validate  # noqa: E402
from bot.sources.retrieve import FileRetriever  # noqa: E402

SAMPLE = ROOT / "bot" / "data" / "sample-dump.txt"
OUT = ROOT / "docs"
# A fixed moment, so the picture changes only when the code or the sample does.
NOW = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)
TOPICS = ["mixture of experts", "speech", "code generation", "machine translation"]
MAX_POSTS = 3
WIDTH = 760


# --- one real digest of the sample data -------------------------------------------------


def make_digests(workdir: Path) -> dict[str, Digest]:
    """The digest the Slack and the Discord channel would get: platform -> Digest."""
    channel = {"topics": TOPICS, "exclude": ["survey"], "max_posts": MAX_POSTS}
    raw = {
        "database": str(workdir / "picture.db"),
        "sources": [{"name": "sample", "kind": "dump", "path": str(SAMPLE)}],
        "channels": [
            {"platform": "slack", "id": "C0PAPERS01", "name": "ml-papers", **channel},
            {"platform": "discord", "id": "1100000000000000001", "name": "ml-papers", **channel},
        ],
    }
    settings = validate(raw, source_file="<picture>", env={})
    app = build_app(settings, clock=lambda: NOW)
    try:

        async def run() -> dict[str, Digest]:
            report = await app.ingestor(FileRetriever()).ingest_source(settings.sources[0])
            if report.failed:
                raise SystemExit(f"could not ingest {SAMPLE}: {report.error}")
            cycle = app.digest_cycle({})
            outcomes = await cycle.run(app.channel_profiles(), dry_run=True)
            return {o.profile.platform: o.digest for o in outcomes if o.digest is not None}

        return asyncio.run(run())
    finally:
        app.close()


def render(platform: str, digest: Digest) -> list[Message]:
    """The messages the platform's delivery would post: its own `render`, so whatever the
    bot sends (buttons included) is what the picture shows."""
    if platform == "slack":
        from slack_sdk.web.async_client import AsyncWebClient

        from bot.delivery.slack import SlackDelivery

        return SlackDelivery(AsyncWebClient(token="xoxb-picture")).render(digest)
    from bot.delivery.discord import DiscordDelivery

    return DiscordDelivery("picture").render(digest)


# --- Slack: Block Kit as HTML -----------------------------------------------------------

SLACK_LINK = re.compile(r"<([^<>|]+)\|([^<>]*)>|<([^<>|]+)>")


def slack_mrkdwn(text: str) -> str:
    """Slack mrkdwn (already entity-escaped: &amp; &lt; &gt;) as HTML."""
    out: list[str] = []
    pos = 0
    for m in SLACK_LINK.finditer(text):
        out.append(_slack_inline(text[pos : m.start()]))
        url, label = (m[1], m[2]) if m[1] else (m[3], m[3])
        out.append(f'<a href="{html.escape(url)}">{_slack_inline(label)}</a>')
        pos = m.end()
    out.append(_slack_inline(text[pos:]))
    return "".join(out).replace("\n", "<br>")


def _slack_inline(text: str) -> str:
    # the text keeps Slack's own entities; any other markup character is shown literally
    text = text.replace('"', "&quot;")
    text = re.sub(r"(?<![\w*])\*(?=\S)([^*\n]+?)(?<=\S)\*(?![\w*])", r"<b>\1</b>", text)
    text = re.sub(r"(?<![\w_])_(?=\S)([^_\n]+?)(?<=\S)_(?![\w_])", r"<i>\1</i>", text)
    return text.replace("<b><a", "<a").replace("</a></b>", "</a>")


def _slack_text(obj: Any) -> str:
    if not isinstance(obj, dict):
        return ""
    text = str(obj.get("text", ""))
    return slack_mrkdwn(text) if obj.get("type") == "mrkdwn" else html.escape(text)


def slack_block(block: dict[str, Any]) -> str:
    kind = block.get("type")
    if kind == "header":
        return f'<div class="s-header">{_slack_text(block.get("text"))}</div>'
    if kind == "section":
        return f'<div class="s-section">{_slack_text(block.get("text"))}</div>'
    if kind == "context":
        parts = [f"<span>{_slack_text(e)}</span>" for e in block.get("elements", [])]
        return f'<div class="s-context">{"".join(parts)}</div>'
    if kind == "divider":
        return '<hr class="s-divider">'
    if kind == "actions":
        buttons = [
            f'<span class="s-button{" s-primary" if e.get("style") == "primary" else ""}">'
            f"{_slack_text(e.get('text'))}</span>"
            for e in block.get("elements", [])
            if e.get("type") == "button"
        ]
        return f'<div class="s-actions">{"".join(buttons)}</div>'
    return f'<div class="s-section">[{html.escape(str(kind))} block]</div>'


def slack_page(messages: list[Message]) -> str:
    posts = []
    for i, message in enumerate(messages):
        blocks = message.payload.get("blocks") or []
        body = "".join(slack_block(b) for b in blocks if isinstance(b, dict))
        if not blocks:
            body = f'<div class="s-section">{slack_mrkdwn(str(message.payload["text"]))}</div>'
        head = (
            '<div class="s-name">Paperboy <span class="s-app">APP</span>'
            ' <span class="s-time">9:00 AM</span></div>'
            if i == 0
            else ""
        )
        avatar = '<div class="s-avatar">📰</div>' if i == 0 else '<div class="s-gap"></div>'
        posts.append(f'<div class="s-post">{avatar}<div class="s-body">{head}{body}</div></div>')
    return _page(
        SLACK_CSS,
        '<div class="s-channel"># ml-papers</div>' + "".join(posts),
    )


SLACK_CSS = """
body { margin: 0; background: #fff; font: 15px/1.46668 "Noto Sans", "DejaVu Sans", sans-serif;
  color: #1d1c1d; }
.s-channel { font-weight: 900; font-size: 18px; padding: 14px 20px; border-bottom: 1px solid #ddd; }
.s-post { display: flex; padding: 8px 20px 4px; }
.s-avatar { width: 36px; height: 36px; border-radius: 6px; background: #4a154b; color: #fff;
  font-size: 20px; text-align: center; line-height: 36px; flex: none; margin-right: 8px; }
.s-gap { width: 36px; flex: none; margin-right: 8px; }
.s-body { flex: 1; min-width: 0; }
.s-name { font-weight: 900; }
.s-app { font-size: 10px; font-weight: 700; background: #e8e8e8; color: #616061;
  padding: 1px 3px; border-radius: 2px; vertical-align: 2px; }
.s-time { font-weight: 400; font-size: 12px; color: #616061; }
.s-header { font-weight: 900; font-size: 18px; margin: 4px 0 8px; }
.s-section { margin: 4px 0; word-wrap: break-word; }
.s-context { font-size: 13px; color: #616061; margin: 4px 0; }
.s-context span + span::before { content: "  "; white-space: pre; }
.s-divider { border: none; border-top: 1px solid #ddd; margin: 12px 0; }
.s-actions { margin: 8px 0; }
.s-button { display: inline-block; border: 1px solid #bbb; border-radius: 4px; padding: 3px 12px;
  font-size: 13px; font-weight: 700; margin-right: 8px; }
.s-primary { background: #007a5a; color: #fff; border-color: #007a5a; }
a { color: #1264a3; text-decoration: none; }
"""


# --- Discord: embeds and components as HTML ---------------------------------------------

DISCORD_LINK = re.compile(r"\[([^\]]+)\]\(<?([^()<>\s]+)>?\)")


def discord_markdown(text: str) -> str:
    """The Discord markdown Paperboy writes (escapes, **bold**, [label](url)) as HTML."""
    out: list[str] = []
    pos = 0
    for m in DISCORD_LINK.finditer(text):
        out.append(_discord_inline(text[pos : m.start()]))
        out.append(f'<a href="{html.escape(m[2])}">{_discord_inline(m[1])}</a>')
        pos = m.end()
    out.append(_discord_inline(text[pos:]))
    return "".join(out).replace("\n", "<br>")


def _discord_inline(text: str) -> str:
    marks: list[str] = []

    def hold(m: re.Match[str]) -> str:  # a backslash-escaped character shows as itself
        marks.append(html.escape(m[1]))
        return f"\x00{len(marks) - 1}\x00"

    text = html.escape(re.sub(r"\\([^\w\s])", hold, text))
    text = re.sub(r"\*\*(.+?)\*\*", r"<b>\1</b>", text)
    text = re.sub(r"(?<![\w*])\*(?=\S)([^*]+?)\*(?![\w*])", r"<i>\1</i>", text)
    return re.sub("\x00(\\d+)\x00", lambda m: marks[int(m[1])], text)


def discord_embed(embed: dict[str, Any]) -> str:
    parts = []
    if title := embed.get("title"):
        shown = discord_markdown(str(title))
        if url := embed.get("url"):
            shown = f'<a href="{html.escape(str(url))}">{shown}</a>'
        parts.append(f'<div class="d-title">{shown}</div>')
    if description := embed.get("description"):
        parts.append(f'<div class="d-desc">{discord_markdown(str(description))}</div>')
    fields = []
    for f in embed.get("fields") or []:
        cls = "d-field d-inline" if f.get("inline") else "d-field"
        fields.append(
            f'<div class="{cls}"><div class="d-fname">{discord_markdown(str(f["name"]))}</div>'
            f"<div>{discord_markdown(str(f['value']))}</div></div>"
        )
    if fields:
        parts.append(f'<div class="d-fields">{"".join(fields)}</div>')
    if footer := (embed.get("footer") or {}).get("text"):
        parts.append(f'<div class="d-footer">{discord_markdown(str(footer))}</div>')
    return f'<div class="d-embed">{"".join(parts)}</div>'


def discord_row(row: dict[str, Any]) -> str:
    buttons = []
    for c in row.get("components") or []:
        if c.get("type") != 2:
            continue
        emoji = (c.get("emoji") or {}).get("name", "")
        style = {1: "d-primary", 3: "d-success", 4: "d-danger"}.get(c.get("style"), "d-secondary")
        label = html.escape(f"{emoji} {c.get('label', '')}".strip())
        buttons.append(f'<span class="d-button {style}">{label}</span>')
    return f'<div class="d-row">{"".join(buttons)}</div>'


def discord_page(messages: list[Message]) -> str:
    posts = []
    for i, message in enumerate(messages):
        p = message.payload
        body = ""
        if content := p.get("content"):
            body += f'<div class="d-content">{discord_markdown(str(content))}</div>'
        body += "".join(discord_embed(e) for e in p.get("embeds") or [])
        body += "".join(discord_row(r) for r in p.get("components") or [])
        head = (
            '<div class="d-name">Paperboy <span class="d-bot">BOT</span>'
            ' <span class="d-time">Today at 9:00 AM</span></div>'
            if i == 0
            else ""
        )
        avatar = '<div class="d-avatar">📰</div>' if i == 0 else '<div class="d-gap"></div>'
        posts.append(f'<div class="d-post">{avatar}<div class="d-body">{head}{body}</div></div>')
    return _page(DISCORD_CSS, '<div class="d-channel"># ml-papers</div>' + "".join(posts))


DISCORD_CSS = """
body { margin: 0; background: #313338; color: #dbdee1;
  font: 16px/1.375 "Noto Sans", "DejaVu Sans", sans-serif; }
.d-channel { font-weight: 600; color: #f2f3f5; padding: 12px 16px;
  border-bottom: 1px solid #26272b; }
.d-post { display: flex; padding: 6px 16px 4px; }
.d-avatar { width: 40px; height: 40px; border-radius: 50%; background: #5865f2; flex: none;
  margin-right: 16px; text-align: center; line-height: 40px; font-size: 20px; }
.d-gap { width: 40px; flex: none; margin-right: 16px; }
.d-body { flex: 1; min-width: 0; }
.d-name { font-weight: 500; color: #f2f3f5; }
.d-bot { font-size: 10px; font-weight: 600; background: #5865f2; color: #fff; border-radius: 3px;
  padding: 0 4px; vertical-align: 2px; }
.d-time { font-size: 12px; color: #949ba4; }
.d-content { margin: 2px 0 4px; }
.d-embed { background: #2b2d31; border-left: 4px solid #1e1f22; border-radius: 4px;
  padding: 8px 16px 12px 12px; margin: 6px 0; max-width: 520px; font-size: 14px; }
.d-title { font-weight: 600; font-size: 16px; color: #f2f3f5; margin-top: 4px; }
.d-desc { margin-top: 8px; }
.d-fields { display: flex; flex-wrap: wrap; gap: 8px 16px; margin-top: 8px; }
.d-field { flex: 1 1 100%; }
.d-inline { flex: 1 1 30%; }
.d-fname { font-weight: 600; color: #f2f3f5; margin-bottom: 2px; }
.d-footer { font-size: 12px; margin-top: 8px; }
.d-row { margin: 4px 0 8px; }
.d-button { display: inline-block; border-radius: 3px; padding: 2px 16px; font-size: 14px;
  font-weight: 500; color: #fff; margin-right: 8px; line-height: 28px; }
.d-primary { background: #5865f2; } .d-secondary { background: #4e5058; }
.d-success { background: #248046; } .d-danger { background: #da373c; }
a { color: #00a8fc; text-decoration: none; }
"""


# --- the page, and the screenshot -------------------------------------------------------


def _page(css: str, body: str) -> str:
    return (
        '<!doctype html><html><head><meta charset="utf-8"><style>'
        + css
        + "</style></head><body>"
        + body
        + '<div style="height:12px"></div>'
        + "<script>document.body.dataset.height ="
        " Math.ceil(document.body.getBoundingClientRect().height);</script></body></html>"
    )


def chromium() -> str:
    for name in (os.environ.get("CHROMIUM"), "chromium", "chromium-browser", "google-chrome"):
        if name and (path := shutil.which(name)):
            return path
    raise SystemExit("no Chromium: apt-get install -y chromium (or set $CHROMIUM)")


def screenshot(page: Path, png: Path, width: int) -> None:
    """Capture `page` at `width`, as tall as its content (measured by a first pass)."""
    browser = chromium()
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars"]
    dom = subprocess.run(
        [browser, *flags, f"--window-size={width},200", "--dump-dom", page.as_uri()],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    ).stdout
    found = re.search(r'data-height="(\d+)"', dom)
    height = int(found[1]) if found else 1200
    subprocess.run(
        [browser, *flags, f"--window-size={width},{height}", f"--screenshot={png}", page.as_uri()],
        capture_output=True,
        check=True,
        timeout=120,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=OUT, help="folder for the PNGs (docs/)")
    parser.add_argument("--html-only", action="store_true", help="write the HTML pages only")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="paperboy-picture-") as tmp:
        work = Path(tmp)
        digests = make_digests(work)
        for platform, draw in (("slack", slack_page), ("discord", discord_page)):
            digest = digests[platform]
            page = (args.out if args.html_only else work) / f"digest-{platform}.html"
            page.write_text(draw(render(platform, digest)), encoding="utf-8")
            if args.html_only:
                print(page)
                continue
            png = args.out / f"digest-{platform}.png"
            screenshot(page, png, WIDTH)
            print(f"{png} ({len(digest.items)} papers, {digest.more} more)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
