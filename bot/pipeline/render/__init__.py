"""Digest renderers: a Digest becomes platform messages (Slack blocks, Discord embeds, text)."""
