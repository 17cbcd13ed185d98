"""The floor: a bare Starlette route answering each benchmark body with our server's exact bytes.

It runs on the same edge as `impact-graph serve` runs ours: uvicorn with the config that
server/connections.py's `edge_config` builds for `serve` (loop, the connection protocol and
its limits, log level, ...) from the same settings, and the same access log set-up. Those
settings are printed.

    python -m bench.floor RESPONSES.json --port PORT
"""

from __future__ import annotations

import argparse
import base64
import gc
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
    from core.config import get_settings
    from server.connections import edge_config  # httptools
    from server.observe import configure_access_log

    parser = argparse.ArgumentParser(
        prog="python -m bench.floor",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("answers", type=Path, help="the answers file (write_answers)")
    parser.add_argument("--host", help="interface to bind (default IMPACT_GRAPH_HOST)")
    parser.add_argument("--port", type=int, help="port to bind (default IMPACT_GRAPH_PORT)")
    args = parser.parse_args(argv)
    settings = get_settings()
    configure_access_log(settings.log_level)
    config = edge_config(
        floor_app(read_answers(args.answers)),
        settings,
        host=args.host or settings.host,
        port=settings.port if args.port is None else args.port,
    )
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
    gc.freeze()  # as serve does once started up
    server = uvicorn.Server(config)
    server.run()
    return 0 if server.started else 1


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
