"""The floor: a bare Starlette route answering each benchmark body with our server's exact bytes.

It runs under uvicorn exactly as `impact-graph serve` runs ours: this launcher goes through
server/cli.py's own serve path with `uvicorn.Server` wrapped to swap in the floor app, so
whatever cli.py configures (loop, the connection protocol and its limits, log level, ...)
applies here too, and is printed.

    python -m bench.floor RESPONSES.json --port PORT   (DATABASE_URL: a seeded store)
"""

from __future__ import annotations

import base64
import json
import sys
from pathlib import Path

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


def write_answers(path: Path, answers: dict[bytes, tuple[str, bytes]]) -> Path:
    """The floor's answers file: each request body, with the media type and bytes to answer."""
    path.parent.mkdir(parents=True, exist_ok=True)
    items = [
        {
            "body": base64.b64encode(body).decode(),
            "content_type": content_type,
            "response": base64.b64encode(content).decode(),
        }
        for body, (content_type, content) in answers.items()
    ]
    path.write_text(json.dumps(items))
    return path


def read_answers(path: Path) -> dict[bytes, tuple[str, bytes]]:
    return {
        base64.b64decode(item["body"]): (item["content_type"], base64.b64decode(item["response"]))
        for item in json.loads(path.read_text())
    }


def main(argv: list[str]) -> int:
    answers_file, *serve_args = argv
    app = floor_app(read_answers(Path(answers_file)))
    real_init = uvicorn.Server.__init__
    ran = False

    def floor_server(server: uvicorn.Server, config: uvicorn.Config) -> None:
        """The server `serve` builds, with its config (protocol, limits, loop...) as it is, but
        the floor's app in place of ours."""
        nonlocal ran
        ran = True
        config.app = app
        shown = {
            "host": config.host,
            "port": config.port,
            "loop": config.loop,
            "http": config.http if isinstance(config.http, str) else config.http.__name__,
            "log_level": config.log_level,
            "access_log": config.access_log,
            "workers": config.workers,
        }
        print(SETTINGS_LINE + json.dumps(shown, sort_keys=True), flush=True)
        real_init(server, config)

    uvicorn.Server.__init__ = floor_server  # type: ignore[method-assign,assignment]
    from server.cli import main as cli_main

    status = cli_main(["serve", *serve_args])
    if not ran:
        print("server/cli.py no longer builds a uvicorn.Server; the floor cannot mirror it")
        return 3
    return status


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
