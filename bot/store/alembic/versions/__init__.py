"""One Alembic revision per schema version: revision "000N" is Paperboy's schema version N."""
