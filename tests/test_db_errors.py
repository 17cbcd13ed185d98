"""Which database failures are a 503 to try again (db/errors.py), and which stay our bug."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import exc

from core.coalesce import Coalesced
from core.errors import DatabaseUnavailable, QueryTimeout
from db.errors import StoreFailures, as_unavailable


class Failure(Exception):
    """A driver's error carrying PostgreSQL's SQLSTATE, as asyncpg's do."""

    def __init__(self, sqlstate: str) -> None:
        super().__init__(f"SQLSTATE {sqlstate}")
        self.sqlstate = sqlstate


def failed(sqlstate: str) -> exc.DBAPIError:
    return exc.DBAPIError("SELECT 1", {}, Failure(sqlstate))


@pytest.mark.parametrize(
    "sqlstate",
    [
        pytest.param("08006", id="connection-failure"),
        pytest.param("53300", id="too-many-connections"),
        pytest.param("57P01", id="admin-shutdown"),
        pytest.param("40001", id="standby-conflict-with-recovery"),
        pytest.param("40P01", id="deadlock-detected"),
        pytest.param("28P01", id="password-refused"),
        pytest.param("28000", id="role-refused"),
        pytest.param("3D000", id="database-not-there"),
    ],
)
def test_a_failure_of_the_database_is_unavailable(sqlstate: str) -> None:
    assert isinstance(as_unavailable(failed(sqlstate)), DatabaseUnavailable)


def test_a_statement_cancelled_by_its_timeout_is_a_query_timeout() -> None:
    assert isinstance(as_unavailable(failed("57014")), QueryTimeout)


@pytest.mark.parametrize(
    "sqlstate",
    [
        pytest.param("42703", id="undefined-column"),
        pytest.param("42601", id="syntax-error"),
        pytest.param("22003", id="numeric-out-of-range"),
    ],
)
def test_a_bad_statement_stays_our_bug(sqlstate: str) -> None:
    assert as_unavailable(failed(sqlstate)) is None


class Checks:
    """What the store says of its migrations, and how often it was asked."""

    def __init__(self, behind: bool) -> None:
        self.behind = behind
        self.asked = 0

    async def __call__(self) -> bool:
        self.asked += 1
        await asyncio.sleep(0.01)
        return self.behind


MISSING = [
    pytest.param(failed("42P01"), id="undefined-table"),
    pytest.param(failed("42703"), id="undefined-column"),
    pytest.param(failed("42883"), id="undefined-function"),  # an extension not yet created
    pytest.param(failed("42704"), id="undefined-object"),  # its operator class, a collation
    pytest.param(
        exc.OperationalError("SELECT", {}, Exception("no such table: store_state")),
        id="sqlite-no-such-table",
    ),
]


@pytest.mark.parametrize("error", MISSING)
async def test_a_missing_table_is_unavailable_while_the_store_lacks_a_migration(error) -> None:
    checks = Checks(behind=True)
    failures = StoreFailures(Coalesced(checks, 2))
    found = await asyncio.gather(*(failures.unavailable(error) for _ in range(5)))
    found.append(await failures.unavailable(error))  # within the second: not asked again
    assert all(isinstance(each, DatabaseUnavailable) for each in found)
    assert checks.asked == 1


@pytest.mark.parametrize("error", MISSING)
async def test_a_missing_table_on_a_store_that_has_every_migration_stays_our_bug(error) -> None:
    assert await StoreFailures(Coalesced(Checks(behind=False), 2)).unavailable(error) is None
    assert await StoreFailures().unavailable(error) is None  # none to ask


async def test_a_check_that_fails_says_nothing() -> None:
    async def broken() -> bool:
        raise OSError("refused")

    assert await StoreFailures(Coalesced(broken, 2)).unavailable(failed("42P01")) is None


async def test_other_failures_are_told_without_asking_the_store() -> None:
    checks = Checks(behind=True)
    failures = StoreFailures(Coalesced(checks, 2))
    assert isinstance(await failures.unavailable(failed("08006")), DatabaseUnavailable)
    assert await failures.unavailable(failed("42601")) is None  # a syntax error: ours
    assert checks.asked == 0


async def test_a_check_says_nothing_past_the_request_s_deadline() -> None:
    """A check slower than what is left of the request is not waited for: the request's
    own timeout, not the check, decides when it ends."""

    async def slow() -> bool:
        await asyncio.sleep(5)
        return True

    failures = StoreFailures(Coalesced(slow, 10))
    started = asyncio.get_running_loop().time()
    found = await failures.unavailable(failed("42P01"), started + 0.2)
    assert found is None
    assert asyncio.get_running_loop().time() - started < 2
    await failures.aclose()
