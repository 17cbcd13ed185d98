"""The root query: Relay node lookups, a by-slug lookup and a list per entity type."""

from __future__ import annotations

import inspect
import re
from typing import Annotated, Any

import strawberry

from core.errors import BadUserInput
from db.mapping import MAX_NODES
from resolvers.context import Info
from resolvers.nodes import resolve_by_slug, resolve_node, resolve_nodes
from schema.connection import connection_field
from schema.node import Node
from schema.search import SCORE, SearchConnection, search
from schema.signatures import INFO, typed_resolver
from schema.types import (
    NODE_TYPES,
    Company,
    Document,
    Figure,
    FigureGroup,
    FigurePair,
    Location,
    Organization,
    Partner,
    Person,
    Program,
    Report,
    Statement,
)


def _as_node(found: tuple[str, Any] | None) -> Node | None:
    if found is None:
        return None
    type_name, row = found
    node = NODE_TYPES[type_name].from_row(row)
    assert isinstance(node, Node)
    return node


def slug_field(node_type: type[Any]) -> Any:
    """`company(slug:)` and its siblings: one entity by slug, or null."""

    async def resolve(info: Info, slug: str) -> Any:
        row = await resolve_by_slug(info, node_type.__name__, slug)
        return None if row is None else node_type.from_row(row)

    slug_argument = Annotated[str, strawberry.argument(description="The entity's slug.")]
    slug = inspect.Parameter("slug", inspect.Parameter.KEYWORD_ONLY, annotation=slug_argument)
    typed_resolver(resolve, [INFO, slug], node_type | None)
    return strawberry.field(
        resolver=resolve, description=f"The {_spoken(node_type.__name__)} with this slug, or null."
    )


def _spoken(type_name: str) -> str:
    """A type's name as words: `FigureGroup` is "figure group"."""
    return re.sub(r"(?<!^)(?=[A-Z])", " ", type_name).lower()


@strawberry.type(description="Entry points into the graph.")
class Query:
    @strawberry.field(
        description="Refetch any object by its global ID; null if it no longer exists."
    )
    async def node(
        self,
        info: Info,
        id: Annotated[strawberry.ID, strawberry.argument(description="A global ID.")],
    ) -> Node | None:
        return _as_node(await resolve_node(info, id))

    @strawberry.field(
        description=f"Refetch up to {MAX_NODES} objects by global ID, in order; null where "
        "missing, and where an ID is none (with its error at its place in the list)."
    )
    async def nodes(
        self,
        info: Info,
        ids: Annotated[list[strawberry.ID], strawberry.argument(description="Global IDs.")],
    ) -> list[Node | None]:
        answered: list[Any] = []
        for item in await resolve_nodes(info, list(ids)):
            # an ID that is none stays its error: graphql-core completes it at its place
            answered.append(item if isinstance(item, BadUserInput) else _as_node(item))
        return answered

    search: SearchConnection = strawberry.field(
        resolver=search,
        description="Objects and passages of the documents matching words, best first. "
        + SCORE.replace("How well the object matches", "Each hit's score")
        + " A query with nothing to search (no words, only common words or `-word`s) finds "
        "nothing, whatever `after` says; one too long or with control characters is "
        "BAD_USER_INPUT.",
    )

    company = slug_field(Company)
    person = slug_field(Person)
    report = slug_field(Report)
    program = slug_field(Program)
    partner = slug_field(Partner)
    location = slug_field(Location)
    figure = slug_field(Figure)
    document = slug_field(Document)
    organization = slug_field(Organization)
    statement = slug_field(Statement)
    figure_group = slug_field(FigureGroup)
    figure_pair = slug_field(FigurePair)

    companies = connection_field("Query", "companies", description="All companies.")
    people = connection_field("Query", "people", description="All people.")
    reports = connection_field("Query", "reports", description="All reports.")
    programs = connection_field(
        "Query",
        "programs",
        description="All programs, funds, benefits and initiatives of every company.",
    )
    partners = connection_field("Query", "partners", description="All partners.")
    locations = connection_field(
        "Query", "locations", description="All countries, regions and cities."
    )
    figures = connection_field("Query", "figures", description="All figures.")
    documents = connection_field("Query", "documents", description="The source documents.")
    organizations = connection_field(
        "Query", "organizations", description="Publishers of the documents and their owners."
    )
    statements = connection_field(
        "Query", "statements", description="Words the documents quote people saying."
    )
    figure_groups = connection_field(
        "Query", "figureGroups", description="Figures the documents set out together."
    )
    figure_pairs = connection_field(
        "Query", "figurePairs", description="The pairs of every figure group."
    )
