"""Every stored fact is cited, and every citation is exactly its document's text at its offsets."""

from __future__ import annotations

from sqlalchemy import select

from db.mapping import TYPES
from db.models import (
    Citation,
    Document,
    PartnerLocation,
    PersonLocation,
    ProgramLocation,
    ProgramPartner,
    ReportProgram,
)
from tests.conftest import Store

CITED_TABLES = (
    *(node.model for node in TYPES.values() if node.cited),
    ProgramPartner,
    ProgramLocation,
    PartnerLocation,
    PersonLocation,
    ReportProgram,
)


async def test_every_quote_equals_its_document_text_at_its_offsets(store: Store):
    async with store.engine.connect() as connection:
        texts = dict((await connection.execute(select(Document.id, Document.text))).all())
        citations = (await connection.execute(select(Citation))).all()
    assert citations
    for citation in citations:
        assert citation.end - citation.start == len(citation.quote)
        assert texts[citation.document_id][citation.start : citation.end] == citation.quote


async def test_every_entity_and_relation_row_is_cited(store: Store):
    async with store.engine.connect() as connection:
        cited = set(
            (await connection.execute(select(Citation.subject_type, Citation.subject_id))).all()
        )
        for model in CITED_TABLES:
            ids = (await connection.execute(select(model.id))).scalars().all()
            assert ids, f"{model.__tablename__} is empty"
            uncited = [i for i in ids if (model.__tablename__, i) not in cited]
            assert uncited == [], f"uncited {model.__tablename__} rows: {uncited}"


async def test_citations_point_only_at_existing_rows(store: Store):
    tables = {model.__tablename__: model for model in CITED_TABLES}
    async with store.engine.connect() as connection:
        subjects = set(
            (await connection.execute(select(Citation.subject_type, Citation.subject_id))).all()
        )
        existing = {
            (name, row_id)
            for name, model in tables.items()
            for row_id in (await connection.execute(select(model.id))).scalars().all()
        }
    assert subjects <= existing
