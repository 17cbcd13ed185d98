"""Which database failures are a 503 to try again (db/errors.py), and which stay our bug."""

from __future__ import annotations

import pytest
from sqlalchemy import exc

from core.errors import DatabaseUnavailable, QueryTimeout
from db.errors import as_unavailable


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
