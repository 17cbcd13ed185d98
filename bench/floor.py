"""The floor: a bare Starlette route answering each benchmark body with our server's exact bytes.

It runs under uvicorn exactly as `impact-graph serve` runs ours: this launcher goes through
server/cli.py's own serve path with `uvicorn.run` wrapped to swap in the floor app, so
whatever cli.py passes (loop, http, log level, ...) applies here too, and is printed.

    python -m bench.floor RESPONSES.json --port PORT   (DATABASE_URL: a seeded store)
"""

from __future__ import annotations

import base64
import json
import sys
from pathlib import Path
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

FLOOR_HEADER = "x-bench-floor"
SETTINGS_LINE = "FLOOR-UVICORN-SETTINGS "


def floor_app(answers: dict[bytes, tuple[str, bytes]]) -> Starlette:
    async def graphql(request: Request) -> Response:
        found = answers.get(await request.body())
        if found is None:
            return Response(b"unknown body", status_code=404, headers={FLOOR_HEADER: "1"})
        content_type, content = found
        return Response(content, headers={"content-type": content_type, FLOOR_HEADER: "1"})

    return Starlette(routes=[Route("/graphql", graphql, methods=["POST"])])


def read_answers(path: Path) -> dict[bytes, tuple[str, bytes]]:
    return {
        base64.b64decode(item["body"]): (item["content_type"], base64.b64decode(item["response"]))
        for item in json.loads(path.read_text())
    }


def main(argv: list[str]) -> int:
    answers_file, *serve_args = argv
    app = floor_app(read_answers(Path(answers_file)))
    real_run = uvicorn.run
    ran = False

    def run_floor(_our_app: Any, **settings: Any) -> None:
        nonlocal ran
        ran = True
        shown = {k: v for k, v in settings.items() if isinstance(v, str | int | float | bool)}
        print(SETTINGS_LINE + json.dumps(shown, sort_keys=True), flush=True)
        real_run(app, **settings)

    uvicorn.run = run_floor  # type: ignore[assignment]
    from server.cli import main as cli_main

    status = cli_main(["serve", *serve_args])
    if not ran:
        print("server/cli.py no longer calls uvicorn.run; the floor cannot mirror it")
        return 3
    return status


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
