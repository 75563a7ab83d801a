"""Chat front-ends: translate Slack and Discord slash commands to and from handlers/."""
