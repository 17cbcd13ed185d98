"""The GraphiQL page: Strawberry's, opening on a query that walks the graph."""

from __future__ import annotations

import re
from functools import lru_cache

from strawberry.http.ides import get_graphql_ide_html

WELCOME_QUERY = """# Impact Graph: a company's programs, partners and places, every fact cited.
# Press Ctrl-Enter to run; the Docs panel describes every type and field.
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
"""

_EXAMPLE = re.compile(r"const EXAMPLE_QUERY = `.*?`;", re.DOTALL)


@lru_cache
def graphiql_html() -> str:
    page = get_graphql_ide_html("graphiql")
    page = page.replace("<title>Strawberry GraphiQL</title>", "<title>Impact Graph</title>")
    return _EXAMPLE.sub(lambda _: f"const EXAMPLE_QUERY = `{WELCOME_QUERY}`;", page, count=1)
