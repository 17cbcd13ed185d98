"""The GraphiQL page, served with its own files (server/static/graphiql/, refreshed by
scripts/refresh_graphiql.py), opening on a query that walks the graph."""

from __future__ import annotations

import base64
import hashlib
import json
from functools import lru_cache
from pathlib import Path

from server import explorer
from server.responses import PAGE_HEADERS

WELCOME_QUERY = """# Impact Graph: a company's programs, partners and places, every fact cited.
# Press Ctrl-Enter to run the operation under the cursor; the Docs panel describes every
# type and field. In an editor Tab indents: Escape, then Tab (or Shift-Tab), leaves it.
query Traversal {
  company(slug: "sony-music") {
    name
    foundedYear
    programs(first: 5, filter: {kind: [FUND, PARTNER_PROJECT]}) {
      totalCount
      nodes {
        name
        kind
        partners {
          edges {
            citations { quote document { title } }
            node {
              name
              locations { nodes { name kind countryCode } }
            }
          }
        }
      }
    }
  }
}

# Search: names, descriptions and the documents' text, best first (misspellings too).
query Search {
  search(query: "refugees", first: 3) {
    totalCount
    edges {
      score
      highlights { field text start end }
      node {
        __typename
        ... on Partner { name }
        ... on Program { programName: name }
        ... on Passage { text document { title } }
      }
    }
  }
}
"""

# The longest address the page writes (its query, variables and operation name in it): 8 KiB,
# what proxies take in a request line (nginx's default), within this server's own bounds.
LONGEST_LINK = 8192
# The published SDL (served wherever GraphiQL is: both need introspection on)
SCHEMA_PATH = "/graphql/schema.graphql"
ASSETS_PATH = "/graphiql/4.1.2"  # (GraphiQL's version, as scripts/refresh_graphiql.py pins it)
ASSETS_DIR = Path(__file__).resolve().parent / "static" / "graphiql"
# The explorer's icon: without one the browser asks for /favicon.ico, a 404 in the console.
FAVICON_PATH = f"{explorer.ASSETS_PATH}/favicon.svg"

# The page's one inline script, WELCOME standing for the query and LONGEST for the
# longest address it writes.
_SCRIPT = """
      const fetcher = GraphiQL.createFetcher({ url: window.location.pathname });
      // The panel last shown (a plugin's title, "" for none), kept where GraphiQL 3 kept it:
      // GraphiQL 4 remembers no such choice (its "clear storage" forgets this one too).
      const PANEL = "graphiql:visiblePlugin";
      let opening = false; // the page's own opening of the Docs: not the user's choice
      const keep = (plugin) => {
        if (opening) return;
        try {
          localStorage.setItem(PANEL, plugin ? plugin.title : "");
        } catch {} // no storage (a browser's setting): the choice lasts as long as the page
      };
      const kept = () => {
        try {
          return localStorage.getItem(PANEL);
        } catch {
          return null;
        }
      };
      // A first visit opens the Docs where the editors keep room beside them (on a narrow
      // screen they would cover the editors, and keyboard users would tab through them first).
      const wide = window.matchMedia("(min-width: 1000px)").matches;
      const shown = kept() ?? (wide ? "Documentation Explorer" : "");
      // A link may open on a query (`?query=&variables=&operationName=`, as GraphiQL's own
      // examples write it), and the address follows the tab being edited, so a query can be
      // shared as a link; one longer than proxies take (LONGEST_LINK) is left out of it (its
      // reload would be refused). Headers never go in it, as they are never kept; nor the
      // welcome query as it opens (a plain visit keeps its plain address).
      const welcome = WELCOME;
      const linked = new URLSearchParams(window.location.search);
      const given = (name) => linked.get(name) ?? undefined;
      let writing = 0;
      const follow = (values) => {
        for (const [name, value] of Object.entries(values)) {
          if (value) linked.set(name, value);
          else linked.delete(name);
        }
        if (linked.get("query") === welcome && !linked.get("variables")) {
          linked.delete("query"); // (and the operation GraphiQL picks in it)
          linked.delete("operationName");
        }
        clearTimeout(writing); // one address a moment: browsers refuse many in a row
        writing = setTimeout(() => {
          const search = linked.toString();
          const address = window.location.pathname + (search ? "?" + search : "");
          try {
            const fits = address.length <= LONGEST;
            history.replaceState(history.state, "", fits ? address : window.location.pathname);
          } catch {} // (refused: the address stays as it was)
        }, 300);
      };
      // GraphiQL's storage as its default one (localStorage, its own keys), but its history
      // and favourites keep no run's headers: GraphiQL 4 writes them there whatever
      // `shouldPersistHeaders` says, and an `Authorization` kept would be for any script of
      // this origin to read. (Each is {"queries": [...]} or {"favorites": [...]}.)
      const HISTORY = new Set(["graphiql:queries", "graphiql:favorites"]);
      const withoutHeaders = (value) => {
        const kept = JSON.parse(value);
        for (const entries of Object.values(kept)) {
          for (const entry of Array.isArray(entries) ? entries : []) delete entry.headers;
        }
        return JSON.stringify(kept);
      };
      // (and what an earlier page kept there, once: GraphiQL rewrites an entry only on a change)
      for (const key of HISTORY) {
        try {
          const kept = localStorage.getItem(key);
          if (kept) localStorage.setItem(key, withoutHeaders(kept));
        } catch {} // no storage, or not GraphiQL's shape: left as it is
      }
      const ours = () => Object.keys(localStorage).filter((key) => key.startsWith("graphiql:"));
      const storage = {
        getItem: (key) => {
          try {
            return localStorage.getItem(key);
          } catch {
            return null; // no storage (a browser's setting): nothing kept
          }
        },
        setItem: (key, value) =>
          localStorage.setItem(key, HISTORY.has(key) ? withoutHeaders(value) : value),
        removeItem: (key) => localStorage.removeItem(key),
        get length() {
          return ours().length;
        },
        clear: () => ours().forEach((key) => localStorage.removeItem(key)),
      };
      ReactDOM.createRoot(document.getElementById("graphiql")).render(
        React.createElement(GraphiQL, {
          fetcher: fetcher,
          storage: storage,
          defaultQuery: welcome,
          query: given("query"),
          variables: given("variables"),
          operationName: given("operationName"),
          onEditQuery: (query) => follow({ query }),
          onEditVariables: (variables) => follow({ variables }),
          onEditOperationName: (operationName) => follow({ operationName }),
          onTabChange: ({ tabs, activeTabIndex }) => {
            const { query, variables, operationName } = tabs[activeTabIndex];
            follow({ query, variables, operationName });
          },
          defaultEditorToolsVisibility: true,
          isHeadersEditorEnabled: true,
          shouldPersistHeaders: false,
          onTogglePluginVisibility: keep,
        }),
      );
      // Open it as its button does: GraphiQL 4 takes a `visiblePlugin` prop only after its
      // first render, with the panel still collapsed.
      const button = (label) =>
        document.querySelector(`.graphiql-sidebar [aria-label="${CSS.escape(label)}"]`);
      let frames = 600; // ten seconds at most, then GraphiQL is left as it is
      const open = () => {
        const show = button("Show " + shown);
        if (show) {
          opening = true; // (GraphiQL tells its toggle within the click)
          try {
            show.click();
          } finally {
            opening = false;
          }
        } else if (!button("Hide " + shown) && --frames > 0) requestAnimationFrame(open);
      };
      if (shown) requestAnimationFrame(open);
      // The first stop of the keyboard: past the sidebar and the Docs (a hundred stops) to the
      // query editor.
      document.getElementById("skip").addEventListener("click", (event) => {
        const editor = document.querySelector(".graphiql-query-editor .CodeMirror");
        if (!editor) return;
        event.preventDefault();
        editor.CodeMirror.focus();
      });
      // Keyboard users leave an editor as CodeMirror 6 lets them: Escape, then Tab (Shift-Tab)
      // moves to the next (previous) control; Tab alone indents. GraphiQL 4's editors keep Tab
      // for themselves, so none could be left but by a pointer (graphql/graphiql#3766).
      const FOCUSABLE = [
        "a[href]",
        "button:not([disabled])",
        "input:not([disabled])",
        "select",
        "textarea",
        "[tabindex]",
      ]
        .map((controls) => controls + ':not([tabindex="-1"])') // (what Tab skips)
        .join(", ");
      const MODIFIERS = new Set(["Shift", "Control", "Alt", "Meta"]);
      let escaped = null; // the editor Escape was last pressed in
      document.addEventListener(
        "keydown",
        (event) => {
          if (MODIFIERS.has(event.key)) return; // (Shift held for Shift-Tab)
          const editor = event.target instanceof Element && event.target.closest(".CodeMirror");
          const leaving = event.key === "Tab" && editor && editor === escaped;
          // (an Escape that closes the completions' list is theirs, as in CodeMirror 6)
          const closing = document.querySelector(".CodeMirror-hints");
          escaped = event.key === "Escape" && !closing ? editor : null;
          if (!leaving) return;
          event.preventDefault();
          event.stopPropagation(); // (before the editor's own handler: capturing)
          const others = [...document.querySelectorAll(FOCUSABLE)].filter(
            (control) =>
              !editor.contains(control) && // nor what holds it (it gives its focus back)
              !control.contains(editor) &&
              control.getClientRects().length > 0,
          );
          const after = (control) =>
            editor.compareDocumentPosition(control) & Node.DOCUMENT_POSITION_FOLLOWING;
          const next = event.shiftKey
            ? others.filter((control) => !after(control)).pop()
            : others.find(after);
          (next ?? event.target).focus();
        },
        true,
      );
    """
# The script as the page embeds it, the welcome query in it as JSON (`<` escaped, so no text
# in it can close the element); the CSP allows it by the hash of this same text.
SCRIPT = _SCRIPT.replace("WELCOME", json.dumps(WELCOME_QUERY).replace("<", "\\u003c")).replace(
    "LONGEST", str(LONGEST_LINK)
)

_PAGE = """<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8" />
    <meta name="viewport" content="width=device-width, initial-scale=1" />
    <title>GraphiQL · Impact Graph</title>
    <link rel="icon" href="FAVICON" type="image/svg+xml" />
    <style>
      body { height: 100%; margin: 0; width: 100%; overflow: hidden; }
      #graphiql { height: 100vh; }
      .visually-hidden:not(:focus) {
        position: absolute; width: 1px; height: 1px; overflow: hidden;
        clip-path: inset(50%); white-space: nowrap;
      }
      /* A narrow screen (a phone, or 400% zoom): the editors above the result, the page
         scrolling, where side by side the result had no width at all. */
      @media (max-width: 700px) {
        body { overflow: auto; }
        #graphiql { height: auto; }
        .graphiql-container { min-height: 100vh; }
        .graphiql-container #graphiql-session { flex-direction: column; }
        .graphiql-container #graphiql-session > * { flex: 1 0 auto !important; min-height: 60vh; }
        .graphiql-container .graphiql-horizontal-drag-bar { display: none; }
      }
      #skip:focus {
        position: absolute; z-index: 10; top: 0.5rem; left: 0.5rem; padding: 0.5rem 0.75rem;
        background: #fff; color: #1f5fbf; font: 1rem system-ui, sans-serif;
      }
    </style>
    <link rel="stylesheet" href="ASSETS/graphiql.min.css" />
    <style>
      /* The light theme's colours, darker for text of AA contrast (4.5:1) on its editors'
         background: GraphiQL 4's own fall to 1.7:1 (the type links in the Docs 3.2:1). */
      @media (prefers-color-scheme: light) {
        body:not(.graphiql-dark) :is(LIGHT) { COLOURS }
        body:not(.graphiql-dark) .cm-s-graphiql :is(FAINT) { DIMMED }
      }
      body.graphiql-light :is(LIGHT) { COLOURS }
      body.graphiql-light .cm-s-graphiql :is(FAINT) { DIMMED }
    </style>
    <script src="ASSETS/react.production.min.js"></script>
    <script src="ASSETS/react-dom.production.min.js"></script>
    <script src="ASSETS/graphiql.min.js"></script>
  </head>
  <body>
    <a id="skip" class="visually-hidden" href="#graphiql">Skip to the query editor</a>
    <h1 class="visually-hidden">Impact Graph: GraphiQL</h1>
    <main id="graphiql">Loading...</main>
    <noscript>NOSCRIPT</noscript>
    <script>SCRIPT</script>
  </body>
</html>
"""


# Where GraphiQL's stylesheet sets its theme's colours, and the light theme's, darkened.
_LIGHT = (
    ".graphiql-container, .CodeMirror-info, .CodeMirror-lint-tooltip, .graphiql-dialog, "
    ".graphiql-dialog-overlay, .graphiql-tooltip, [data-radix-popper-content-wrapper]"
)
_COLOURS = (
    "--color-primary: 320, 95%, 41%; --color-secondary: 242, 51%, 58%; "
    "--color-tertiary: 188, 100%, 27%; --color-info: 208, 100%, 40%; "
    "--color-success: 158, 100%, 24%; --color-warning: 36, 100%, 30%; "
    "--color-error: 13, 100%, 40%;"
)


# Punctuation and comments, which GraphiQL draws translucent (2.4:1): less so (5.3:1).
_FAINT = ".cm-punctuation, .cm-ws, .cm-comment"
_FAINT_COLOUR = "color: hsla(var(--color-neutral), 0.85);"


def _hash_source(script: str) -> str:
    """A CSP source allowing exactly this inline script (its UTF-8 text's SHA-256)."""
    digest = base64.b64encode(hashlib.sha256(script.encode("utf-8")).digest()).decode("ascii")
    return f"'sha256-{digest}'"


def content_security_policy(script: str) -> str:
    """Everything from this server; of scripts only its files and the page's own script, so
    injected markup runs nothing. Styles may be inline: GraphiQL's dialogs and menus add a
    `<style>` element (react-remove-scroll), and the page has its own. Fonts and images may be
    `data:` URLs, as GraphiQL's stylesheet carries them."""
    return "; ".join(
        (
            "default-src 'self'",
            f"script-src 'self' {_hash_source(script)}",
            "style-src 'self' 'unsafe-inline'",
            "img-src 'self' data:",
            "font-src 'self' data:",
            "connect-src 'self'",
            "object-src 'none'",
            "base-uri 'none'",
            "form-action 'none'",
            "frame-ancestors 'none'",
        )
    )


GRAPHIQL_HEADERS = {**PAGE_HEADERS, "Content-Security-Policy": content_security_policy(SCRIPT)}


@lru_cache
def graphiql_html() -> str:
    """GraphiQL from this server's own files (no CDN: it works offline and behind a firewall),
    opening on the traversal, with the Docs shown on a wide screen's first visit and then as
    the user left them; history persists in the browser's storage, headers typed in its editor
    do not (an `Authorization` would stay there for any script of this origin to read)."""
    page = _PAGE.replace("ASSETS", ASSETS_PATH).replace("FAVICON", FAVICON_PATH)
    page = page.replace("LIGHT", _LIGHT).replace("COLOURS", _COLOURS)
    page = page.replace("DIMMED", _FAINT_COLOUR).replace("FAINT", _FAINT)
    page = page.replace("NOSCRIPT", explorer.without_script(schema=SCHEMA_PATH))
    return page.replace("SCRIPT", SCRIPT)
