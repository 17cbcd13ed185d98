"""The compiled executor: look up the plan, bind the variables, run one statement.

A plan is made once per document, operation and `@skip`/`@include` values (the selections)
and once per bound shape and store (the statement); a request only binds its arguments. The
database returns the response's `data` as JSON, read back with orjson so that every number
and string is written exactly as the reference executor writes it. What a query actually
fetched is counted while the rows are nested, in the reference executor's unit. The same
statement reads the data version, so the answer knows the version of the snapshot it read.
"""

from __future__ import annotations

import logging
import sqlite3
from contextlib import closing
from dataclasses import dataclass
from typing import Any

import orjson
from graphql import (
    BooleanValueNode,
    DirectiveNode,
    DocumentNode,
    FragmentDefinitionNode,
    GraphQLError,
    GraphQLSchema,
    NamedTypeNode,
    NonNullTypeNode,
    OperationDefinitionNode,
    TypeNode,
    VariableNode,
    get_variable_values,
    visit,
)
from graphql.language import Visitor
from sqlalchemy import Select
from sqlalchemy.engine import Dialect

from compiled.bind import Binder, Root
from compiled.levels import Planner, StatementBuilder
from compiled.levels_data import Assembler
from compiled.nested import Nester, TooDeep
from compiled.nested_data import Tree
from compiled.shape import Builder, Shape, builders
from compiled.template import Collector, NotCompiled, Selection
from core.lru import LRU, own_copy
from db.raw import SqlText, Statements, precompile
from db.state import version_query
from operation.prepare import Operation, variables_key

logger = logging.getLogger("impact_graph.compiled")
# Compiled statements are kept up to this many characters of their SQL in all: one takes
# ~24-30 bytes of memory a character of it (tracemalloc: 3,600 to 29,000 characters), so
# 50-60 MB at most; kept by count, 512 wide ones held ~650 MB.
STATEMENT_CACHE_CHARACTERS = 2_000_000
# Plans are kept per document, operation and variable values, up to this many characters of
# those in all, each entry counted PLAN_OVERHEAD more (its parameters, the tuple): its key
# holds the query text, which may outlive the document cache's entry.
PLAN_CACHE_CHARACTERS = 500_000
PLAN_OVERHEAD = 500
MAX_TEMPLATES_PER_DOCUMENT = 64  # per operation and skip/include values


@dataclass(frozen=True)
class Compiled:
    """What a bound shape compiles to on one store: the statement and how to read it."""

    sql: SqlText
    shape: Shape
    built: dict[int, Builder]
    nested: bool  # the nested form (compiled/nested.py), else levels (compiled/levels.py)


@dataclass(frozen=True)
class Ran:
    """What a compiled statement answered: the response's data, the objects it fetched (the
    actual cost) and the data version of the snapshot it read."""

    data: dict[str, Any]
    fetched: int
    version: int


@dataclass(frozen=True)
class Plan:
    """A request's compiled statement and the parameters it runs with."""

    compiled: Compiled
    parameters: dict[str, Any]


NOT_COMPILED = "not compiled"


@dataclass
class _Template:
    collector: Collector
    selection: Selection


class _DirectiveVariables(Visitor):
    """The variables `@skip`/`@include` read: they decide which fields are selected."""

    def __init__(self) -> None:
        super().__init__()
        self.names: set[str] = set()

    def enter_directive(self, node: DirectiveNode, *_: Any) -> None:
        if node.name.value in ("skip", "include"):
            for argument in node.arguments or ():
                if isinstance(argument.value, VariableNode):
                    self.names.add(argument.value.name.value)
                elif not isinstance(argument.value, BooleanValueNode):
                    raise NotCompiled("a directive argument that is not a boolean")


def _switches(document: DocumentNode, operation: OperationDefinitionNode) -> frozenset[str]:
    """The variables the operation's `@skip`/`@include` may read: of those the document's
    directives name, the ones it declares Boolean (validation lets no other stand in `if`).
    Another operation's `$x` may be this one's object or list, which no key could hold."""
    found = _DirectiveVariables()
    visit(document, found)
    declared = operation.variable_definitions or ()
    return frozenset(found.names) & {d.variable.name.value for d in declared if _boolean(d.type)}


def _boolean(type_: TypeNode) -> bool:
    named = type_.type if isinstance(type_, NonNullTypeNode) else type_
    return isinstance(named, NamedTypeNode) and named.name.value == "Boolean"


class CompiledExecutor:
    """Plans and runs compiled operations against the schema as graphql-core types."""

    def __init__(self, contract: GraphQLSchema, dialect: Dialect, statements: Statements) -> None:
        self.contract = contract
        self.dialect = dialect  # the store's: what the statements are written for
        self.statements = statements  # what runs them
        self._statements: LRU[Root, Compiled] = LRU(
            STATEMENT_CACHE_CHARACTERS, weight=_sql_characters
        )
        # each plan with its weight (its key's share, which the LRU's weight cannot see)
        self._plans: LRU[tuple[str, str | None, bytes], tuple[Plan | str, int]] = LRU(
            PLAN_CACHE_CHARACTERS, weight=_stated_weight
        )

    def plan(self, operation: Operation, variables: dict[str, Any] | None) -> Plan | None:
        """The plan for this request, or None when the reference executor must answer; any
        error while planning (graphql-core refusing a null argument, say) means the latter,
        which reports it as it always does."""
        try:
            return self._cached_plan(operation, variables)
        except GraphQLError:
            return None
        except Exception:
            logger.exception("planning failed; the reference executor answers")
            return None

    def _cached_plan(self, operation: Operation, variables: dict[str, Any] | None) -> Plan | None:
        """Plans are kept per document, operation and variable values, so a repeated
        request (the common case for an app) binds nothing again (a search's values are in
        its store's own query syntax)."""
        values = variables_key(variables)
        if values is None:  # planned anew each time, not kept
            return self._plan(operation, variables)
        key = (operation.query, operation.name, values)
        kept = self._plans.get(key)
        if kept is not None:
            found = kept[0]
        else:
            found = self._plan(operation, variables) or NOT_COMPILED
            key = (operation.query, operation.name, own_copy(values))
            weight = len(operation.query) + len(values) + PLAN_OVERHEAD
            self._plans.put(key, (found, weight))
        return None if isinstance(found, str) else found

    def _plan(self, operation: Operation, variables: dict[str, Any] | None) -> Plan | None:
        dialect = self.dialect
        coerced = get_variable_values(
            self.contract,
            operation.definition.variable_definitions or (),
            variables or {},
            max_errors=1,  # stop at the second: one is enough to hand the request on
        )
        if isinstance(coerced, list):
            return None  # variable errors: the reference executor reports them (50 at most)
        try:
            template = self._template(operation, coerced)
            binder = Binder(template.collector, coerced, dialect.name)
            root = binder.root(template.selection)
            compiled = self._statements.get(root)
            if compiled is None:
                compiled = self._statements.put(root, _compile(root, dialect))
        except NotCompiled:
            return None
        return Plan(compiled, binder.parameters)

    def _template(self, operation: Operation, coerced: Any) -> _Template:
        """The operation's selections for these skip/include values, kept with the document
        (operation.memo), so they are evicted with it."""
        memo = operation.memo
        document = operation.document
        read = ("switches", operation.name)
        names = memo.get(read)
        if names is None:
            names = memo[read] = _switches(document, operation.definition)
        switches = tuple(sorted((n, coerced.coerced.get(n)) for n in names))
        key = ("template", operation.name, switches)
        template = memo.get(key)
        if isinstance(template, str):
            raise NotCompiled(template)
        if template is None:
            if len(memo) >= MAX_TEMPLATES_PER_DOCUMENT:
                memo.clear()
                memo[read] = names
            fragments = {
                d.name.value: d
                for d in document.definitions
                if isinstance(d, FragmentDefinitionNode)
            }
            collector = Collector(self.contract, fragments, coerced)
            try:
                selection = collector.root(operation.definition.selection_set)
            except NotCompiled as reason:
                memo[key] = str(reason)
                raise
            template = memo[key] = _Template(collector, selection)
        return template

    async def run(self, plan: Plan) -> Ran:
        """The response's data, the objects it fetched and the data version it read.

        What the statement returns is not the answer, and is not measured as one: it holds
        what the answer is built from (a provenance's whole record where the answer shows its
        basis, the keys rows are ordered by), many times the answer's size. The answer is
        measured once built (server/endpoint.py); what may be read to build it is bounded by
        the estimate, as the reference executor's rows are."""
        compiled = plan.compiled
        row = await self.statements.fetch_row(compiled.sql, plan.parameters)
        assert row is not None, "a statement of one aggregate returns one row"
        found, version = row
        # PostgreSQL's driver hands back json already read (by orjson: db/engine.py); SQLite
        # returns its text.
        value: Any = found if isinstance(found, list | dict) else orjson.loads(found)
        if compiled.nested:
            tree = Tree(compiled.shape, plan.parameters, compiled.built)
            return Ran(tree.data(value), tree.fetched, int(version or 0))
        assembler = Assembler(compiled.shape, value, plan.parameters, compiled.built)
        return Ran(assembler.data(), assembler.fetched, int(version or 0))


def _compile(root: Root, dialect: Dialect) -> Compiled:
    """The nested form where the store takes it (always on PostgreSQL), else levels. A
    nested statement whose lists page from a cursor asks for a plan made once (db/raw.py).
    Either returns the data version beside the data: read by the same statement, so in the
    same snapshot."""
    nester = Nester(dialect.name)
    try:
        statement, shape = nester.statement(root)
        sql = precompile(_with_version(statement), dialect, generic_plan=nester.pages_from_a_place)
        if dialect.name == "sqlite" and not sqlite_parses(sql.text):
            raise TooDeep("deeper than SQLite's parser takes")
    except TooDeep:
        planner = Planner()
        shape = planner.root(root)
        levels = _with_version(StatementBuilder(dialect.name).statement(planner.levels))
        sql = precompile(levels, dialect)
        if dialect.name == "sqlite" and not sqlite_parses(sql.text):
            raise NotCompiled("deeper than SQLite's parser takes, even as levels") from None
        return Compiled(sql, shape, builders(shape), nested=False)
    return Compiled(sql, shape, builders(shape), nested=True)


def sqlite_parses(sql: str) -> bool:
    """Whether SQLite's parser takes the statement. Its stack is fixed, and what a statement
    spends of it depends on more than how deep its subqueries nest (the columns and
    expressions at each depth): `MAX_SQLITE_NESTING` let through statements that overflowed
    it, each failing as it ran. Asked once a statement, of an empty database in memory: a
    statement is parsed before its tables are looked for."""
    with closing(sqlite3.connect(":memory:")) as empty:
        try:
            empty.execute(sql)
        except sqlite3.Error as error:  # (no such table, once it parsed)
            return "parser stack overflow" not in str(error)
    return True


def _with_version(statement: Select[Any]) -> Select[Any]:
    """A second column beside the statement's one: the data version (a sibling subquery, so
    SQLite's depth is what it was)."""
    return statement.add_columns(version_query().scalar_subquery().label("data_version"))


def _sql_characters(compiled: Compiled) -> int:
    return len(compiled.sql.text)


def _stated_weight(entry: tuple[object, int]) -> int:
    return entry[1]
