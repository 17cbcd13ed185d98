"""The search statement of both stores, and the trigrams SQLite keeps for misspelt names.

A query (parsed and checked by semantics/search_query.py) is alternatives of words and
phrases to find, some to exclude, its words reduced as `search_entries.terms` are
(db/words.py). Each store matches it against `terms` with its own full-text search, which
reduces no word again:
PostgreSQL's `to_tsquery('simple', ...)` over a GIN index on `to_tsvector('simple', terms)`,
SQLite's FTS5 with the `unicode61` tokenizer; both queries are written from the same parsed
words, each quoted. A plain query of words is also matched against names by trigram
similarity (pg_trgm; on SQLite the same trigrams in `search_trigrams`).

Scores are integers (thousandths) both stores compute alike, so the same hits come back in the
same order on both: a field matched by its words scores its weight (db/mapping.py) x 1000, a
name matched only by trigrams its weight x 1000 x shared / all trigrams (floored; at least
0.3 similar, pg_trgm's default threshold); a field counts once (its best value), and a hit
scores the sum over its fields. Ties go by type name, then slug (byte-wise).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

import orjson
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from db.mapping import SEARCHABLE, table_of
from db.models import SearchEntry
from db.words import trigrams

POINTS = 1000  # a score's unit: thousandths
# What migration 0008 makes for one store only, which no model declares: SQLite's FTS5 table
# (and the tables FTS5 keeps beside it) and trigrams, PostgreSQL's GIN indexes.
STORE_OWN_PREFIXES = ("search_fts", "search_trigrams", "ix_search_trigrams_")
STORE_OWN_INDEXES = frozenset({"ix_search_entries_terms_fts", "ix_search_entries_fuzzy_trgm"})


def is_store_own(name: str) -> bool:
    """Whether a table or index is one store's own search machinery (see migration 0008)."""
    return name.startswith(STORE_OWN_PREFIXES) or name in STORE_OWN_INDEXES


FUZZY_THRESHOLD = (3, 10)  # similarity at least 3/10, pg_trgm's default similarity_threshold


@dataclass(frozen=True)
class Phrase:
    """Words that must follow each other (one word: a word anywhere in the value), reduced
    (db/words.py `reduced`)."""

    words: tuple[str, ...]


@dataclass(frozen=True)
class Alternative:
    """What one alternative of a query asks: every `include` found, no `exclude` found."""

    include: tuple[Phrase, ...]
    exclude: tuple[Phrase, ...] = ()


@dataclass(frozen=True)
class SearchQuery:
    """A checked query: any of its alternatives matches; `fuzzy` is a plain query's words
    (folded to ASCII) that names are also matched against by similarity, or empty."""

    alternatives: tuple[Alternative, ...]
    fuzzy: str = ""

    @property
    def finds_nothing(self) -> bool:
        """No alternative asks for a word: no store is asked (its statement needs one)."""
        return not self.alternatives


@dataclass(frozen=True)
class Place:
    """Where a page starts: after the hit with this score, type name and slug."""

    score: int
    node_type: str
    node_slug: str


@dataclass(frozen=True)
class Matched:
    """A value of a hit's field that matched, `fuzzy` when by trigrams alone."""

    field: str
    position: int | None
    text: str
    fuzzy: bool


@dataclass(frozen=True)
class Hit:
    node_type: str
    node_id: int
    node_slug: str
    score: int
    matched: tuple[Matched, ...]


@dataclass(frozen=True)
class HitPage:
    """A page of hits; `dialect` names the store that matched them."""

    hits: list[Hit]
    total: int
    has_next: bool
    dialect: str


def _phrase_tsquery(phrase: Phrase) -> str:
    return "(" + " <-> ".join(f"'{word}'" for word in phrase.words) + ")"


def tsquery(query: SearchQuery) -> str:
    """The query in `to_tsquery` syntax, every word quoted (words are letters and digits only,
    so none is read as an operator, `or` included)."""
    return " | ".join(
        "("
        + " & ".join(
            [_phrase_tsquery(p) for p in alternative.include]
            + [f"!{_phrase_tsquery(p)}" for p in alternative.exclude]
        )
        + ")"
        for alternative in query.alternatives
    )


def _phrase_fts5(phrase: Phrase) -> str:
    return f'"{" ".join(phrase.words)}"'  # a string: no FTS5 operator or column filter


def fts5_match(query: SearchQuery) -> str:
    """The query in FTS5 syntax, every word quoted."""
    parts = []
    for alternative in query.alternatives:
        found = " AND ".join(_phrase_fts5(p) for p in alternative.include)
        if alternative.exclude:
            excluded = " OR ".join(_phrase_fts5(p) for p in alternative.exclude)
            found = f"({found}) NOT ({excluded})"
        parts.append(f"({found})")
    return " OR ".join(parts)


_POSTGRES_TEXT = """
    SELECT e.id AS entry_id, e.weight * {points} AS points, 0 AS fuzzy
    FROM search_entries e
    WHERE to_tsvector('simple'::regconfig, e.terms)
          @@ to_tsquery('simple'::regconfig, :{p}match)
      AND e.target_type IN ({types})"""
_POSTGRES_FUZZY = """
    SELECT f.entry_id, (f.weight * {points} * f.shared) / (f.own + f.asked - f.shared), 1
    FROM (
        SELECT e.id AS entry_id, e.weight,
               cardinality(ARRAY(SELECT unnest(show_trgm(e.fuzzy))
                                 INTERSECT SELECT unnest(show_trgm(:{p}fuzzy)))) AS shared,
               cardinality(show_trgm(e.fuzzy)) AS own,
               cardinality(show_trgm(:{p}fuzzy)) AS asked
        FROM search_entries e
        WHERE e.fuzzy <> '' AND e.fuzzy % :{p}fuzzy AND e.target_type IN ({types})
    ) f
    WHERE f.shared * {tenths} >= {least} * (f.own + f.asked - f.shared)"""
_SQLITE_TEXT = """
    SELECT e.id AS entry_id, e.weight * {points} AS points, 0 AS fuzzy
    FROM search_fts JOIN search_entries e ON e.id = search_fts.rowid
    WHERE search_fts MATCH :{p}match AND e.target_type IN ({types})"""
_SQLITE_FUZZY = """
    SELECT f.entry_id, (f.weight * {points} * f.shared) / (f.own + :{p}asked - f.shared), 1
    FROM (
        SELECT t.entry_id, e.weight, count(*) AS shared,
               (SELECT count(*) FROM search_trigrams o WHERE o.entry_id = t.entry_id) AS own
        FROM search_trigrams t JOIN search_entries e ON e.id = t.entry_id
        WHERE t.trigram IN (SELECT value FROM json_each(:{p}trigrams))
          AND e.target_type IN ({types})
        GROUP BY t.entry_id, e.weight
    ) f
    WHERE f.shared * {tenths} >= {least} * (f.own + :{p}asked - f.shared)"""
# A row per hit of the page (and one more, which says more follow), each with the values it
# matched by as a JSON array, and the number of all hits (a row of nulls beside it when
# there is none).
_RANKED = """
WITH matched AS ({matched}),
fields AS (
    SELECT e.target_type, e.target_id, e.target_slug, e.field_name, max(m.points) AS points
    FROM matched m JOIN search_entries e ON e.id = m.entry_id
    GROUP BY e.target_type, e.target_id, e.target_slug, e.field_name
),
hits AS (
    SELECT target_type, target_id, target_slug, sum(points) AS score
    FROM fields GROUP BY target_type, target_id, target_slug
),
page AS (
    SELECT * FROM hits {seek}
    ORDER BY score DESC, target_type{bytes}, target_slug{bytes}
    LIMIT :{p}limit
),
counted AS (SELECT count(*) AS total FROM hits)
SELECT counted.total, page.target_type, page.target_id, page.target_slug, page.score,
       (SELECT {values}
        FROM matched m JOIN search_entries e ON e.id = m.entry_id
        WHERE e.target_type = page.target_type AND e.target_id = page.target_id) AS matched
FROM counted LEFT JOIN page ON 1 = 1
ORDER BY page.score DESC, page.target_type{bytes}, page.target_slug{bytes}
"""
_SEEK = """WHERE score < :{p}after_score OR (score = :{p}after_score AND (
        target_type{bytes} > :{p}after_type OR (target_type = :{p}after_type
        AND target_slug{bytes} > :{p}after_slug)))"""
_MATCHED_VALUES = {
    "postgresql": "json_agg(json_build_array(e.field_name, e.position, e.text, m.fuzzy))",
    "sqlite": "json_group_array(json_array(e.field_name, e.position, e.text, m.fuzzy))",
}


@cache
def search_sql(
    dialect: str, fuzzy: bool, after: bool, types: tuple[str, ...], prefix: str = ""
) -> str:
    """The statement for a store, a query's shape and the types searched (written into it:
    names of the type map only); its values are parameters named with `prefix`, so a
    statement of several searches (the compiled executor's) tells them apart. Its columns:
    `SEARCH_COLUMNS`."""
    unknown = set(types) - SEARCHABLE.keys()
    if unknown:
        raise ValueError(f"not searchable: {sorted(unknown)}")
    postgres = dialect == "postgresql"
    numbers = {
        "points": POINTS,
        "tenths": FUZZY_THRESHOLD[1],
        "least": FUZZY_THRESHOLD[0],
        "p": prefix,
        # no type at all: a list no value is in
        "types": ", ".join(f"'{name}'" for name in types) or "NULL",
    }
    branches = [(_POSTGRES_TEXT if postgres else _SQLITE_TEXT).format(**numbers)]
    if fuzzy:
        branches.append((_POSTGRES_FUZZY if postgres else _SQLITE_FUZZY).format(**numbers))
    bytes_ = ' COLLATE "C"' if postgres else ""
    seek = _SEEK.format(bytes=bytes_, p=prefix) if after else ""
    return _RANKED.format(
        matched=" UNION ALL ".join(branches),
        seek=seek,
        bytes=bytes_,
        p=prefix,
        values=_MATCHED_VALUES[dialect],
    )


SEARCH_COLUMNS = ("total", "target_type", "target_id", "target_slug", "score", "matched")


def search_parameters(
    query: SearchQuery, dialect: str, size: int, after: Place | None, prefix: str = ""
) -> dict[str, Any]:
    """The values of `search_sql`'s statement, named with its `prefix`."""
    postgres = dialect == "postgresql"
    parameters: dict[str, Any] = {
        "match": tsquery(query) if postgres else fts5_match(query),
        "limit": size + 1,  # one more tells whether more follow
    }
    if query.fuzzy:
        if postgres:
            parameters["fuzzy"] = query.fuzzy
        else:
            asked = sorted(trigrams(query.fuzzy))
            parameters |= {"trigrams": orjson.dumps(asked).decode(), "asked": len(asked)}
    if after is not None:
        parameters |= {
            "after_score": after.score,
            "after_type": after.node_type,
            "after_slug": after.node_slug,
        }
    return {prefix + name: value for name, value in parameters.items()}


def matched_values(found: Any) -> tuple[Matched, ...]:
    """A hit's matched values from the statement's JSON (text, or read already), by field
    name, list index and whether by trigrams alone: the order highlights are made in."""
    values = orjson.loads(found) if isinstance(found, str | bytes) else found or []
    values.sort(key=lambda v: (v[0], -1 if v[1] is None else v[1], v[3]))
    return tuple(
        Matched(field, position, text_, bool(fuzzy)) for field, position, text_, fuzzy in values
    )


def ranked_rows(rows: Sequence[Sequence[Any]], size: int) -> tuple[list[Sequence[Any]], int, bool]:
    """The statement's rows of hits (`SEARCH_COLUMNS` first; in any order) put in the
    ranking's order: the page's first `size`, the number of all hits, whether more follow."""
    total = int(rows[0][0]) if rows else 0
    hits = sorted((row for row in rows if row[1] is not None), key=lambda r: (-r[4], r[1], r[3]))
    return hits[:size], total, len(hits) > size


def hit_of(row: Sequence[Any]) -> Hit:
    """A hit from the statement's row (`SEARCH_COLUMNS` first)."""
    _, node_type, node_id, node_slug, score, matched = row[:6]
    return Hit(node_type, node_id, node_slug, int(score), matched_values(matched))


async def fetch_hits(
    session: AsyncSession,
    query: SearchQuery,
    types: tuple[str, ...],
    size: int,
    after: Place | None,
) -> HitPage:
    """A page of `size` hits of these types (after `after`), best first, with the values
    each matched by; one statement."""
    dialect = session.get_bind().dialect.name
    sql = search_sql(dialect, bool(query.fuzzy), after is not None, types)
    parameters = search_parameters(query, dialect, size, after)
    rows = (await session.execute(text(sql), parameters)).all()
    hits, total, has_next = ranked_rows([tuple(row) for row in rows], size)
    return HitPage(list(map(hit_of, hits)), total, has_next, dialect)


_HELD_TRIGRAMS = text("SELECT trigram, entry_id FROM search_trigrams")
_DROP_TRIGRAM = text("DELETE FROM search_trigrams WHERE trigram = :trigram AND entry_id = :entry")
_ADD_TRIGRAM = text("INSERT INTO search_trigrams (trigram, entry_id) VALUES (:trigram, :entry)")


async def sync_trigrams(session: AsyncSession) -> None:
    """SQLite's trigrams of every fuzzy search entry (PostgreSQL's pg_trgm makes its own):
    written in the seed's transaction, only those that changed, so a seed stays idempotent."""
    if session.get_bind().dialect.name != "sqlite":
        return
    entries = table_of(SearchEntry)
    found = await session.execute(
        select(entries.c.id, entries.c.fuzzy).where(entries.c.fuzzy != "")
    )
    wanted = {(trigram, entry) for entry, fuzzy in found.all() for trigram in trigrams(fuzzy)}
    held = {(trigram, entry) for trigram, entry in (await session.execute(_HELD_TRIGRAMS)).all()}
    for statement, pairs in ((_DROP_TRIGRAM, held - wanted), (_ADD_TRIGRAM, wanted - held)):
        if pairs:
            rows = [{"trigram": t, "entry": e} for t, e in sorted(pairs)]
            await session.execute(statement, rows)
