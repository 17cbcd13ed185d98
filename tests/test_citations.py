"""Every stored fact is cited, and every citation is exactly its document's text at its offsets."""

from __future__ import annotations

import pytest
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
from seeds.read import read_seeds
from seeds.write import write_seeds
from tests.conftest import Store, make_client
from tests.factories import graph_data, write_seed_tree

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


@pytest.mark.parametrize("executor", ["compiled", "reference"])
async def test_a_reseed_lists_an_item_s_quotes_in_their_new_order(
    empty_store: Store, seed_plan, tmp_path, executor
):
    """A re-seed keeps a quote's row (its id) where the file moved it: the file's order is
    the position the seed writes, not the row's age."""
    query = '{ program(slug: "apida-heritage-month-2024") { citations { quote } } }'
    data = graph_data()
    [program] = [p for p in data["programs"] if p["slug"] == "apida-heritage-month-2024"]
    await write_seeds(empty_store.engine, seed_plan)
    program["citations"].reverse()
    await write_seeds(empty_store.engine, read_seeds(write_seed_tree(tmp_path / "s", data)))
    async with make_client(empty_store.engine, executor=executor) as http:
        answer = await http.post("/graphql", json={"query": query})
    assert answer.headers["x-executor"] == executor
    quotes = [c["quote"] for c in answer.json()["data"]["program"]["citations"]]
    assert quotes == [c["quote"] for c in program["citations"]]
    assert len(quotes) > 2
