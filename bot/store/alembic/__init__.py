"""Paperboy's schema history as Alembic revisions (versions/), run by bot.store.migrations."""
