"""The README's example query answers exactly what the README says it does."""

from __future__ import annotations

import json
import re
from pathlib import Path

README = Path(__file__).resolve().parent.parent / "README.md"


def _block(marker: str, language: str) -> str:
    text = README.read_text(encoding="utf-8")
    found = re.search(rf"<!-- {marker} -->\s*```{language}\n(.*?)```", text, re.DOTALL)
    assert found, f"README has no {language} block after <!-- {marker} -->"
    return found.group(1)


async def test_readme_example_returns_the_documented_response(client):
    """The whole body, its cost report included."""
    response = await client.post("/graphql", json={"query": _block("example-query", "graphql")})
    assert response.status_code == 200
    assert response.json() == json.loads(_block("example-response", "json"))
