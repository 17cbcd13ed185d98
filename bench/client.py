"""One GraphQL POST over loopback, for readiness, checks and the counted runs (not for timing)."""

from __future__ import annotations

import http.client
import json
from dataclasses import dataclass
from typing import Any

from bench.processes import Started, wait_for

LOOPBACK = "127.0.0.1"


@dataclass(frozen=True)
class Answer:
    status: int
    headers: dict[str, str]  # lower-cased names
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


class CheckFailed(Exception):
    """A response was not a clean answer; the benchmark of that query is skipped."""


def post(port: int, body: bytes, timeout: float = 120.0) -> Answer:
    connection = http.client.HTTPConnection(LOOPBACK, port, timeout=timeout)
    try:
        connection.request(
            "POST",
            "/graphql",
            body=body,
            headers={"Content-Type": "application/json", "Accept": "application/json"},
        )
        response = connection.getresponse()
        return Answer(
            response.status,
            {name.lower(): value for name, value in response.getheaders()},
            response.read(),
        )
    finally:
        connection.close()


def checked_data(answer: Answer) -> Any:
    """The `data` of a 200 answer without `errors`, else CheckFailed saying what was wrong."""
    if answer.status != 200:
        raise CheckFailed(f"status {answer.status}: {answer.body[:300]!r}")
    try:
        document = answer.json()
    except ValueError:
        raise CheckFailed(f"not JSON: {answer.body[:300]!r}") from None
    if document.get("errors"):
        raise CheckFailed(f"errors: {json.dumps(document['errors'])[:300]}")
    if document.get("data") is None:
        raise CheckFailed("no data")
    return document["data"]


def wait_until_answering(server: Started, port: int, seconds: float = 180.0) -> None:
    """Until the server answers any HTTP at all (or dies, or `seconds` pass)."""
    probe = json.dumps({"query": "{ __typename }"}).encode()
    for _ in wait_for(seconds):
        if server.process.poll() is not None:
            raise CheckFailed(f"{server.label} exited at start:\n{server.log_tail()}")
        try:
            post(port, probe, timeout=5)
            return
        except OSError:
            continue
    raise CheckFailed(f"{server.label} did not answer within {seconds:.0f} s:\n{server.log_tail()}")
