"""Assertions shared by the test modules."""

from __future__ import annotations

import re
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


def relative_luminance(rgb: str) -> float:
    """WCAG 2's relative luminance of a computed `rgb(r, g, b)`."""
    channels = [int(value) / 255 for value in re.findall(r"\d+", rgb)[:3]]
    linear = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(one: str, other: str) -> float:
    """WCAG 2's contrast ratio of two computed colours (opaque)."""
    lighter, darker = sorted((relative_luminance(one), relative_luminance(other)), reverse=True)
    return (lighter + 0.05) / (darker + 0.05)
