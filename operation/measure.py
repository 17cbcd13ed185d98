"""How big and deep an operation is, measured on its syntax before anything validates it.

Every measure inlines fragments the way execution does, so spreading a fragment a thousand
times counts a thousand times, and each fragment is measured once (memoised), so a fragment
"bomb" that doubles at every level costs the analysis a few microseconds, not 2^n. Fragment
cycles and unknown fields measure as empty here; graphql-core's validation, which runs only
after these checks pass, reports them. Introspection may ask for each of its lists once per
operation ("good-faith introspection"), which bounds it by the schema's size.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from graphql import (
    DirectiveNode,
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLNamedType,
    GraphQLSchema,
    InlineFragmentNode,
    IntValueNode,
    ListValueNode,
    ObjectValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    ValueNode,
    VariableNode,
    get_named_type,
    get_nullable_type,
    is_list_type,
)

from core.errors import (
    ClientError,
    IntrospectionDisabled,
    InvalidDocument,
    QueryTooComplex,
    QueryTooDeep,
    QueryTooLarge,
    TooManyAliases,
    TooManyDirectives,
    TooManyRootFields,
)
from core.limits import Limits
from operation.walk import (
    INTROSPECTION_ROOTS,
    LIST_LENGTH_ARGUMENT,
    PAGE_SIZE_ARGUMENTS,
    Walk,
    field_definition,
    is_introspective,
)

# Int is 32 bits: 11 characters with the sign. Longer literals are refused before anything
# converts them (Python refuses to convert integer strings past 4,300 digits at all).
MAX_INT_LITERAL_LENGTH = 11


@dataclass
class Shape:
    """Counts for a selection set with its fragments inlined (a fragment counts per spread)."""

    depth: int = 0  # longest chain of data fields; introspection does not count
    height: int = 0  # levels of fields and fragments below, as the walk nests them
    keys: Counter[str] = field(default_factory=Counter)  # response keys at this level
    repeats: tuple[int, str] = (0, "")  # most selections of one response key in one place
    fields: int = 0
    aliases: int = 0
    directives: int = 0
    introspection: Counter[str] = field(default_factory=Counter)
    page_variables: set[str] = field(default_factory=set)

    def add(self, other: Shape, *, nested: bool) -> None:
        """Fold a child in: as a nested selection, or inline at this level (a fragment)."""
        self.depth = max(self.depth, other.depth + (1 if nested else 0))
        self.height = max(self.height, other.height + 1)
        if not nested:
            self.keys.update(other.keys)
        self.repeats = max(self.repeats, other.repeats)
        self.fields += other.fields
        self.aliases += other.aliases
        self.directives += other.directives
        self.introspection.update(other.introspection)
        self.page_variables |= other.page_variables


@dataclass(frozen=True)
class DocumentShape:
    """A document's measures: the worst over its operations and fragments (validation reads
    them all, so an unused one must be safe too)."""

    worst: Shape
    root_fields: int
    fragments: int
    page_variables: frozenset[str]


class _ShapeWalk(Walk):
    def __init__(self, schema: GraphQLSchema, document: DocumentNode) -> None:
        super().__init__(schema, document)
        self.memo: dict[str, Shape] = {}

    def fragment(self, name: str, nesting: int) -> Shape:
        if name in self.memo:
            shape = self.memo[name]
            self.guard(nesting + shape.height)  # measured once, but nested anew at each spread
            return shape
        shape = Shape()
        for fragment in self.spread(name):
            shape = self.selection_set(
                fragment.selection_set, self.type_of(fragment.type_condition, None), nesting
            )
            shape.directives += _directives(fragment.directives)
            self.memo[name] = shape
        return shape

    def selection_set(
        self, node: SelectionSetNode, parent: GraphQLNamedType | None, nesting: int
    ) -> Shape:
        self.guard(nesting)
        shape = Shape()
        for selection in node.selections:
            shape.directives += _directives(selection.directives)
            if isinstance(selection, FieldNode):
                self.field(selection, parent, shape, nesting)
            elif isinstance(selection, InlineFragmentNode):
                inner = self.type_of(selection.type_condition, parent)
                shape.add(
                    self.selection_set(selection.selection_set, inner, nesting + 1), nested=False
                )
            elif isinstance(selection, FragmentSpreadNode):
                shape.add(self.fragment(selection.name.value, nesting + 1), nested=False)
        if shape.keys:
            key, count = shape.keys.most_common(1)[0]
            shape.repeats = max(shape.repeats, (count, key))
        return shape

    def field(
        self, node: FieldNode, parent: GraphQLNamedType | None, shape: Shape, nesting: int
    ) -> None:
        name = node.name.value
        meta = name.startswith("__") or is_introspective(parent)
        shape.keys[node.alias.value if node.alias else name] += 1
        shape.fields += 1
        shape.aliases += node.alias is not None
        if not meta:
            shape.depth = max(shape.depth, 1)
        definition = field_definition(parent, name)
        child_type = None if definition is None else get_named_type(definition.type)
        if name in INTROSPECTION_ROOTS:
            shape.introspection[name] += 1
        elif (
            is_introspective(parent)
            and definition
            and is_list_type(get_nullable_type(definition.type))
        ):
            shape.introspection[f"{parent.name}.{name}"] += 1
        for argument in node.arguments or ():
            _check_literal(argument.value)
            if argument.name.value in (*PAGE_SIZE_ARGUMENTS, LIST_LENGTH_ARGUMENT):
                shape.page_variables |= _variables_in(argument.value)
        if node.selection_set is None:
            return
        child = self.selection_set(node.selection_set, child_type, nesting + 1)
        if meta:
            child.depth = -1  # introspection is bounded by the good-faith rule, not by depth
        shape.add(child, nested=True)


def _directives(directives: Sequence[DirectiveNode] | None) -> int:
    """How many; their arguments' literals are checked on the way."""
    for directive in directives or ():
        for argument in directive.arguments or ():
            _check_literal(argument.value)
    return len(directives or ())


def _check_literal(value: ValueNode) -> None:
    if isinstance(value, IntValueNode) and len(value.value) > MAX_INT_LITERAL_LENGTH:
        raise InvalidDocument(
            f"An integer literal has {len(value.value):,} characters; "
            "Int is a 32-bit signed integer."
        )
    if isinstance(value, ListValueNode):
        for item in value.values:
            _check_literal(item)
    elif isinstance(value, ObjectValueNode):
        for field_node in value.fields:
            _check_literal(field_node.value)


def _variables_in(value: ValueNode) -> set[str]:
    if isinstance(value, VariableNode):
        return {value.name.value}
    if isinstance(value, ListValueNode):
        return set().union(*(_variables_in(v) for v in value.values))
    return set()


def measure(schema: GraphQLSchema, document: DocumentNode) -> DocumentShape:
    """Measure every operation and fragment (validation reads them all, used or not)."""
    walk = _ShapeWalk(schema, document)
    worst = Shape()
    root_fields = fragments = 0
    page_variables: set[str] = set()
    for definition in document.definitions:
        if isinstance(definition, OperationDefinitionNode):
            root = schema.get_root_type(definition.operation)
            shape = walk.selection_set(definition.selection_set, root, 1)
            shape.directives += _directives(definition.directives)
            for variable in definition.variable_definitions or ():
                shape.directives += _directives(variable.directives)
                if variable.default_value is not None:
                    _check_literal(variable.default_value)
            root_fields = max(root_fields, shape.keys.total())
        elif isinstance(definition, FragmentDefinitionNode):
            fragments += 1
            shape = walk.fragment(definition.name.value, 1)
        else:
            continue
        worst.depth = max(worst.depth, shape.depth)
        worst.fields = max(worst.fields, shape.fields)
        worst.aliases = max(worst.aliases, shape.aliases)
        worst.directives = max(worst.directives, shape.directives)
        worst.repeats = max(worst.repeats, shape.repeats)
        worst.introspection |= shape.introspection  # Counter union keeps the larger count
        page_variables |= shape.page_variables
    return DocumentShape(worst, root_fields, fragments, frozenset(page_variables))


def check_shape(shape: DocumentShape, limits: Limits) -> None:
    """Refuse the first limit the document breaks, naming the measure and the limit."""
    worst = shape.worst
    measures: tuple[tuple[int, int, type[ClientError], str], ...] = (
        (worst.depth, limits.max_depth, QueryTooDeep, "The query nests fields {} levels deep"),
        (
            worst.fields,
            limits.max_fields,
            QueryTooLarge,
            "The query selects {} fields once its fragments are inlined",
        ),
        (
            shape.fragments,
            limits.max_fragments,
            QueryTooLarge,
            "The document defines {} fragments",
        ),
        (worst.aliases, limits.max_aliases, TooManyAliases, "The query uses {} aliases"),
        (
            shape.root_fields,
            limits.max_root_fields,
            TooManyRootFields,
            "The operation selects {} root fields",
        ),
        (
            worst.directives,
            limits.max_directives,
            TooManyDirectives,
            "The query uses {} directives",
        ),
        (
            worst.repeats[0],
            limits.max_repeated_fields,
            QueryTooLarge,
            f"The query selects `{worst.repeats[1]}` {{}} times in one place "
            "once its fragments are inlined",
        ),
    )
    for value, limit, refusal, wording in measures:
        if value > limit:
            raise refusal(f"{wording.format(f'{value:,}')}; the limit is {limit:,}.")
    introspection = worst.introspection
    if introspection and not limits.introspection:
        raise IntrospectionDisabled("Introspection is disabled on this server.")
    repeated = sorted(name for name, count in introspection.items() if count > 1)
    if repeated:
        raise QueryTooComplex(
            f"Introspection may ask for each of its lists once per query; "
            f"`{repeated[0]}` is asked for {introspection[repeated[0]]:,} times."
        )
