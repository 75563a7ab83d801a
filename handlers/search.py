"""`/papers <words>`: search the archive, marking the papers already posted here."""

from __future__ import annotations

from bot.pipeline.render.common import clean, cut
from bot.store import aio
from handlers.common import MAX_QUERY_SHOWN, error, paper_count, paper_line, quoted
from handlers.reply import CommandRequest, Reply
from handlers.services import Services
from handlers.spec import MAX_LIMIT, Command, CommandSpec, Option


async def search(command: Command, request: CommandRequest, services: Services) -> Reply:
    query = clean(command.arg)
    if not query:
        return error(
            "Search for what? Give a few words, e.g. /papers mixture of experts",
            "/papers help lists every command.",
        )
    lines: list[str] = []
    result = await aio.run(services.search.search, query, limit=command.limit)
    lines += list(result.notes)
    if not result.hits:
        return Reply(
            f"No archived paper matches {quoted(query)}.",
            (*lines, "Try fewer or more general words, or check the spelling."),
        )
    posted = await aio.run(
        services.ledger.posted, request.channel_ref, [h.paper.key for h in result.hits]
    )
    papers = tuple(paper_line(h.paper, services, posted) for h in result.hits)
    shown = len(papers)
    title = f"Top {shown} papers for {quoted(query)}"
    if result.total <= shown:
        title = f"{paper_count(shown)} for {quoted(query)}"
    footer = None
    if result.total > shown and command.limit < MAX_LIMIT:
        footer = f"More: /papers search {cut(query, MAX_QUERY_SHOWN)} --top {MAX_LIMIT}"
    return Reply(title, tuple(lines), papers, footer)


SPECS = (
    CommandSpec(
        "search",
        search,
        summary="Search the paper archive",
        usage="[words]",
        help="<words> — search the archive (add --more or --top N for more results)",
        options=(
            Option("query", "Words, a topic or a title, e.g. mixture of experts"),
            Option("results", "How many papers to show (default 5)", "limit", required=False),
            Option(
                "share",
                "Post the results to the channel (default: only you see them)",
                "share",
                required=False,
            ),
        ),
    ),
)
