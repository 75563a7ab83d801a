"""The Slack app manifest (config/slack-manifest.yaml), its /papers command generated from
the registry: `python -m handlers.manifest > config/slack-manifest.yaml` regenerates it,
and tests/handlers/test_spec.py fails when the committed file differs.

Text only: nothing here talks to Slack (handlers/ stays platform-neutral).
"""

from __future__ import annotations

import json
import sys

from handlers.registry import SPECS
from handlers.spec import usage_hint

DESCRIPTION = "Search papers, or change the topics this channel follows"
TAGLINE = (
    "Today's research papers in your channels, picked per channel; search the archive with /papers."
)

_TEMPLATE = """\
# Generated from the /papers command registry: edit handlers/manifest.py, then run
#   python -m handlers.manifest > config/slack-manifest.yaml
#
# Slack app manifest for Paperboy. api.slack.com/apps → Create New App → From an app
# manifest → pick your workspace → paste this file (YAML tab) → Create. README, "Deploy",
# walks through the rest (install, tokens, inviting the bot).
#
# Socket Mode is on: Paperboy opens the connection itself (SLACK_APP_TOKEN, an xapp- token
# with connections:write), so no public URL is needed. For HTTP mode instead, set
# `socket_mode_enabled: false` and give the slash command a request URL, e.g.
#   url: https://paperboy.example.org/slack/events
# and the same URL as event_subscriptions' `request_url` and interactivity's `request_url`.
_metadata:
  major_version: 1
  minor_version: 1
display_information:
  name: Paperboy
  description: {tagline}
  background_color: "#1d3557"
  long_description: >-
    Paperboy brings the day's research papers (Hugging Face Daily Papers, arXiv listings)
    into Slack channels. Each channel follows its own topics, such as mixture of experts or
    multi-task learning, and gets one ranked digest on its schedule, never the same paper
    twice. Anyone in the channel can search the archive with /papers, change what the
    channel follows with /papers subscribe, ask why a paper was or was not posted, and
    teach the digest with "More like this" / "Not for us" on a posted paper.
features:
  app_home:
    home_tab_enabled: false
    messages_tab_enabled: false
    messages_tab_read_only_enabled: true
  bot_user:
    display_name: Paperboy
    always_online: true
  slash_commands:
    - command: /papers
      description: {description}
      usage_hint: {usage_hint}
      should_escape: false
oauth_config:
  scopes:
    bot:
      - commands             # /papers
      - chat:write           # post digests in channels the bot was invited to
      # channels:history / groups:history: after a post whose answer was lost (timeout,
      # 5xx), Paperboy looks for its own message in the channel's recent history
      # (conversations.history) before posting again, so a digest is not posted twice.
      - channels:history     # ... in public channels
      - groups:history       # ... in private channels
      # personal alerts (/papers … --me): open the DM (conversations.open), and read its
      # history for the same lost-post check
      - im:write             # ... conversations.open with one user
      - im:history           # ... conversations.history of that DM
      - reactions:read       # a 👍/👎 on a posted paper counts as the team's feedback
      # the weekly digest's trend chart and /papers trends: each image is uploaded privately
      # (files.getUploadURLExternal, files.completeUploadExternal) and shown by an image block
      - files:write
      # Optional: `chat:write.public` lets the bot post in public channels it was not
      # invited to, but it still cannot read their history then (see above): invite it.
settings:
  event_subscriptions:
    bot_events:
      - reaction_added       # 👍/👎 on a single-paper message: "more like this" / "not for us"
      - reaction_removed     # ... and taking it back withdraws that vote
  interactivity:
    is_enabled: true         # the "More like this" / "Not for us" buttons on posted papers
  org_deploy_enabled: false
  socket_mode_enabled: true
  token_rotation_enabled: false
"""


def _scalar(text: str) -> str:
    """A YAML scalar: plain when it can be, else double-quoted (JSON's quoting is YAML's)."""
    plain = text[:1].isalnum() and ": " not in text and " #" not in text and text[-1] != ":"
    return text if plain else json.dumps(text, ensure_ascii=False)


def slack_manifest() -> str:
    """The manifest's text, as committed."""
    return _TEMPLATE.format(
        tagline=_scalar(TAGLINE),
        description=_scalar(DESCRIPTION),
        usage_hint=_scalar(usage_hint(SPECS)),
    )


if __name__ == "__main__":
    sys.stdout.write(slack_manifest())
