"""Assertions shared by the test modules."""

from __future__ import annotations

from typing import Any


def assert_bad_input(body: dict[str, Any], path: list[str], *fragments: str) -> None:
    """One BAD_USER_INPUT error at `path` whose message says what is wrong."""
    [error] = body["errors"]
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert error["path"] == path
    for fragment in fragments:
        assert fragment in error["message"], error["message"]
