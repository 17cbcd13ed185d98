"""search

`passages` (each document's paragraphs with their spans) and `search_entries` (one row per
value of every searchable field, db/mapping.py), filled by the seed, and each store's indexes
over them (db/search.py reads them):

- PostgreSQL: full-text search over `terms` (a GIN index on `to_tsvector('simple', terms)`:
  the words are reduced already, db/words.py) and trigram similarity over `fuzzy` (pg_trgm, a
  GIN trigram index on the names).
- SQLite: an FTS5 table over `terms` (the `unicode61` tokenizer, no stemming: the words are
  reduced already; kept in step by triggers) and `search_trigrams`, the same trigrams pg_trgm
  makes, written by the seed (db/search.py).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

POSTGRES = (
    "CREATE EXTENSION IF NOT EXISTS pg_trgm",
    "CREATE INDEX ix_search_entries_terms_fts ON search_entries"
    " USING gin (to_tsvector('simple'::regconfig, terms))",
    "CREATE INDEX ix_search_entries_fuzzy_trgm ON search_entries"
    " USING gin (fuzzy gin_trgm_ops) WHERE fuzzy <> ''",
)
SQLITE = (
    "CREATE VIRTUAL TABLE search_fts USING fts5(terms, content='search_entries',"
    " content_rowid='id', tokenize='unicode61 remove_diacritics 0')",
    "CREATE TRIGGER search_entries_fts_insert AFTER INSERT ON search_entries BEGIN"
    " INSERT INTO search_fts(rowid, terms) VALUES (new.id, new.terms); END",
    "CREATE TRIGGER search_entries_fts_delete AFTER DELETE ON search_entries BEGIN"
    " INSERT INTO search_fts(search_fts, rowid, terms) VALUES ('delete', old.id, old.terms);"
    " END",
    "CREATE TRIGGER search_entries_fts_update AFTER UPDATE ON search_entries BEGIN"
    " INSERT INTO search_fts(search_fts, rowid, terms) VALUES ('delete', old.id, old.terms);"
    " INSERT INTO search_fts(rowid, terms) VALUES (new.id, new.terms); END",
    "CREATE TABLE search_trigrams (trigram VARCHAR(3) NOT NULL, entry_id INTEGER NOT NULL,"
    " PRIMARY KEY (trigram, entry_id)) WITHOUT ROWID",
    "CREATE INDEX ix_search_trigrams_entry ON search_trigrams (entry_id)",
    "INSERT INTO search_fts(search_fts) VALUES ('rebuild')",
)
SQLITE_DOWN = (
    "DROP TABLE search_trigrams",
    "DROP TRIGGER search_entries_fts_update",
    "DROP TRIGGER search_entries_fts_delete",
    "DROP TRIGGER search_entries_fts_insert",
    "DROP TABLE search_fts",
)


def upgrade() -> None:
    op.create_table(
        "passages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("slug", sa.String(length=120), nullable=False),
        sa.Column("document_id", sa.Integer(), nullable=False),
        sa.Column("start", sa.Integer(), nullable=False),
        sa.Column("end", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["document_id"], ["documents.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_passages_slug", "passages", ["slug"], unique=True)
    op.create_index("ix_passages_document_id", "passages", ["document_id"], unique=False)
    op.create_table(
        "search_entries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("node_type", sa.String(length=40), nullable=False),
        sa.Column("node_id", sa.Integer(), nullable=False),
        sa.Column("node_slug", sa.String(length=120), nullable=False),
        sa.Column("field_name", sa.String(length=40), nullable=False),
        sa.Column("position", sa.Integer(), nullable=True),
        sa.Column("weight", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("terms", sa.Text(), nullable=False),
        sa.Column("fuzzy", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_search_entries_node", "search_entries", ["node_type", "node_id"])
    statements = POSTGRES if op.get_context().dialect.name == "postgresql" else SQLITE
    for statement in statements:
        op.execute(statement)


def downgrade() -> None:
    if op.get_context().dialect.name == "sqlite":
        for statement in SQLITE_DOWN:
            op.execute(statement)
    # PostgreSQL's indexes go with their table; pg_trgm stays (other schemas may use it)
    op.drop_index("ix_search_entries_node", table_name="search_entries")
    op.drop_table("search_entries")
    op.drop_index("ix_passages_document_id", table_name="passages")
    op.drop_index("ix_passages_slug", table_name="passages")
    op.drop_table("passages")
