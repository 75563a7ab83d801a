"""PostgreSQL full-text index, fetch leases for replicas

Schema version 5: a fetch lease per source (`source_state.lease_until`), with which replicas
sharing a database fetch each source once per interval, and PostgreSQL's full-text index
(SQLite has had FTS5 since 0001): generated `search_vector` and `search_length` columns of
`papers` with their indexes, and the functions that compute them.

The statements are bot.store.pg_search.index_ddl() as it was at this revision, frozen: the
query side (pg_search) must fold and count words as these functions do. A change there is a
new revision (tests/store/test_migrations_upgrade.py fails until there is one).

Revision ID: 0005
Revises: 0004
"""

# ruff: noqa: E501 (the statements as pg_search rendered them, byte for byte)
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"

SEARCH_INDEX = [
    r"""CREATE OR REPLACE FUNCTION paperboy_fold(text) RETURNS text
            LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $fn$
            SELECT regexp_replace(
                CASE WHEN octet_length($1) = char_length($1) THEN $1
                     ELSE regexp_replace(normalize($1, NFKD), '[\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f]', '', 'g') END,
                '[\u0021-\u002f\u003a-\u0040\u005b-\u0060\u007b-\u007e\u00a0-\u00bf\u00d7\u00f7\u2000-\u206f]', ' ', 'g')
            $fn$""",
    r"""CREATE OR REPLACE FUNCTION paperboy_document(text, text, text) RETURNS tsvector
            LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $fn$ SELECT setweight(to_tsvector('english'::regconfig, paperboy_fold(coalesce($1, ''))), 'A') || setweight(to_tsvector('english'::regconfig, paperboy_fold(coalesce($2, ''))), 'B') || setweight(to_tsvector('english'::regconfig, paperboy_fold(coalesce($3, ''))), 'C') $fn$""",
    r"""CREATE OR REPLACE FUNCTION paperboy_words(text, text, text) RETURNS integer
            LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $fn$
            SELECT CASE WHEN t = '' THEN 0
                        ELSE coalesce(array_length(regexp_split_to_array(t, '\s+'), 1), 0) END
            FROM (SELECT btrim(regexp_replace(paperboy_fold(concat_ws(' ', $1, $2, $3)),
                                              '\s+', ' ', 'g')) AS t) AS folded
            $fn$""",
    r"""ALTER TABLE papers ADD COLUMN IF NOT EXISTS search_vector tsvector
            GENERATED ALWAYS AS (paperboy_document(title, abstract, authors::text)) STORED""",
    r"""ALTER TABLE papers ADD COLUMN IF NOT EXISTS search_length integer
            GENERATED ALWAYS AS (paperboy_words(title, abstract, authors::text)) STORED""",
    r"""CREATE INDEX IF NOT EXISTS ix_papers_search_vector ON papers USING gin (search_vector)""",
    r"""CREATE INDEX IF NOT EXISTS ix_papers_search_length ON papers (search_length)""",
]


def upgrade() -> None:
    with op.batch_alter_table("source_state") as batch:
        batch.add_column(sa.Column("lease_until", sa.DateTime(timezone=True)))
    if op.get_bind().dialect.name == "postgresql":
        for ddl in SEARCH_INDEX:
            op.execute(ddl)
