"""Renderers: every Slack/Discord payload within platform limits, escaped, papers in order."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator
from datetime import date
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.models import Digest, DigestItem, Message, Paper
from bot.pipeline.render import common, discord_embeds, slack
from bot.pipeline.render.common import feedback_key, feedback_ref
from bot.pipeline.render.discord_embeds import render_discord
from bot.pipeline.render.slack import render_slack
from bot.pipeline.render.text import render_text
from bot.pipeline.summarize import summarize

FAST = settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.large_base_example,
    ],
)
DAY = date(2021, 11, 22)  # a Monday
EVIL = [
    "<!channel>",
    "<!here>",
    "<@U123>",
    "@everyone",
    "@here",
    "<https://evil|click>",
    "<@123456789012345678>",
    "<@&123456789012345678>",
    "<#123456789012345678>",
    "[click](https://evil.example)",
    "*bold* _it_ ~s~ `code` | pipe & amp",
]
EVIL_TEXT = " ".join(EVIL)


def make_paper(i: int, **kw: Any) -> Paper:
    fields: dict[str, Any] = {
        "title": f"Paper number {i} on mixture of experts",
        "abstract": f"Background {i}. We propose method {i} for routing.",
        "arxiv_id": f"2406.{i:05d}",
        "authors": ("Ada Lovelace", "Alan Turing", "Grace Hopper", "Edsger Dijkstra"),
        "upvotes": i,
    }
    fields.update(kw)
    return Paper(**fields)


def make_digest(
    papers: list[Paper],
    *,
    more: int = 0,
    name: str = "ml",
    topics: tuple[str, ...] = ("moe",),
    item_topics: tuple[str, ...] = ("moe", "multi-task learning"),
) -> Digest:
    items = tuple(
        DigestItem(paper=p, score=1.0, topics=item_topics, summary=summarize(p)) for p in papers
    )
    return Digest("slack:C1", name, DAY, items, more=more, topics=topics)


def pl(message: Message) -> Any:
    """A message's payload, untyped for the assertions."""
    return message.payload


def strings(value: object) -> Iterator[str]:
    """Every string anywhere in a JSON-like payload."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for v in value.values():
            yield from strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from strings(v)


def check_keys(messages: list[Message], digest: Digest) -> None:
    """Every paper in exactly one message, in digest order."""
    carried = [key for m in messages for key in m.keys]
    assert carried == [item.paper.key for item in digest.items]


# --- Slack -------------------------------------------------------------------------------

SLACK_LINK = re.compile(r"<(https?://[^|<>\s]+)\|([^<>|]*)>")


def slack_allowed_urls(digest: Digest) -> set[str]:
    """The paper URLs we may link to, as escaped in mrkdwn."""
    return {slack.escape(u) for item in digest.items for u in item.paper.links.values()}


def check_slack_text(text: str, allowed: set[str]) -> None:
    """Only our `<url|label>` links; no other `<`/`>`; every `&` starts an entity."""
    for m in SLACK_LINK.finditer(text):
        assert m.group(1) in allowed, m.group(0)
    rest = SLACK_LINK.sub("", text)
    assert "<" not in rest and ">" not in rest, rest
    assert re.search(r"&(?!amp;|lt;|gt;)", text) is None, text


def check_slack(messages: list[Message], digest: Digest) -> None:
    """Every message within Block Kit limits, escaped, with its fallback text."""
    assert messages
    allowed = slack_allowed_urls(digest)
    for n, message in enumerate(messages):
        payload = pl(message)
        assert payload["unfurl_links"] is False and payload["unfurl_media"] is False
        assert "link_names" not in payload and "parse" not in payload
        text = payload["text"]
        assert isinstance(text, str) and text.strip()
        assert len(text) <= slack.MAX_FALLBACK
        check_slack_text(text, set())  # the fallback carries no links
        blocks = payload["blocks"]
        assert isinstance(blocks, list) and 1 <= len(blocks) <= slack.MAX_BLOCKS
        total = 0
        for block in blocks:
            kind = block["type"]
            if kind == "header":
                assert n == 0
                assert block["text"]["type"] == "plain_text" and block["text"]["emoji"] is True
                body = block["text"]["text"]
                assert 1 <= len(body) <= slack.MAX_HEADER
                check_slack_text(body, set())
                total += len(body)
            elif kind == "section":
                assert block["text"]["type"] == "mrkdwn"
                body = block["text"]["text"]
                assert 1 <= len(body) <= slack.MAX_SECTION_TEXT
                check_slack_text(body, allowed)
                total += len(body)
            elif kind == "context":
                elements = block["elements"]
                assert 1 <= len(elements) <= slack.MAX_CONTEXT_ELEMENTS
                for element in elements:
                    assert element["type"] == "mrkdwn"
                    assert 1 <= len(element["text"]) <= slack.MAX_TEXT_OBJECT
                    check_slack_text(element["text"], allowed)
                    total += len(element["text"])
            elif kind == "actions":
                total += check_slack_buttons(block, message)
            else:
                assert kind == "divider"
        assert total <= slack.MAX_MESSAGE_TEXT
        block_ids = [b["block_id"] for b in blocks if "block_id" in b]
        assert len(block_ids) == len(set(block_ids))
    check_keys(messages, digest)


def check_slack_buttons(block: Any, message: Message) -> int:
    """A paper's feedback buttons within Block Kit's limits, naming one of the message's
    papers; returns the characters of their text."""
    elements = block["elements"]
    assert 1 <= len(elements) <= slack.MAX_ACTIONS_ELEMENTS
    assert 1 <= len(block["block_id"]) <= 255
    assert [e["action_id"] for e in elements] == [slack.MORE_ACTION, slack.LESS_ACTION]
    (value,) = {e["value"] for e in elements}
    assert 1 <= len(value) <= slack.MAX_BUTTON_VALUE
    assert common.feedback_key(value, message.keys) is not None
    total = 0
    for e in elements:
        assert e["type"] == "button" and e["text"]["type"] == "plain_text"
        assert 1 <= len(e["text"]["text"]) <= slack.MAX_BUTTON_TEXT
        total += len(e["text"]["text"])
    return total


# --- Discord -----------------------------------------------------------------------------

MASKED = re.compile(r"\[([^\]]*)\]\(([^)\s]*)\)")


def check_discord(messages: list[Message], digest: Digest) -> None:
    """Every message within Discord's limits, mentions neutralised and disabled."""
    assert messages
    allowed = {
        u.replace("(", "%28").replace(")", "%29")
        for item in digest.items
        for u in item.paper.links.values()
    }
    for message in messages:
        payload = pl(message)
        assert payload["allowed_mentions"] == {"parse": []}
        content = payload["content"]
        assert isinstance(content, str) and len(content) <= discord_embeds.MAX_CONTENT
        embeds = payload["embeds"]
        assert isinstance(embeds, list) and len(embeds) <= discord_embeds.MAX_EMBEDS
        assert content or embeds
        total = 0
        urls = [e["url"] for e in embeds if "url" in e]
        assert len(urls) == len(set(urls)), "embeds sharing a url collapse"
        for embed in embeds:
            assert 1 <= len(embed["title"]) <= discord_embeds.MAX_TITLE
            assert len(embed.get("description", "")) <= discord_embeds.MAX_SUMMARY
            fields = embed.get("fields", [])
            assert len(fields) <= discord_embeds.MAX_FIELDS
            for field in fields:
                assert 1 <= len(field["name"]) <= discord_embeds.MAX_FIELD_NAME
                assert 1 <= len(field["value"]) <= discord_embeds.MAX_FIELD_VALUE
            assert len(embed.get("footer", {}).get("text", "")) <= discord_embeds.MAX_FOOTER
            total += discord_embeds.embed_size(embed)
        assert total <= discord_embeds.MAX_TOTAL
        for s in strings(payload):
            for raw in ("@everyone", "@here", "<@", "<#", "<!", "<https"):
                assert raw not in s, (raw, s)
            for m in MASKED.finditer(s):
                assert m.group(2) in allowed, m.group(0)
        check_discord_rows(payload.get("components", []), message)
    check_keys(messages, digest)


def check_discord_rows(rows: list[Any], message: Message) -> None:
    """Feedback rows within Discord's component limits, each naming one of the message's
    papers, custom_ids unique in the message."""
    assert len(rows) <= discord_embeds.MAX_ROWS
    ids: list[str] = []
    for row in rows:
        assert row["type"] == 1
        assert 1 <= len(row["components"]) <= discord_embeds.MAX_ROW_BUTTONS
        for button in row["components"]:
            assert button["type"] == 2 and 1 <= len(button["label"]) <= discord_embeds.MAX_LABEL
            custom_id = button["custom_id"]
            assert 1 <= len(custom_id) <= discord_embeds.MAX_CUSTOM_ID
            prefix, vote, ref = custom_id.split(":", 2)
            assert (prefix, vote) in {("paperboy", "more"), ("paperboy", "less")}
            assert common.feedback_key(ref, message.keys) is not None
            ids.append(custom_id)
    assert len(ids) == len(set(ids))


def check_text(messages: list[Message], digest: Digest) -> None:
    assert len(messages) == 1
    text = pl(messages[0])["text"]
    assert isinstance(text, str) and text
    assert not any(unicodedata.category(ch) in {"Cc", "Cs"} and ch != "\n" for ch in text)
    check_keys(messages, digest)


def check_all(digest: Digest) -> tuple[list[Message], list[Message], list[Message]]:
    s, d, t = render_slack(digest), render_discord(digest), render_text(digest)
    check_slack(s, digest)
    check_discord(d, digest)
    check_text(t, digest)
    check_slack(render_slack(digest, buttons=True), digest)
    check_discord(render_discord(digest, buttons=True), digest)
    return s, d, t


# --- common helpers ----------------------------------------------------------------------


def test_cut_at_word_boundary_with_ellipsis() -> None:
    assert common.cut("short", 10) == "short"
    assert common.cut("alpha beta gamma", 12) == "alpha beta…"
    assert common.cut("alpha beta gamma", 11) == "alpha beta…"
    assert common.cut("alpha beta gamma", 10) == "alpha…"
    assert common.cut("abcdefghij", 5) == "abcd…"
    assert common.cut("anything", 0) == ""


@pytest.mark.parametrize(
    ("day", "text"),
    [
        (date(2021, 11, 22), "Mon 22 Nov"),
        (date(2024, 3, 5), "Tue 5 Mar"),
        (date(2023, 1, 1), "Sun 1 Jan"),
    ],
)
def test_format_day(day: date, text: str) -> None:
    assert common.format_day(day) == text


def test_header_singular_and_plural() -> None:
    assert common.header_text(make_digest([make_paper(1)])) == "1 new paper for #ml — Mon 22 Nov"
    two = make_digest([make_paper(1), make_paper(2)], name="#ml")
    assert common.header_text(two) == "2 new papers for #ml — Mon 22 Nov"


def test_authors_line() -> None:
    assert common.authors_line(["A", "B"]) == "A, B"
    assert common.authors_line(["A", "B", "C"]) == "A, B, C"
    assert common.authors_line(["A", "B", "C", "D"]) == "A, B, C et al."
    assert common.authors_line([" A\n B ", ""]) == "A B"


def test_more_line() -> None:
    assert common.more_text(make_digest([make_paper(1)])) is None
    assert common.more_text(make_digest([], more=7)) == "and 7 more — /papers moe"
    assert common.more_text(make_digest([], more=2, topics=())) == "and 2 more"


@pytest.mark.parametrize(
    "url",
    [
        "javascript:alert(1)",
        "ftp://example.org/x",
        "https://exa mple.org",
        "https://example.org/a<b",
        "https://example.org/a>b",
        "https://example.org/a|b",
        'https://example.org/"x',
        "https://example.org/'x",
        "https://example.org/\nx",
        "https://",
        "//example.org",
        "https://example.org/" + "a" * 600,
        "https://[::1",
    ],
)
def test_unsafe_urls_are_dropped(url: str) -> None:
    assert common.safe_url(url) is None
    p = make_paper(1, arxiv_id=None, github_repo=url, project_page=url)
    assert common.links(p) == []
    assert common.primary_url(p) is None


def test_links_in_order_with_labels() -> None:
    p = make_paper(1, github_repo="https://github.com/a/b", project_page="https://a.io/")
    assert [label for label, _ in common.links(p)] == ["arXiv", "PDF", "HF", "code", "project"]
    assert common.primary_url(p) == "https://arxiv.org/abs/2406.00001"
    code_only = make_paper(2, arxiv_id=None, github_repo="https://github.com/a/b")
    assert common.primary_url(code_only) == "https://github.com/a/b"


# --- Slack -------------------------------------------------------------------------------


def test_slack_one_paper_layout() -> None:
    p = make_paper(7, github_repo="https://github.com/x/y?a=1&b=2")
    digest = make_digest([p], more=3)
    (message,) = render_slack(digest)
    check_slack([message], digest)
    blocks = pl(message)["blocks"]
    assert isinstance(blocks, list)
    assert blocks[0]["text"]["text"] == "1 new paper for #ml — Mon 22 Nov"
    section = blocks[1]["text"]["text"]
    assert section.startswith("*<https://arxiv.org/abs/2406.00007|Paper number 7 on mixture")
    assert "Ada Lovelace, Alan Turing, Grace Hopper et al." in section
    assert "We propose method 7 for routing." in section
    context = [e["text"] for e in blocks[2]["elements"]]
    assert any("moe, multi-task learning" in t for t in context)
    assert "<https://github.com/x/y?a=1&amp;b=2|code>" in context[1]
    assert context[1].startswith("<https://arxiv.org/abs/2406.00007|arXiv> · ")
    assert "▲ 7" in context
    assert blocks[-1]["elements"][0]["text"] == "and 3 more — /papers moe"
    assert message.keys == ("2406.00007",)


def test_slack_evil_strings_never_mention_or_link() -> None:
    p = make_paper(
        1,
        title=f"Title {EVIL_TEXT}",
        abstract=f"We propose {EVIL_TEXT}.",
        authors=tuple(EVIL),
    )
    digest = make_digest([p], name=EVIL_TEXT, item_topics=tuple(EVIL), topics=tuple(EVIL), more=1)
    (message,) = render_slack(digest)
    check_slack([message], digest)
    section = pl(message)["blocks"][1]["text"]["text"]
    assert "&lt;https://evil∣click&gt;" in section  # shown literally, no link
    assert "&lt;!channel&gt;" in section and "&lt;@U123&gt;" in section


def test_slack_overlong_paper_is_cut_into_one_section() -> None:
    p = make_paper(1, title="T" * 300 + " word " * 50, authors=tuple("N" * 200 for _ in range(9)))
    item = DigestItem(p, 1.0, ("moe",), summary="&<> " * 5000)
    digest = Digest("slack:C1", "ml", DAY, (item,))
    (message,) = render_slack(digest)
    check_slack([message], digest)
    section = pl(message)["blocks"][1]["text"]["text"]
    assert section.endswith("…")


def test_slack_sixty_papers_split_with_continuations() -> None:
    papers = [make_paper(i) for i in range(60)]
    digest = make_digest(papers, more=5)
    messages = render_slack(digest)
    check_slack(messages, digest)
    assert len(messages) >= 3
    for n, message in enumerate(messages[1:], start=2):
        first = pl(message)["blocks"][0]
        assert first["elements"][0]["text"] == f"(continued, {n}/{len(messages)})"
    more = [m for m in messages if "and 5 more" in str(pl(m)["blocks"][-1])]
    assert more == [messages[-1]]


def test_slack_splits_on_text_budget() -> None:
    big = "&" * 3000
    papers = [make_paper(0, title=big, authors=(big,), github_repo="https://x.io/?" + "a&" * 200)]
    papers += [make_paper(i, title=big, authors=(big,)) for i in range(1, 12)]
    digest = Digest(
        "slack:C1",
        "ml",
        DAY,
        tuple(DigestItem(p, 1.0, (big,), summary=big) for p in papers),
    )
    messages = render_slack(digest)
    check_slack(messages, digest)
    assert len(messages) > 1


def test_slack_empty_digest() -> None:
    digest = make_digest([])
    (message,) = render_slack(digest)
    check_slack([message], digest)
    assert message.keys == ()
    assert pl(message)["text"] == "No new papers for #ml today."


def test_slack_buttons_per_paper_name_the_paper() -> None:
    papers = [make_paper(1), make_paper(2)]
    digest = make_digest(papers)
    (message,) = render_slack(digest, buttons=True)
    check_slack([message], digest)
    actions = [b for b in pl(message)["blocks"] if b["type"] == "actions"]
    assert [b["block_id"] for b in actions] == ["paperboy_feedback_0", "paperboy_feedback_1"]
    assert [[e["value"] for e in b["elements"]] for b in actions] == [
        ["2406.00001", "2406.00001"],
        ["2406.00002", "2406.00002"],
    ]
    labels = [e["text"]["text"] for e in actions[0]["elements"]]
    assert labels == ["👍 More like this", "👎 Not for us"]
    kinds = [b["type"] for b in pl(message)["blocks"]]
    assert kinds[1:7] == ["section", "context", "actions"] * 2  # each paper's buttons end it
    assert all(b["type"] != "actions" for b in pl(render_slack(digest)[0])["blocks"])


def test_slack_buttons_keep_the_block_limit_and_hash_long_keys() -> None:
    digest = make_digest([make_paper(i) for i in range(60)])
    messages = render_slack(digest, buttons=True)
    check_slack(messages, digest)
    assert max(len(pl(m)["blocks"]) for m in messages) <= slack.MAX_BLOCKS
    # the buttons end each paper in place of the divider: as many papers a message
    assert [m.keys for m in messages] == [m.keys for m in render_slack(digest)]
    assert all(b["type"] != "divider" for m in messages for b in pl(m)["blocks"])
    long = make_paper(1, arxiv_id=None, title="word " * 600)
    assert len(long.key) > slack.MAX_BUTTON_VALUE
    digest = make_digest([long])
    (message,) = render_slack(digest, buttons=True)
    check_slack([message], digest)
    (value,) = {e["value"] for b in pl(message)["blocks"] if b["type"] == "actions"
                for e in b["elements"]}  # fmt: skip
    assert value.startswith("#") and len(value) == 17
    assert common.feedback_key(value, message.keys) == long.key
    assert common.feedback_key(value, ("2406.00001",)) is None
    assert common.feedback_key("2406.00009", ("2406.00001",)) is None


# --- Discord -----------------------------------------------------------------------------


def test_discord_one_paper_layout() -> None:
    p = make_paper(3, github_repo="https://github.com/x/y_(z)")
    digest = make_digest([p], more=2)
    (message,) = render_discord(digest)
    check_discord([message], digest)
    payload = pl(message)
    assert payload["content"] == "1 new paper for #ml — Mon 22 Nov\nand 2 more — /papers moe"
    (embed,) = payload["embeds"]
    assert embed["url"] == "https://arxiv.org/abs/2406.00003"
    assert embed["description"] == "We propose method 3 for routing."
    fields = {f["name"]: f["value"] for f in embed["fields"]}
    assert fields["Authors"] == "Ada Lovelace, Alan Turing, Grace Hopper et al."
    assert fields["Upvotes"] == "▲ 3"
    assert fields["Links"].startswith("[arXiv](https://arxiv.org/abs/2406.00003) · [PDF](")
    assert "[code](https://github.com/x/y_%28z%29)" in fields["Links"]


def test_discord_evil_strings_show_literally() -> None:
    p = make_paper(
        1, title=f"Title {EVIL_TEXT}", abstract=f"We propose {EVIL_TEXT}.", authors=tuple(EVIL)
    )
    digest = make_digest([p], name=EVIL_TEXT, item_topics=tuple(EVIL), topics=tuple(EVIL), more=1)
    messages = render_discord(digest)
    check_discord(messages, digest)
    embed = pl(messages[0])["embeds"][0]
    assert "@\u200beveryone" in embed["description"]
    assert "\\*bold\\*" in embed["title"]


def test_discord_sixty_papers_split() -> None:
    digest = make_digest([make_paper(i) for i in range(60)], more=4)
    messages = render_discord(digest)
    check_discord(messages, digest)
    assert len(messages) >= 6
    assert pl(messages[0])["content"] == "60 new papers for #ml — Mon 22 Nov"
    assert str(pl(messages[1])["content"]).startswith(f"(continued, 2/{len(messages)})")
    assert [m for m in messages if "and 4 more" in str(pl(m)["content"])] == [messages[-1]]


def test_discord_splits_on_total_characters() -> None:
    long = "word " * 2000
    papers = [make_paper(i, title=long, authors=(long,)) for i in range(10)]
    items = tuple(DigestItem(p, 1.0, (long,), summary=long) for p in papers)
    digest = Digest("discord:1", "ml", DAY, items)
    messages = render_discord(digest)
    check_discord(messages, digest)
    assert len(messages) > 1


def test_discord_same_url_never_twice_in_one_message() -> None:
    repo = "https://github.com/org/shared"
    papers = [make_paper(i, arxiv_id=None, title=f"Paper {i}", github_repo=repo) for i in range(3)]
    digest = make_digest(papers)
    (message,) = render_discord(digest)
    check_discord([message], digest)
    embeds = pl(message)["embeds"]
    assert [e.get("url") for e in embeds] == [repo, None, None]


def test_discord_empty_digest() -> None:
    digest = make_digest([], more=0)
    (message,) = render_discord(digest)
    check_discord([message], digest)
    assert pl(message)["content"] == "No new papers for #ml today."
    assert pl(message)["embeds"] == [] and message.keys == ()


def test_discord_buttons_numbered_two_papers_a_row_ten_a_message() -> None:
    papers = [make_paper(i, title=f"Paper {i} <@123> [x](https://e.io)") for i in range(12)]
    digest = make_digest(papers)
    messages = render_discord(digest, buttons=True)
    check_discord(messages, digest)
    assert [m.keys for m in messages] == [m.keys for m in render_discord(digest)]  # 10 + 2
    rows = pl(messages[0])["components"]
    assert len(rows) == 5 and [len(r["components"]) for r in rows] == [4] * 5
    more, less, more2, _ = rows[0]["components"]
    assert more["custom_id"] == "paperboy:more:2406.00000"
    assert less["custom_id"] == "paperboy:less:2406.00000"
    assert more2["custom_id"] == "paperboy:more:2406.00001"
    assert (more["label"], less["label"]) == ("1 · More like this", "1 · Not for us")
    embeds = [e for m in messages for e in pl(m)["embeds"]]
    assert embeds[0]["author"] == {"name": "Paper 1"} and embeds[0]["title"].startswith("Paper 0")
    assert embeds[11]["author"] == {"name": "Paper 12"}
    assert pl(messages[1])["components"][0]["components"][0]["label"] == "11 · More like this"
    assert "components" not in pl(render_discord(digest)[0])
    assert "author" not in pl(render_discord(digest)[0])["embeds"][0]


def test_discord_long_keys_are_hashed_into_the_custom_id() -> None:
    long = make_paper(1, arxiv_id=None, title="a rather long title word " * 5)
    assert len(long.key) > 86
    digest = make_digest([long, make_paper(2)])
    (message,) = render_discord(digest, buttons=True)
    check_discord([message], digest)
    custom_id = pl(message)["components"][0]["components"][0]["custom_id"]
    assert custom_id.startswith("paperboy:more:#") and len(custom_id) <= 100
    ref = custom_id.split(":", 2)[2]
    assert common.feedback_key(ref, message.keys) == long.key


# --- text --------------------------------------------------------------------------------


def test_text_render() -> None:
    p = make_paper(1, title="Bell\x07 and \x1bescape", github_repo="https://github.com/a/b")
    digest = make_digest([p, make_paper(2)], more=1)
    (message,) = render_text(digest)
    check_text([message], digest)
    text = str(pl(message)["text"])
    assert text.startswith("2 new papers for #ml — Mon 22 Nov\n\n1. Bell and escape\n")
    assert "   Ada Lovelace, Alan Turing, Grace Hopper et al." in text
    assert "   topics: moe, multi-task learning" in text
    assert "code https://github.com/a/b" in text and "▲ 1" in text and "\n2. Paper number 2" in text
    assert text.endswith("and 1 more — /papers moe")


def test_text_empty_digest() -> None:
    (message,) = render_text(make_digest([]))
    assert pl(message) == {"text": "No new papers for #ml today."} and message.keys == ()


# --- the issue's edge cases together, and properties -------------------------------------


def test_issue_edges_all_renderers() -> None:
    papers = [
        make_paper(0, title="T" * 150 + " " + "long title " * 14),  # ~300 characters
        make_paper(1, abstract="Background words. " * 300),  # 5,000+ characters
        make_paper(2, abstract=""),
        make_paper(3, title=f"Evil {EVIL_TEXT}", authors=tuple(EVIL), abstract=EVIL_TEXT),
        *(make_paper(i) for i in range(4, 60)),
    ]
    digest = make_digest(papers, name="<!channel>", item_topics=tuple(EVIL), more=9)
    slack_messages, discord_messages, _ = check_all(digest)
    assert len(slack_messages) > 1 and len(discord_messages) > 1


urls = st.one_of(
    st.none(),
    st.text(max_size=60),
    st.sampled_from(["https://github.com/a/b", "https://x.io/?a=1&b=<2>", "javascript:x()"]),
)
# Arbitrary Unicode, very long strings, and mixes of the hostile tokens and heavy escapes.
tokens = st.sampled_from([*EVIL, "&", "<", ">", "*", "\\", "word", "x" * 40, "&" * 300, "\n"])
long_text = st.one_of(
    st.text(),
    st.text(min_size=300, max_size=3000),
    st.lists(tokens, max_size=40).map(" ".join),
)


@st.composite
def digests(draw: st.DrawFn) -> Digest:
    items = []
    for _ in range(draw(st.integers(0, 16))):
        paper = Paper(
            title=draw(long_text),
            abstract=draw(long_text),
            arxiv_id=draw(st.one_of(st.none(), st.text(max_size=12), st.just("2406.01234"))),
            authors=tuple(draw(st.lists(long_text, max_size=5))),
            upvotes=draw(st.one_of(st.none(), st.integers(-(10**12), 10**12))),
            ai_summary=draw(st.one_of(st.none(), st.text())),
            github_repo=draw(urls),
            project_page=draw(urls),
        )
        summary = draw(st.one_of(st.just(summarize(paper)), long_text))
        topics = tuple(draw(st.lists(long_text, max_size=3)))
        items.append(DigestItem(paper, 1.0, topics, summary))
    return Digest(
        channel_ref="x:1",
        channel_name=draw(long_text),
        day=draw(st.dates()),
        items=tuple(items),
        more=draw(st.integers(0, 1000)),
        topics=tuple(draw(st.lists(long_text, max_size=2))),
    )


@FAST
@given(digest=digests())
def test_property_any_unicode_renders_within_limits(digest: Digest) -> None:
    check_all(digest)


@pytest.mark.parametrize("key", ["<@", "<!channel>", "@everyone", "#abc", "x" * 120])
def test_a_key_that_is_not_plain_travels_as_its_digest(key: str) -> None:
    """Button values and custom_ids carry no markup (hypothesis found an arXiv id "<@"):
    such a key, or one too long, becomes `#` + digest, resolved against the message's keys."""
    ref = feedback_ref(key, 100)
    assert ref.startswith("#") and "<" not in ref and "@" not in ref
    assert feedback_key(ref, ["2401.04088", key]) == key
    assert feedback_ref("2401.04088", 100) == "2401.04088"
    assert feedback_ref("hep-th/9901001", 100) == "hep-th/9901001"
