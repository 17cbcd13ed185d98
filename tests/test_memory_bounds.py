"""What the process keeps stays within its bounds in memory, not only in what it counts: a
soak of unique requests found the response cache holding ~8x its byte bound (orjson's bytes
keep their whole buffer), ~48x with long operation names (not weighed), and the compiled
statements held ~650 MB (bounded by count)."""

from __future__ import annotations

import gc
import tracemalloc

import orjson
from graphql import OperationType
from sqlalchemy.ext.asyncio import create_async_engine

from compiled import executor as compiled_executor
from compiled.executor import CompiledExecutor
from core.limits import Limits
from db.raw import Statements
from operation.prepare import DocumentCache, OperationRequest, prepare
from server.answers import CachedAnswer, LocalAnswers
from server.app import CONTRACT
from server.caching import AnswerKey
from tests.conftest import Store, make_client


def _key(number: int) -> AnswerKey:
    return AnswerKey(f"{number:064x}", 1)


def test_a_kept_answer_takes_its_own_size():
    """orjson's bytes keep the buffer they were written in: 4 KiB for a ~30-byte answer."""
    answers = LocalAnswers(64 * 1024 * 1024)
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for number in range(1000):
            body = orjson.dumps({"data": {f"a{number}": "Query"}})
            answers.put(_key(number), CachedAnswer(body, "compiled", 0, None))
        del body
        gc.collect()
        grown = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert grown < 1000 * 1024, grown  # measured ~0.35 MB; the buffers were ~4.1 MB
    assert answers.get(_key(999)) is not None


def test_an_answers_operation_name_counts_against_the_bound():
    """A name may be ~20,000 characters; kept unweighed, 1 MiB of answers held ~48 MiB."""
    answers = LocalAnswers(1024 * 1024)
    for number in range(200):
        name = "N" * 19_000 + str(number)
        answers.put(_key(number), CachedAnswer(b'{"data":{}}', "compiled", 0, name))
    kept = sum(answers.get(_key(number)) is not None for number in range(200))
    assert 0 < kept <= 1024 * 1024 // 19_000


def _query(width: int) -> str:
    """A document whose statement grows with `width` (its own shape, so its own statement)."""
    fields = " ".join(
        f"p{i}: programs(first: {i + 1}) {{ nodes {{ id name }} }}" for i in range(width)
    )
    return f"{{ companies(first: 1) {{ nodes {{ {fields} }} }} }}"


def _planner() -> CompiledExecutor:
    """A compiled executor for a SQLite store, to plan with (nothing connects)."""
    engine = create_async_engine("sqlite+aiosqlite://")
    return CompiledExecutor(CONTRACT, engine.dialect, Statements(engine, 1, 1.0))


def test_compiled_statements_are_kept_within_a_bound_of_their_sql(monkeypatch):
    """Kept by count (512), wide statements held ~650 MB; now by characters of their SQL."""
    documents = DocumentCache()
    limits = Limits()

    def plan(executor: CompiledExecutor, query: str) -> object:
        request = OperationRequest(query, None, None, frozenset(OperationType))
        found = executor.plan(prepare(CONTRACT, documents, request, limits), None)
        assert found is not None
        return found.compiled

    first_executor = _planner()
    sizes = [len(plan(first_executor, _query(width)).sql.text) for width in (3, 4, 5)]
    monkeypatch.setattr(compiled_executor, "STATEMENT_CACHE_CHARACTERS", sizes[1] + sizes[2])
    monkeypatch.setattr(compiled_executor, "PLAN_CACHE_CHARACTERS", 1)  # no plan kept
    executor = _planner()
    made = [plan(executor, _query(width)) for width in (3, 4, 5)]
    assert plan(executor, _query(5)) is made[2]  # kept: the statement is not compiled again
    assert plan(executor, _query(4)) is made[1]
    assert plan(executor, _query(3)) is not made[0]  # pushed out by the other two


def test_plans_are_kept_within_a_bound_of_their_documents(monkeypatch):
    """A plan's key holds its document's text (up to 20,000 characters) and variables: by
    count, 512 of them were kept whatever their size."""
    documents = DocumentCache()
    one = len(_query(1)) + len(b"null") + compiled_executor.PLAN_OVERHEAD
    monkeypatch.setattr(compiled_executor, "PLAN_CACHE_CHARACTERS", 2 * one + 3)  # the last two
    executor = _planner()

    def plan(query: str) -> object:
        request = OperationRequest(query, None, None, frozenset(OperationType))
        return executor.plan(prepare(CONTRACT, documents, request, Limits()), None)

    made = [plan(query) for query in (_query(1), _query(1) + " ", _query(1) + "  ")]
    assert plan(_query(1) + "  ") is made[2]
    assert plan(_query(1) + " ") is made[1]
    assert plan(_query(1)) is not made[0]  # pushed out by the other two


def test_a_plan_is_kept_and_found_again():
    executor = _planner()
    documents = DocumentCache()
    request = OperationRequest(_query(1), None, None, frozenset(OperationType))
    operation = prepare(CONTRACT, documents, request, Limits())
    assert executor.plan(operation, None) is executor.plan(operation, None)


def test_parsed_documents_are_bounded_by_count_too():
    """Short documents by the thousand fit the bound in characters many times over: each
    parsed one holds far more than its text, so they are kept by count as well."""
    documents = DocumentCache(max_characters=100_000, max_entries=10)
    queries = [f"{{ a{i}: __typename }}" for i in range(20)]
    for query in queries:
        documents.prepare(query, 100)
    for query in queries[10:]:  # the last ten are kept
        documents.prepare(query, 100)
    assert (documents.hits, documents.misses) == (10, 20)
    documents.prepare(queries[0], 100)  # the first ten were not
    assert (documents.hits, documents.misses) == (10, 21)


async def test_posts_read_before_routing_are_remembered_only_when_small(store: Store):
    """The POSTs read before routing are remembered (their bytes and what was read of them)
    only up to a few KiB each: 256 large bodies would hold ~50 MB (mutation review: with no
    bound on a body's size, each request below kept its ~100 KiB)."""
    pad = "x" * 50_000
    async with make_client(store.engine, cache=False) as http:
        gc.collect()
        tracemalloc.start()
        try:
            before = tracemalloc.get_traced_memory()[0]
            for number in range(100):
                body = {"query": "{ __typename }", "variables": {"pad": f"{number}{pad}"}}
                answer = await http.post("/graphql", json=body)
                assert answer.status_code == 200, answer.text
            del answer
            gc.collect()
            grown = tracemalloc.get_traced_memory()[0] - before
        finally:
            tracemalloc.stop()
    assert grown < 4 * 1024 * 1024, grown  # ~10 MB kept when every body is remembered
