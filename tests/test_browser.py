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

from tests.assertions import contrast
from tests.serving import OUTPUT, drive, served


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
