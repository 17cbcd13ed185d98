"""SQLite and PostgreSQL give byte-identical answers to the same queries.

Global IDs and cursors are built from slugs and positions, never from row ids, so even they
must agree; any difference in order, filtering or totals between the stores shows up here.
"""

from __future__ import annotations

from schema import enums
from tests.conftest import make_client
from tests.test_statement_count import DEEP_TRAVERSAL

LISTS = {
    "companies": ("CompanyOrderField", "name"),
    "people": ("PersonOrderField", "name"),
    "reports": ("ReportOrderField", "title"),
    "programs": ("ProgramOrderField", "name kind"),
    "partners": ("PartnerOrderField", "name shortName"),
    "locations": ("LocationOrderField", "name kind countryCode"),
    "figures": ("FigureOrderField", "label value unit qualifier"),
    "documents": ("DocumentOrderField", "title publishedOn"),
}


def _queries() -> list[str]:
    queries = [DEEP_TRAVERSAL]
    for field, (order_enum, fields) in LISTS.items():
        for member in getattr(enums, order_enum):
            for direction in ("ASC", "DESC"):
                for window in ("first: 7", "last: 5", "first: 100"):
                    queries.append(
                        f"{{ {field}({window}, orderBy: {{field: {member.name}, "
                        f"direction: {direction}}}) {{ totalCount pageInfo {{ hasNextPage "
                        f"hasPreviousPage startCursor endCursor }} edges {{ cursor node {{ id "
                        f"slug {fields} }} }} }} }}"
                    )
    queries += [
        '{ programs(filter: {nameContains: "program"}) { totalCount nodes { slug } } }',
        '{ programs(filter: {countryCode: "us", kind: [BENEFIT]}) { totalCount nodes { slug } } }',
        """{ partners(filter: {programKind: [FUND]}) {
           nodes { slug locations { nodes { slug } } } } }""",
        '{ locations(filter: {countryCode: "US"}) { nodes { slug parent { slug } } } }',
        """{ documents { nodes { slug text } } figures(first: 100) { nodes { slug
           citations { quote start end context(characters: 40) { before quote after } } } } }""",
        """{ locations(first: 100) { nodes { slug children { totalCount nodes { slug } }
           programs { totalCount edges { citations { quote start } node { slug } } }
           people { nodes { slug } } partners { nodes { slug } } } } }""",
    ]
    return queries


async def test_both_stores_answer_identically(both_stores):
    answers: dict[str, list[bytes]] = {}
    for backend, store in both_stores.items():
        async with make_client(store.engine, max_cost=10**10) as http:  # pages of 100, nested
            answers[backend] = []
            for query in _queries():
                response = await http.post("/graphql", json={"query": query})
                assert response.status_code == 200
                assert b'"errors"' not in response.content, (query, response.text[:500])
                answers[backend].append(response.content)
    for query, sqlite, postgresql in zip(
        _queries(), answers["sqlite"], answers["postgresql"], strict=True
    ):
        assert sqlite == postgresql, query
