"""The explorer at `/`: served with a strict CSP and nothing from another host; its operations
run by hash alone, with a trusted documents' manifest too; and, in chromium, its tree, map and
quotes show what the API answers for the same program, and what goes wrong (a node gone, a
failed load, long words) is shown in plain words."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest

from server.explorer import ASSETS_DIR, OPERATIONS_DIR
from tests.assertions import contrast
from tests.conftest import make_client
from tests.serving import OUTPUT, drive, drive_module, served

BROWSER_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
DATA_BLOCK = re.compile(r'<script type="application/json" id="operations">(.*?)</script>', re.S)


def carried_operations(page: str) -> dict[str, Any]:
    found = DATA_BLOCK.search(page)
    assert found, "the page carries its operations"
    return dict(json.loads(found.group(1)))


def persisted(name: str, digest: str, variables: dict[str, Any] | None = None) -> dict[str, str]:
    """A hash-only GET's parameters, as the page sends them."""
    params = {
        "operationName": name,
        "extensions": json.dumps({"persistedQuery": {"version": 1, "sha256Hash": digest}}),
    }
    if variables:
        params["variables"] = json.dumps(variables)
    return params


async def test_the_page_is_served_with_a_strict_csp_and_only_its_own_files(client):
    page = await client.get("/", headers={"accept": BROWSER_ACCEPT})
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    policy = page.headers["content-security-policy"]
    assert "default-src 'self'" in policy
    assert "script-src 'self';" in policy
    assert "'unsafe-inline'" not in policy
    assert "'unsafe-eval'" not in policy
    assert "frame-ancestors 'none'" in policy
    assert page.headers["x-content-type-options"] == "nosniff"
    # No inline script or style: each script is a file or a JSON data block.
    for attributes in re.findall(r"<script([^>]*)>", page.text):
        assert "src=" in attributes or 'type="application/json"' in attributes
    assert "<style" not in page.text
    assert " style=" not in page.text
    named = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert not [url for url in named if "//" in url]  # nothing from another host
    assert "/graphql" in named  # a way to GraphiQL
    types = {".js": "text/javascript", ".css": "text/css", ".svg": "image/svg+xml"}
    script = ""
    for url in (url for url in named if url.startswith("/explorer/")):
        served_file = await client.get(url)
        assert served_file.status_code == 200, url
        assert served_file.content == (ASSETS_DIR / url.removeprefix("/explorer/")).read_bytes()
        assert served_file.headers["content-type"].startswith(types[url[url.rindex(".") :]])
        script += served_file.text if url.endswith(".js") else ""
    for url in re.findall(r'"(/explorer/[^"]+)"', script):  # what the script fetches
        assert (await client.get(url)).status_code == 200, url
    assert "innerHTML" not in script  # text from the API goes in as text
    assert not re.findall(r"https?://(?!www\.w3\.org/2000/svg)", script)
    # GraphiQL keeps its inline script (allowed by its hash) and inline styles: the explorer's
    # policy is its own (tests/test_http.py checks GraphiQL's)
    graphiql = await client.get("/graphql", headers={"accept": BROWSER_ACCEPT})
    assert graphiql.headers["content-security-policy"] != policy


async def test_the_page_carries_each_operation_with_its_hash(client):
    page = await client.get("/")
    carried = carried_operations(page.text)
    files = {
        path.stem: path.read_text(encoding="utf-8") for path in OPERATIONS_DIR.glob("*.graphql")
    }
    assert set(carried) == set(files) == {"Explorer", "Program", "Document"}
    for name, operation in carried.items():
        assert operation["query"] == files[name]
        assert operation["sha256"] == hashlib.sha256(files[name].encode()).hexdigest()
        assert f"query {name}" in files[name]


async def explorer_answers(http: httpx.AsyncClient) -> dict[str, Any]:
    """Each of the page's operations by hash alone, as the page sends them (nothing registered)."""
    carried = carried_operations((await http.get("/")).text)
    answers = {}
    variables: dict[str, dict[str, Any]] = {"Explorer": {}}
    for name in ("Explorer", "Program", "Document"):
        response = await http.get(
            "/graphql", params=persisted(name, carried[name]["sha256"], variables[name])
        )
        assert response.status_code == 200, response.text
        body = response.json()
        assert "errors" not in body, body
        answers[name] = body["data"]
        if name == "Explorer":
            program = body["data"]["companies"]["nodes"][0]["programs"]["nodes"][0]
            variables["Program"] = {"id": program["id"]}
            document = program["citations"][0]["document"]
            variables["Document"] = {"id": document["id"]}
    return answers


async def test_the_explorers_operations_run_by_hash_alone(client):
    answers = await explorer_answers(client)
    assert answers["Explorer"]["companies"]["nodes"][0]["name"] == "Sony Music"
    program_id = answers["Program"]["node"]["id"]
    plain = await client.post(
        "/graphql",
        json={
            "query": "query($id: ID!) "
            "{ node(id: $id) { ... on Program { partners { totalCount } } } }",
            "variables": {"id": program_id},
        },
    )
    assert (
        answers["Program"]["node"]["partners"]["totalCount"]
        == (plain.json()["data"]["node"]["partners"]["totalCount"])
    )
    assert answers["Document"]["node"]["text"]


async def test_with_trusted_documents_the_explorer_still_runs(store, tmp_path):
    query = '{ company(slug: "sony-music") { name } }'
    path = tmp_path / "manifest.json"
    path.write_text(json.dumps({hashlib.sha256(query.encode()).hexdigest(): query}))
    async with make_client(store.engine, trusted_documents=path) as http:
        answers = await explorer_answers(http)
        assert answers["Explorer"]["companies"]["nodes"][0]["name"] == "Sony Music"
        whole = carried_operations((await http.get("/")).text)["Explorer"]["query"]
        sent = await http.post("/graphql", json={"query": whole})
        assert sent.json()["data"]["companies"]["nodes"][0]["name"] == "Sony Music"
        other = await http.post("/graphql", json={"query": "{ companies { totalCount } }"})
        assert other.status_code == 400
        assert other.json()["errors"][0]["extensions"]["code"] == "OPERATION_NOT_TRUSTED"


# What the test asks the API itself, apart from the page's own operations (pages as large).
PROGRAM_QUERY = """
query Expected($id: ID!) {
  node(id: $id) {
    ... on Program {
      citations { ...Cited }
      provenance { ...Basis }
      partners(first: 50) {
        edges {
          citations { ...Cited context(characters: 100) { before quote after } }
          provenance { ...Basis }
          node {
            id name citations { ...Cited } provenance { ...Basis }
            locations(first: 10) {
              edges { citations { ...Cited } provenance { ...Basis } node { ...Place } }
            }
          }
        }
      }
      locations(first: 100) {
        edges { citations { ...Cited } provenance { ...Basis } node { ...Place } }
      }
    }
  }
}
fragment Place on Location {
  id name kind countryCode citations { ...Cited } provenance { ...Basis }
}
fragment Cited on Citation { quote document { title } }
fragment Basis on Provenance { basis note source fields { field basis note source } }
"""
OVERVIEW_QUERY = """{
  companies(first: 10) { nodes { programs(first: 100) { nodes { id parent { id } } } } }
  locations(first: 100) { nodes { id kind countryCode } }
}"""


def ask(base: str, query: str, variables: dict[str, Any] | None = None) -> Any:
    answer = httpx.post(f"{base}/graphql", json={"query": query, "variables": variables or {}})
    body = answer.json()
    assert "errors" not in body, body
    return body["data"]


def titles(citations: list[dict[str, Any]]) -> list[str]:
    """How the page titles a quote's button: the quote and its document."""
    return [f"{citation['quote']} ({citation['document']['title']})" for citation in citations]


def labelled(**quotes: list[dict[str, Any]]) -> dict[str, list[str]]:
    return {label.replace("_", " "): titles(cited) for label, cited in quotes.items() if cited}


def expected_places(edges: list[dict[str, Any]], why: str) -> list[dict[str, Any]]:
    return [
        {
            "id": edge["node"]["id"],
            "quotes": labelled(**{why: edge["citations"]}),
            "bases": said(edge["provenance"], edge["node"]["provenance"], why=why),
        }
        for edge in edges
    ]


def shown_places(items: list[dict[str, Any]], api: list[dict[str, Any]]) -> list[dict[str, Any]]:
    for item, edge in zip(items, api, strict=True):
        assert item["name"].startswith(edge["node"]["name"])
    return [{"id": item["id"], "quotes": item["quotes"], "bases": item["bases"]} for item in items]


def rests_on(provenance: dict[str, Any], *, first: bool = True) -> str:
    if provenance["basis"] == "INFERRED":
        return "Inferred, not quoted" if first else "inferred, not quoted"
    return f"From {provenance['source']}" if first else f"from {provenance['source']}"


def said(
    relation: dict[str, Any] | None, item: dict[str, Any], why: str | None = None
) -> list[str]:
    """What the page says the relation (labelled `why`) and the item rest on where it is not
    a quote alone: the basis and its note, then each field's that differs (folded away)."""
    shown = []
    if relation is not None and relation["basis"] != "STATED":
        label = f"{why.replace('_', ' ')}: {rests_on(relation, first=False)}"
        shown.append(f"{label} {relation['note']}" if relation["note"] else label)
    if item["basis"] != "STATED":
        label = rests_on(item)
        shown.append(f"{label} {item['note']}" if item["note"] else label)
    for field in item["fields"]:
        if field["basis"] != "STATED":
            words = re.sub("[A-Z]", lambda letter: f" {letter[0].lower()}", field["field"])
            label = f"{words}: {rests_on(field, first=False)}"
            note = f" {field['note']}" if field["note"] else ""
            shown.append(f"{field['field']} {field['basis']}:{label}{note}")
    return shown


def places_of(node: dict[str, Any]) -> list[dict[str, Any]]:
    own = [edge["node"] for edge in node["locations"]["edges"]]
    partners = node["partners"]["edges"]
    return own + [edge["node"] for p in partners for edge in p["node"]["locations"]["edges"]]


def assert_map_shows(seen: dict[str, Any], places: list[dict[str, Any]], *, chosen: bool) -> None:
    codes = sorted({place["countryCode"] for place in places if place["countryCode"]})
    cities = sorted({place["countryCode"] for place in places if place["kind"] == "CITY"})
    assert seen["selected"] == (codes if chosen else [])
    assert seen["dots"] == cities
    assert seen["listed"] == sorted({place["id"] for place in places})
    for place in places:  # each place listed beside the map opens the quotes that state it
        if "citations" in place:
            expected = [f"{c['quote']} ({c['document']['title']})" for c in place["citations"]]
            assert seen["quoted"][place["id"]] == expected


def test_the_explorer_shows_what_the_api_answers_in_chromium(tmp_path):
    screenshot = OUTPUT / "explorer.png"
    with served(tmp_path) as base:
        overview = ask(base, OVERVIEW_QUERY)
        programs = {
            p["id"]: p for c in overview["companies"]["nodes"] for p in c["programs"]["nodes"]
        }
        expected = {pid: ask(base, PROGRAM_QUERY, {"id": pid})["node"] for pid in programs}

        def path_to(pid: str) -> list[str]:
            parent = programs[pid]["parent"]
            return ([*path_to(parent["id"])] if parent and parent["id"] in programs else []) + [pid]

        # Every program with partners or places, one set up under another, and last the one
        # with the most partners (left open for the screenshot, its first quote opened).
        busy = [
            pid for pid, node in expected.items() if places_of(node) or node["partners"]["edges"]
        ]
        nested = next(pid for pid, program in programs.items() if program["parent"])
        last = max(busy, key=lambda pid: len(expected[pid]["partners"]["edges"]))
        checked = [pid for pid in busy if pid != last] + [nested, last]
        seen = drive(
            "explorer.mjs",
            f"{base}/",
            str(screenshot),
            json.dumps([path_to(pid) for pid in checked]),
        )
        carried = carried_operations(httpx.get(f"{base}/").text)

    assert seen["aborted"] == []  # nothing asked of another host
    assert seen["errors"] == []  # no console errors (CSP violations included) or exceptions
    all_places = overview["locations"]["nodes"]
    assert seen["overview"]["map"]["countries"] > 150
    assert seen["overview"]["map"]["marked"] == sorted(
        {p["countryCode"] for p in all_places if p["countryCode"]}
    )
    assert_map_shows(seen["overview"]["map"], all_places, chosen=False)

    assert [shown["id"] for shown in seen["programs"]] == checked
    for shown in seen["programs"]:
        api = expected[shown["id"]]
        tree = shown["program"]
        assert tree["quotes"] == labelled(Cited=api["citations"])
        assert tree["bases"] == said(None, api["provenance"])
        partner_edges = api["partners"]["edges"]
        assert [partner["id"] for partner in tree["partners"]] == [
            e["node"]["id"] for e in partner_edges
        ]
        for partner, edge in zip(tree["partners"], partner_edges, strict=True):
            assert partner["name"] == edge["node"]["name"]
            assert partner["quotes"] == labelled(
                Why_a_partner=edge["citations"], About=edge["node"]["citations"]
            )
            assert partner["bases"] == said(
                edge["provenance"], edge["node"]["provenance"], why="Why_a_partner"
            )
            api_places = edge["node"]["locations"]["edges"]
            assert shown_places(partner["places"], api_places) == expected_places(
                api_places, "Why_there"
            )
        own = api["locations"]["edges"]
        assert shown_places(tree["places"], own) == expected_places(own, "Why_here")
        assert_map_shows(shown["map"], places_of(api), chosen=True)
        if shown["id"] != last:  # collapsed again: hidden, and the map back to every place
            assert shown["afterCollapse"]["program"]["hidden"]
            assert_map_shows(shown["afterCollapse"]["map"], all_places, chosen=False)

    # What rests on no quote says so (the data has such relations, items and fields)
    shown_bases = [
        basis
        for shown in seen["programs"]
        for listed in (shown["program"]["partners"], shown["program"]["places"])
        for entry in listed
        for basis in entry["bases"] + [b for place in entry["places"] for b in place["bases"]]
    ]
    assert any(basis.startswith("Why a partner: inferred, not quoted ") for basis in shown_bases)
    assert any(basis.startswith("Why here: inferred, not quoted ") for basis in shown_bases)
    assert any(
        basis.startswith("countryCode REFERENCE:country code: from ISO") for basis in shown_bases
    )

    # The first partner's first quote, in its document: the quote marked, with its context.
    citation = expected[last]["partners"]["edges"][0]["citations"][0]
    opened = seen["opened"]
    assert opened["button"] == titles([citation])[0]
    assert opened["mark"] == opened["quote"] == citation["quote"]
    assert opened["markVisible"]
    context = citation["context"]
    assert context["before"] + context["quote"] + context["after"] in opened["text"]
    assert opened["document"].startswith(citation["document"]["title"])
    assert opened["closed"]  # Escape closes it

    # Requests: the page's files, then only its own operations, each by hash alone.
    graphql = [request for request in seen["requests"] if request["path"] == "/graphql"]
    expanded = {pid for pid in checked for pid in path_to(pid)}
    assert len(graphql) == 1 + len(expanded) + 1  # the opening view, each program once, a document
    hashes = {operation["sha256"] for operation in carried.values()}
    for request in graphql:
        assert request["method"] == "GET"
        params = parse_qs(request["query"].removeprefix("?"))
        assert "query" not in params
        assert json.loads(params["extensions"][0])["persistedQuery"]["sha256Hash"] in hashes
    # A server that does not know a hash is sent the document with it, which registers it.
    [registering] = seen["registered"]
    body = json.loads(registering["body"])
    assert body["query"] == carried["Explorer"]["query"]
    assert body["extensions"]["persistedQuery"]["sha256Hash"] == carried["Explorer"]["sha256"]
    assert seen["companies"] == len(overview["companies"]["nodes"])
    assert screenshot.stat().st_size > 10_000
    assert (OUTPUT / "explorer-source.png").stat().st_size > 10_000


# ---- What goes wrong, in chromium: each scenario routes the answers it needs ----------------

# A scenario's frame: the explorer in chromium, every request to another host aborted, the
# page's uncaught errors kept. The scenario is the body of an async function with `page`,
# `base`, `open()` (the page, loaded), `operation(name, answer)` (routes the page's operation
# `name` to `answer(route)`; returns its unrouting) and the answers `gone` and `unavailable`.
SCENARIO = """
import { chromium } from "playwright-core";

const base = BASE;
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM,
  args: ["--no-sandbox"],
});
const errors = [];
try {
  const page = await browser.newPage({ viewport: VIEWPORT });
  page.setDefaultTimeout(8000);
  page.on("pageerror", (error) => errors.push(String(error)));
  await page.route("**/*", (route) =>
    new URL(route.request().url()).origin === base ? route.continue() : route.abort(),
  );
  const open = async () => {
    await page.goto(`${base}/`);
    await page.waitForSelector("body[data-ready]");
  };
  const operation = async (name, answer) => {
    const matches = (url) =>
      url.pathname === "/graphql" && url.searchParams.get("operationName") === name;
    await page.route(matches, answer);
    return () => page.unroute(matches, answer);
  };
  const gone = (route) => route.fulfill({ json: { data: { node: null } } });
  const unavailable = (route) =>
    route.fulfill({
      status: 503,
      contentType: "application/json",
      headers: { "retry-after": "1" },
      body: JSON.stringify({
        errors: [
          {
            message: "the store is unavailable; try again",
            extensions: { code: "SERVICE_UNAVAILABLE" },
          },
        ],
      }),
    });
  const result = await (async () => {
BODY
  })();
  console.log(JSON.stringify({ result, errors }));
} finally {
  await browser.close();
}
"""


ERROR_RED = "rgb(176, 0, 32)"  # .error's colour (explorer.css)


def in_chromium(base: str, body: str, viewport: tuple[int, int] = (1366, 900)) -> Any:
    """What the scenario `body` returns on the explorer at `base`, once the page threw nothing
    uncaught (run from tests/browser/, where playwright-core is)."""
    size = json.dumps({"width": viewport[0], "height": viewport[1]})
    script = (
        SCENARIO.replace("BASE", json.dumps(base)).replace("VIEWPORT", size).replace("BODY", body)
    )
    seen = drive_module(script, timeout=120)
    assert seen["errors"] == [], seen["errors"]  # no uncaught exception in the page
    return seen["result"]


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One server for the scenarios: what each changes, it changes in its own browser."""
    with served(tmp_path_factory.mktemp("explorer")) as url:
        yield url


def test_a_node_gone_from_the_graph_is_said_so_and_not_kept(base):
    # IDs are made of slugs: a re-seed while the page is open can leave one naming nothing.
    seen = in_chromium(
        base,
        """
    await open();
    const id = await page.locator("li.program").first().getAttribute("data-id");
    const program = page.locator(`li.program[data-id="${id}"]`);
    const toggle = program.locator("> .row > .toggle");
    const quote = page.locator("article.company button.quote").first();
    const unroute = [await operation("Program", gone), await operation("Document", gone)];
    await toggle.click();
    await program.locator("> .details > .error").waitFor();
    const programGone = await program.locator("> .details").textContent();
    await quote.click();
    await page.locator("#source-text > .error").waitFor();
    const documentGone = await page.textContent("#source-text");
    await page.keyboard.press("Escape");
    for (const end of unroute) await end();
    // back in the graph (not kept as gone): both load when asked again
    await toggle.click();
    await toggle.click();
    await program.locator("> .details[data-loaded]").waitFor();
    await quote.click();
    await page.locator("#source-text mark").waitFor();
    const selected = await page.getAttribute("li.program.selected", "data-id");
    return { programGone, documentGone, selected, id };
""",
    )
    assert "no longer in the graph" in seen["programGone"]
    assert "no longer in the graph" in seen["documentGone"]
    assert "Cannot read" not in seen["programGone"] + seen["documentGone"]
    assert seen["selected"] == seen["id"]


def test_a_program_that_fails_to_load_is_not_selected(base):
    # Opened, closed and opened again while its details are on their way, which then fail.
    seen = in_chromium(
        base,
        """
    await open();
    const everyPlace = await page.locator("#place-list > li").count();
    const id = await page.locator("li.program").first().getAttribute("data-id");
    const program = page.locator(`li.program[data-id="${id}"]`);
    const toggle = program.locator("> .row > .toggle");
    await operation("Program", async (route) => {
      await new Promise((done) => setTimeout(done, 1000));
      await unavailable(route);
    });
    for (let click = 0; click < 3; click++) await toggle.click();
    await program.locator("> .details > .error").waitFor();
    return {
      error: await program.locator("> .details").textContent(),
      selected: await page.locator("li.program.selected").count(),
      caption: await page.textContent("#map-caption"),
      listed: await page.locator("#place-list > li").count(),
      everyPlace,
    };
""",
    )
    assert "the store is unavailable" in seen["error"]
    assert seen["selected"] == 0
    assert seen["caption"] == "Every place in the graph"
    assert seen["listed"] == seen["everyPlace"]


@pytest.mark.parametrize(
    ("settings", "links"),
    [
        ({}, ["GraphiQL", "Schema"]),
        ({"IMPACT_GRAPH_GRAPHIQL": "false"}, ["Schema"]),
        ({"IMPACT_GRAPH_INTROSPECTION": "false"}, []),  # no GraphiQL and no SDL either
    ],
)
def test_the_page_links_only_what_the_server_serves(tmp_path, settings, links):
    with served(tmp_path, settings) as url:
        page = httpx.get(f"{url}/").text
        seen = in_chromium(
            url,
            """
    await open();
    const links = [];
    for (const link of await page.locator("header a").all())
      links.push({ name: await link.textContent(), href: await link.getAttribute("href") });
    const followed = [];
    for (const { href } of links) {
      const answer = await page.goto(`${base}${href}`);
      followed.push({ status: answer.status(), type: answer.headers()["content-type"] });
    }
    return { links, followed };
""",
        )
    assert [link["name"] for link in seen["links"]] == links
    for followed in seen["followed"]:  # each link opens a page, not an error
        assert followed["status"] == 200
        assert "json" not in followed["type"]
    noscript = re.search(r"<noscript>(.*?)</noscript>", page, re.S)
    assert noscript
    assert "needs JavaScript" in noscript.group(1)
    # a way to the data that needs no script: the SDL where it is served (GraphiQL needs one)
    assert ('href="/graphql/schema.graphql"' in noscript.group(1)) == ("Schema" in links)
    assert ('href="/graphql"' in page) == ("GraphiQL" in links)


def test_the_selected_program_is_named_in_a_colour_of_aa_contrast(base):
    seen = in_chromium(
        base,
        """
    await open();
    await page.locator("li.program > .row > .toggle").first().click();
    const name = page.locator("li.program.selected > .row > .toggle .name");
    await name.waitFor();
    return await name.evaluate((element) => {
      let ground = element;  // the nearest background that is painted
      while (getComputedStyle(ground).backgroundColor === "rgba(0, 0, 0, 0)")
        ground = ground.parentElement;
      return {
        color: getComputedStyle(element).color,
        background: getComputedStyle(ground).backgroundColor,
      };
    });
""",
    )
    assert contrast(seen["color"], seen["background"]) >= 4.5  # WCAG 2 AA, normal text


def test_a_toggle_is_named_by_its_program_and_quotes_are_24_pixel_targets(base):
    """What a screen reader says of a program's toggle is its name (the triangle drawn
    before it is not read), and each quote button is at least 24 by 24 CSS pixels (WCAG
    2.5.8), the page's smallest targets, and says it opens a dialog; a place's kind is read
    apart from its name."""
    seen = in_chromium(
        base,
        """
    await open();
    const toggle = page.locator("li.program > .row > .toggle").first();
    await toggle.click();
    await page.locator("li.program > .details[data-loaded] button.quote").first().waitFor();
    const sizes = await page.locator("button.quote").evaluateAll((buttons) =>
      buttons.filter((b) => b.getClientRects().length).map((b) => b.getBoundingClientRect().height),
    );
    // as chromium's own accessibility tree names it (playwright's own reckoning of names
    // reads no alternative text of generated content)
    const named = await page.accessibility.snapshot({ root: await toggle.elementHandle() });
    const name = await toggle.locator(".name").textContent();
    const popups = await page.locator("button.quote").evaluateAll((buttons) =>
      buttons.map((b) => b.getAttribute("aria-haspopup")),
    );
    const place = await page.locator("#place-list > li").first().textContent();
    return { role: named.role, said: named.name, name, sizes, popups, place };
""",
    )
    assert set(seen["popups"]) == {"dialog"}  # each opens its quote's document, a dialog
    assert re.match(r".+\) (country|city|region)", seen["place"]), seen["place"]  # read apart
    assert seen["role"] == "button"
    assert seen["said"] == seen["name"]
    assert seen["sizes"]
    assert min(seen["sizes"]) >= 24


def test_long_words_stay_within_the_page(base):
    # A name of 600 letters without a space, URLs in a description and in a quote, a long
    # document title: each breaks where it must, on a phone's width.
    seen = in_chromium(
        base,
        """
    const word = "W".repeat(600);
    const url = `https://example.org/${"a".repeat(300)}`;
    const lengthen = (change) => async (route) => {
      const { data } = await (await route.fetch()).json();
      change(data);
      await route.fulfill({ json: { data } });
    };
    await operation("Explorer", lengthen((data) => {
      const company = data.companies.nodes[0];
      Object.assign(company, { name: word, description: `See ${url}` });
      Object.assign(company.programs.nodes[0], { name: word, description: url });
      Object.assign(company.citations[0], { quote: url });
      company.citations[0].document.title = word;
      data.locations.nodes[0].name = word;
    }));
    await operation("Program", lengthen((data) => {
      data.node.partners.edges[0].node.name = word;
    }));
    await operation("Document", lengthen((data) => {
      Object.assign(data.node, { title: word, publisher: word, text: `${data.node.text} ${url}` });
    }));
    const wide = (selector) =>
      page.locator(selector).evaluate((element) => element.scrollWidth - element.clientWidth);
    await open();
    await page.locator("li.program > .row > .toggle").first().click();
    await page.locator("li.program > .details[data-loaded]").first().waitFor();
    const tree = await wide("html");
    await page.locator("article.company button.quote").first().click();
    await page.locator("#source-text mark").waitFor();
    return { tree, dialog: await wide("#source"), withDialog: await wide("html") };
""",
        viewport=(375, 800),
    )
    assert seen == {"tree": 0, "dialog": 0, "withDialog": 0}


def test_a_first_load_that_fails_is_an_alert_with_a_way_to_try_again(base):
    seen = in_chromium(
        base,
        """
    let failed = false;
    await operation("Explorer", (route) => {
      if (failed) return route.continue();
      failed = true;
      return unavailable(route);
    });
    await page.goto(`${base}/`);
    const alert = page.locator(".tree [role=alert]");
    await alert.waitFor();
    const shown = {
      alert: await alert.textContent(),
      color: await alert.evaluate((element) => getComputedStyle(element).color),
      status: await page.textContent("#status"),
    };
    await alert.getByRole("button", { name: "Try again" }).click();
    await page.waitForSelector("body[data-ready]");
    return {
      ...shown,
      companies: await page.locator("article.company").count(),
      alerts: await page.locator(".tree [role=alert]").count(),
    };
""",
    )
    assert "the store is unavailable" in seen["alert"]
    assert seen["color"] == ERROR_RED  # not the grey of a status
    assert "unavailable" not in seen["status"]
    assert seen["companies"] >= 1  # the retry loaded the graph
    assert seen["alerts"] == 0


def test_a_server_out_of_reach_is_said_in_words(base):
    """A request that never reached the server (down, the network gone) is said so, not in
    the browser's words ("Failed to fetch")."""
    seen = in_chromium(
        base,
        """
    await operation("Explorer", (route) => route.abort("connectionrefused"));
    await page.goto(`${base}/`);
    const alert = page.locator(".tree [role=alert]");
    await alert.waitFor();
    return await alert.textContent();
""",
    )
    assert "the server could not be reached" in seen
    assert "fetch" not in seen.lower()


# ---- Links: the selected program in the URL, and the history ---------------------------------

LISTED_QUERY = """{
  companies(first: 10) { nodes { programs(first: 100) { nodes { id slug name parent { id } } } } }
}"""

# What the page shows of the selection: the programs selected and open, whether the selected
# one's details are loaded and shown, the map's caption, the alerts and the URL's fragment.
VIEW = """
  const view = (on = page) => on.evaluate(() => {
    const chosen = document.querySelector("li.program.selected");
    return {
      selected: [...document.querySelectorAll("li.program.selected")].map((li) => li.dataset.id),
      open: [...document.querySelectorAll(".toggle[aria-expanded=true]")].map(
        (toggle) => toggle.closest("li.program").dataset.id,
      ),
      details: Boolean(chosen?.querySelector(":scope > .details[data-loaded]:not([hidden])")),
      caption: document.getElementById("map-caption").textContent,
      alerts: [...document.querySelectorAll("[role=alert]")].map((alert) => alert.textContent),
      hash: location.hash,
      title: document.title,
    };
  });
  const toggle = (id) => page.locator(`li.program[data-id="${id}"] > .row > .toggle`);
  const selection = (id) => page.locator(`li.program.selected[data-id="${id}"]`).waitFor();
"""


def listed_programs(base: str) -> list[dict[str, Any]]:
    companies = ask(base, LISTED_QUERY)["companies"]["nodes"]
    return [program for company in companies for program in company["programs"]["nodes"]]


def test_a_selected_program_is_in_the_url_and_a_link_to_it_shows_it(base):
    programs = listed_programs(base)
    ids = {program["id"] for program in programs}
    child = next(p for p in programs if p["parent"] and p["parent"]["id"] in ids)
    parent = child["parent"]["id"]
    seen = in_chromium(
        base,
        VIEW
        + f"const parent = {json.dumps(parent)}, child = {json.dumps(child['id'])};"
        + """
    await open();
    await toggle(parent).click();
    await selection(parent);
    await toggle(child).click();
    await selection(child);
    const url = page.url();
    await page.reload();
    await page.waitForSelector("body[data-ready]");
    const reloaded = await view();
    // the link opened afresh (no history kept with it), as from another tab
    const other = await browser.newPage();
    other.on("pageerror", (error) => errors.push(String(error)));
    await other.goto(url);
    await other.waitForSelector("body[data-ready]");
    return { url, reloaded, opened: await view(other) };
""",
    )
    assert seen["url"] == f"{base}/#program={child['slug']}"
    for shown in (seen["reloaded"], seen["opened"]):
        assert shown["selected"] == [child["id"]]
        assert shown["open"] == [parent, child["id"]]  # the program above it opened too
        assert shown["details"]
        assert shown["caption"] == f"Places of {child['name']} and of its partners"
        assert shown["alerts"] == []
        assert shown["hash"] == f"#program={child['slug']}"
        assert shown["title"] == f"{child['name']} · Impact Graph explorer"  # the tab says it


def test_a_program_chosen_while_a_link_loads_stays_chosen(base):
    """The page opened on a link to one program, and the user chose another before the
    first's details came: the user's choice stands, in the page and in the URL (the link's
    view, restored late, had selected the first over it and written it over the URL)."""
    top = [p for p in listed_programs(base) if not p["parent"]]
    first, second = top[:2]
    seen = in_chromium(
        base,
        VIEW
        + f"const first = {json.dumps(first)}, second = {json.dumps(second)};"
        + """
    const theFirst = (url) =>
      url.pathname === "/graphql" &&
      url.searchParams.get("operationName") === "Program" &&
      (url.searchParams.get("variables") || "").includes(first.id);
    await page.route(theFirst, async (route) => {
      await new Promise((resolve) => setTimeout(resolve, 1500));
      await route.continue();
    });
    await page.goto(`${base}/#program=${first.slug}`);
    await toggle(second.id).click();
    await selection(second.id);
    await page.locator(`li.program[data-id="${first.id}"] > .details[data-loaded]`).waitFor();
    await page.waitForSelector("body[data-ready]");
    return await view();
""",
    )
    assert seen["selected"] == [second["id"]]
    assert seen["hash"] == f"#program={second['slug']}"


def test_back_and_forward_show_the_selections_before_and_after(base):
    top = [p["id"] for p in listed_programs(base) if not p["parent"]]
    first, second = top[:2]
    seen = in_chromium(
        base,
        VIEW
        + f"const first = {json.dumps(first)}, second = {json.dumps(second)};"
        + """
    await open();
    const start = await view();
    await toggle(first).click();
    await selection(first);
    await toggle(second).click();
    await selection(second);
    const both = await view();
    await page.goBack();
    await selection(first); // the last step of restoring a view
    const back = await view();
    await page.goForward();
    await selection(second);
    const forward = await view();
    await page.goBack();
    await page.goBack();
    await page.waitForFunction(() => !document.querySelector(".toggle[aria-expanded=true]"));
    const before = await view();
    await toggle(second).click(); // the page works on from there: a new step
    await selection(second);
    return { start, both, back, forward, before, after: await view() };
""",
    )
    assert seen["start"]["selected"] == []
    assert seen["start"]["hash"] == ""
    assert seen["both"]["selected"] == [second]
    assert seen["back"]["selected"] == [first]
    assert seen["back"]["open"] == [first]  # as it was before the second was opened
    assert seen["back"]["details"]
    assert seen["forward"] == seen["both"]
    assert seen["before"]["selected"] == []
    assert seen["before"]["hash"] == ""
    assert seen["before"]["caption"] == "Every place in the graph"
    assert seen["after"]["selected"] == [second]
    assert seen["after"]["open"] == [second]
    for shown in (seen["back"], seen["forward"], seen["before"], seen["after"]):
        assert shown["alerts"] == []


def test_a_link_to_no_program_here_is_said_so_and_the_page_works(base):
    program = next(p for p in listed_programs(base) if not p["parent"])
    seen = in_chromium(
        base,
        VIEW
        + f"const known = {json.dumps(program['slug'])}, id = {json.dumps(program['id'])};"
        + """
    const asked = [];
    page.on("request", (request) => {
      const url = new URL(request.url());
      if (url.pathname === "/graphql") asked.push(url.searchParams.get("operationName"));
    });
    const openAt = async (fragment) => {
      await page.goto("about:blank");
      await page.goto(`${base}/${fragment}`);
      await page.waitForSelector("body[data-ready]");
    };
    const shown = {};
    for (const [name, fragment] of [
      ["unknown", "#program=no-such-program"],
      ["malformed", "#program=%E0%A4%A&program=x"],
      ["anId", `#program=${encodeURIComponent("UHJvZ3JhbTpuby1zdWNo")}`],
    ]) {
      await openAt(fragment);
      shown[name] = {
        ...(await view()),
        color: await page.locator(".tree [role=alert]").evaluate((e) => getComputedStyle(e).color),
        status: await page.textContent("#status"),
      };
    }
    const programsAsked = asked.filter((name) => name === "Program").length;
    await toggle(id).click(); // the rest of the page works
    await selection(id);
    const after = await view();
    // a program the graph no longer has (a re-seed since the link was made)
    const unroute = await operation("Program", gone);
    await openAt(`#program=${known}`);
    await page.locator(`li.program[data-id="${id}"] > .details > .error`).waitFor();
    const removed = await view();
    await unroute();
    return { shown, programsAsked, after, removed };
""",
    )
    for name, shown in seen["shown"].items():
        assert shown["selected"] == [], name
        assert shown["open"] == [], name
        assert len(shown["alerts"]) == 1, name
        assert "not in the graph" in shown["alerts"][0], name
        assert shown["color"] == ERROR_RED, name
        assert shown["status"].startswith("Expand a program"), name
    assert "no-such-program" in seen["shown"]["unknown"]["alerts"][0]
    assert seen["programsAsked"] == 0  # nothing sent for a name the page was not given
    assert seen["after"]["selected"] == [program["id"]]
    assert seen["after"]["alerts"] == []  # the alert was about the link left behind
    assert seen["after"]["hash"] == f"#program={program['slug']}"
    assert seen["removed"]["selected"] == []
    assert seen["removed"]["open"] == [program["id"]]
    assert any("no longer in the graph" in alert for alert in seen["removed"]["alerts"])


def test_a_hostile_link_is_shown_as_text_and_runs_nothing(base):
    hostile = "<img src=x onerror=window.pwned=1>\"'><script>window.pwned=2</script>"
    seen = in_chromium(
        base,
        VIEW
        + f"const hostile = {json.dumps(hostile)};"
        + """
    const logged = [];
    const asked = [];
    page.on("console", (message) => {
      if (message.type() === "error") logged.push(message.text());
    });
    page.on("dialog", (dialog) => logged.push(`dialog: ${dialog.message()}`));
    page.on("request", (request) => asked.push(new URL(request.url()).pathname));
    await page.addInitScript(() => {
      window.violations = [];
      document.addEventListener("securitypolicyviolation", (event) =>
        window.violations.push(event.violatedDirective),
      );
    });
    await page.goto(`${base}/#program=${encodeURIComponent(hostile)}`);
    await page.waitForSelector("body[data-ready]");
    return {
      ...(await view()),
      injected: await page.evaluate(() => ({
        pwned: window.pwned ?? null,
        images: document.querySelectorAll("img").length,
        scripts: document.querySelectorAll("body script").length,
        violations: window.violations,
      })),
      logged,
      asked: asked.filter((path) => !["", "graphql", "explorer"].includes(path.split("/")[1])),
    };
""",
    )
    assert seen["injected"] == {"pwned": None, "images": 0, "scripts": 0, "violations": []}
    assert seen["logged"] == []  # no CSP violation, no error, no dialog
    assert seen["asked"] == []  # no /x asked for
    assert seen["selected"] == []
    assert len(seen["alerts"]) == 1
    assert hostile[:60] in seen["alerts"][0]  # its own text, as text
