"""Assertions shared by the test modules."""

from __future__ import annotations

from typing import Any

import pytest


def assert_bad_input(body: dict[str, Any], path: list[str], *fragments: str) -> None:
    """One BAD_USER_INPUT error at `path` whose message says what is wrong."""
    [error] = body["errors"]
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert error["path"] == path
    for fragment in fragments:
        assert fragment in error["message"], error["message"]


def without_cost(body: dict[str, Any]) -> dict[str, Any]:
    """The body minus `extensions.cost`, once that report is checked to hold together.

    An executed query reports its estimate, what it actually fetched and the budget; it
    never fetches more than estimated (the estimate is what refusals are based on). One with
    errors reports no `actual` (what the fields an error stopped had fetched is timing's).
    """
    body = dict(body)
    extensions = dict(body.pop("extensions", {}))
    cost = extensions.pop("cost", None)
    if extensions:
        body["extensions"] = extensions
    if "data" in body and cost is None:
        assert "__schema" in str(body) or body["data"] is None, "no cost reported"
    if cost is not None:
        assert set(cost) <= {"estimated", "actual", "budget"}, cost
        assert cost["estimated"] >= 0, cost
        if "errors" in body:
            assert "actual" not in cost, cost
        elif "data" in body:
            assert 0 <= cost["actual"] <= cost["estimated"] <= cost["budget"], cost
    return body


def spied(monkeypatch: pytest.MonkeyPatch, owner: object, name: str, nth: int = 0) -> list[Any]:
    """The `nth` argument of every call to `owner.name` while the test runs (it still runs)."""
    calls: list[Any] = []
    real = getattr(owner, name)

    def spy(*args: Any, **kwargs: Any) -> Any:
        calls.append(args[nth])
        return real(*args, **kwargs)

    monkeypatch.setattr(owner, name, spy)
    return calls
