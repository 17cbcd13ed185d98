"""GraphiQL in a real browser: Debian's chromium, driven by playwright-core
(tests/browser/), with every request to another host aborted. The page must load from this
server alone, open with the Docs shown (a wide screen's first visit; closed they stay closed, and
a narrow screen opens without them), run the query it opens on with the headers typed in its
editor, show the answer and keep the run in its history, all under a CSP that lets no inline
script run but its own (and refuses nothing it does), asking for nothing missing. The
screenshot is kept in test-output/ (ignored by git). A link naming a query and its variables
opens on them, and the address follows the editors. The keyboard alone leaves an editor
(Escape, then Tab) and reaches every control."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler

from tests.assertions import contrast
from tests.serving import OUTPUT, drive, http_server, served


def test_graphiql_runs_the_traversal_offline_in_chromium(tmp_path):
    screenshot = OUTPUT / "graphiql.png"
    with served(tmp_path) as base:
        seen = drive("graphiql.mjs", f"{base}/graphql", str(screenshot))
    assert seen["aborted"] == []  # the page asked nothing of another host
    assert seen["errors"] == []
    assert '"name": "Sony Music"' in seen["result"]
    assert '"foundedYear": 1929' in seen["result"]
    assert "Query" in seen["docs"]  # a first visit on a wide screen: the Docs open on the roots
    assert seen["docsWidth"] > 200
    assert seen["keptAtFirst"] is None  # opened by the page: not kept as the user's choice
    assert seen["docsAfterClosing"] is False  # the user closed them: a reload keeps them closed
    assert seen["docsWhenNarrow"] is False  # a narrow screen's first visit: the editors alone
    assert seen["onPhone"]["result"] > 200  # 320 px wide: the answer shown (it had no width)
    assert seen["onPhone"]["across"] <= 320  # below the editors, the page scrolling down
    assert seen["sent"] == ["headers-editor"]  # the headers editor's header went with the run
    assert "Traversal" in seen["history"]
    assert "Traversal" in seen["kept"]["graphiql:queries"]  # the history is kept...
    assert "Traversal" in seen["stored"]["graphiql:favorites"]  # ...and a run starred in it,
    for stored in (seen["kept"], seen["stored"]):  # without a run's headers
        assert not [key for key, value in stored.items() if "headers-editor" in value]
        assert not [key for key, value in stored.items() if "X-Check" in value]
    assert screenshot.stat().st_size > 10_000
    assert seen["failed"] == []  # nothing it asked for was missing (its icon: no /favicon.ico)
    assert seen["refused"] == []  # loading, running and the Docs needed nothing the CSP refuses
    linking = seen["linking"]  # a link's query and variables open, run, and follow an edit
    assert linking["linkedEditor"] == "query Linked($n: Int) { programs(first: $n) { totalCount } }"
    assert [run["variables"] for run in linking["linkedRuns"]] == [{"n": 2}]
    assert '"totalCount": 23' in linking["linkedResult"]
    assert linking["followed"]["query"].endswith("{ totalCount } } # edited")
    assert linking["followed"]["variables"] == '{"n": 2}'
    keyboard = seen["keyboard"]  # the editors can be left, and the rest reached, by keys alone
    assert "__typename" in keyboard["earlier"]  # a favourite kept by an earlier page stays,
    assert "Bearer old" not in keyboard["earlier"]  # its headers dropped as the page opens
    assert "?" not in keyboard["plainAddress"]  # (the welcome query is not written in it)
    assert keyboard["first"] == "Skip to the query editor"
    assert keyboard["skipped"]  # Enter on it: in the query editor
    assert keyboard["tabbed"]["indented"]
    assert keyboard["tabbed"]["focus"]["inEditor"]
    assert keyboard["left"]["run"]  # Escape, Tab: the next control is the run button
    assert [step["label"] for step in keyboard["reached"]][3:6] == [
        "Variables",
        "Headers",
        "Hide editor tools",
    ]
    last = keyboard["reached"][-1]  # and Tab goes on into the variables editor
    assert last["inEditor"]
    assert last["editor"] == "graphiql-editor-tool"
    assert not keyboard["leftBack"]["inEditor"]  # Escape, Shift-Tab: backwards out of it
    assert keyboard["afterHints"]["inEditor"]  # an Escape closing completions is theirs
    assert len(seen["colours"]) > 5
    for shown in seen["colours"]:  # the Docs' type links and the result: AA contrast
        assert contrast(shown["color"], shown["background"]) >= 4.5, shown
    scripts = directives(seen["csp"])["script-src"]
    assert scripts[0] == "'self'"
    assert [source.startswith("'sha256-") for source in scripts[1:]] == [True]  # its own script


def directives(policy: str) -> dict[str, list[str]]:
    """A Content-Security-Policy's directives by name, each with its sources."""
    parts = (directive.split() for directive in policy.split(";") if directive.strip())
    return {name: sources for name, *sources in parts}


def test_a_page_on_another_origin_reads_answers_revalidations_and_refusals(tmp_path):
    """What a frontend app on its own origin gets with fetch(), CORS on: every answer's
    status, body and exposed headers. The browser revalidates the copy it keeps (304 over the
    wire) and hands the page `X-Cache: revalidated` from the 304, not the copy's `miss`; a
    page keeping its own copy may send `If-None-Match` (allowed by default) and reads the 304;
    a refused query's code is read, not a network error."""
    with page_server() as page, served(tmp_path, {"IMPACT_GRAPH_CORS_ORIGINS": page}) as base:
        seen = drive("cross_origin.mjs", f"{base}/graphql", page + "/")
    first, again, own, refused = (seen[key] for key in ("first", "again", "own", "refused"))
    assert first["status"] == 200, first
    assert json.loads(first["body"])["data"] == {"company": {"name": "Sony Music"}}
    assert (first["headers"]["x-cache"], first["headers"]["x-executor"]) == ("miss", "compiled")
    assert first["headers"]["etag"].startswith('"')
    assert seen["wire"].count(304) == 2  # the browser's revalidation, and the page's own
    assert (again["status"], again["body"]) == (200, first["body"])  # the browser's copy
    assert again["headers"]["x-cache"] == "revalidated"
    assert again["headers"]["x-request-id"] != first["headers"]["x-request-id"]
    assert (own["status"], own["body"]) == (304, "")
    assert refused["status"] == 200, refused  # fetch accepts anything (`*/*`): JSON's status
    assert refused["headers"]["content-type"] == "application/json"
    [error] = json.loads(refused["body"])["errors"]
    assert error["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
    assert error["message"].startswith("Cannot query field 'nope' on type 'Query'.")


@contextmanager
def page_server() -> Iterator[str]:
    """An empty page on an origin of its own (another port): the frontend app's."""

    class Page(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = b"<!doctype html><title>app</title>"
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass  # (the test's output is its assertions)

    with http_server(Page) as url:
        yield url
