"""`impact-graph`: serve, seed, migrate, export-schema and schema-diff. Start-up is migrate,
seed, serve."""

from __future__ import annotations

import argparse
import asyncio
import atexit
import gc
import importlib
import logging
import os
import shutil
import signal
import socket
import sys
import tempfile
import time
from collections.abc import Callable, Coroutine, Sequence
from pathlib import Path
from typing import Any, TypeVar

import uvicorn
from pydantic import ValidationError
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine
from uvicorn.supervisors import Multiprocess

from core.config import MAX_WORKERS, Settings, get_settings
from core.logs import configure_logging, one_line, validation_problems
from db import migrate, state
from db.engine import DatabaseUrlError, create_engine, sqlite_file
from seeds.read import SeedError, SeedPlan, read_seeds
from seeds.write import SeedReport, store_is_empty, write_seeds
from server.persisted import ManifestError
from server.redis_client import CacheUrlRefused, check_cache_url
from server.shutdown import ECHO_SECONDS

WORKER_APP = "server.app:app_from_settings"  # what each of several workers imports
# How long a worker may take to answer the supervisor's ping. uvicorn's 5 s would restart
# workers still importing on a busy 2-core machine (each starts a Python of its own).
WORKER_START_SECONDS = 30
SCHEMA_FILE = Path(__file__).resolve().parent.parent / "schema" / "schema.graphql"
T = TypeVar("T")
logger = logging.getLogger("impact_graph.cli")


# A second signal to the parent reaches the workers no sooner than this after the first did:
# a worker takes one within ECHO_SECONDS of its first for that first passed on again (server/
# shutdown.py), and times it from when its handler runs, a moment after the signal arrives.
PASS_ON_AGAIN_SECONDS = ECHO_SECONDS + 0.5
STOPPING_LOOK_SECONDS = 0.1  # how often the parent looks at its signals while workers stop


class Workers(Multiprocess):
    """uvicorn's supervisor, closing the parent's copy of the listening socket as shutdown
    begins, and passing a second signal on to the workers.

    uvicorn keeps the socket open until every worker has exited (the grace, under a slow
    request), and the kernel meanwhile completes handshakes nobody will answer; each worker
    closes its own copy (after any drain), so N workers stop accepting as one process does.
    A second signal to the parent ends the workers' drain as it ends one process's.
    """

    def __init__(self, config: uvicorn.Config, sockets: list[socket.socket]) -> None:
        super().__init__(config, sockets)
        self._passed_on_at = 0.0  # when the workers were told to stop (terminate_all)
        self._again = False  # a signal since, still to be passed on

    def terminate_all(self) -> None:  # run() calls it once should_exit is set, on every path
        for listener in self.sockets:
            listener.close()
        super().terminate_all()
        self._passed_on_at = time.monotonic()

    def join_all(self) -> None:
        """Waits for the workers reading signals, as uvicorn's loop does while they serve:
        its own join reads none, so a second signal to the parent alone (all Kubernetes and
        `docker stop` send) never reached the workers, and their drain ran its full length."""
        for process in self.processes:
            while process.exitcode is None:
                process.process.join(STOPPING_LOOK_SECONDS)  # (uvicorn's join has no timeout)
                self.handle_signals()
                self._pass_on_when_due()
        super().join_all()  # each has exited: uvicorn's lines, at once

    def handle_term(self) -> None:
        self._stop_or_pass_on("SIGTERM", super().handle_term)

    def handle_int(self) -> None:
        self._stop_or_pass_on("SIGINT", super().handle_int)

    # Read while the workers stop too (join_all), where none is restarted, added (it would
    # never be told to stop) or retired (each is on its way out).
    def handle_hup(self) -> None:
        self._unless_stopping(super().handle_hup)

    def handle_ttin(self) -> None:
        self._unless_stopping(super().handle_ttin)

    def handle_ttou(self) -> None:
        self._unless_stopping(super().handle_ttou)

    def _unless_stopping(self, action: Callable[[], None]) -> None:
        if not self.should_exit.is_set():
            action()

    def _stop_or_pass_on(self, name: str, stop: Callable[[], None]) -> None:
        """The first signal stops the workers; a later one is for their drain, as a second
        signal to one process ends its drain."""
        if not self.should_exit.is_set():
            stop()
            return
        logger.info(
            "Received %s again: passing it on to end the workers' drain (%g s after the "
            "first at the soonest)",
            name,
            PASS_ON_AGAIN_SECONDS,
        )
        self._again = True

    def _pass_on_when_due(self) -> None:
        if self._again and time.monotonic() >= self._passed_on_at + PASS_ON_AGAIN_SECONDS:
            self._again = False
            for process in self.processes:
                process.terminate()  # SIGTERM, to a worker still running


class CommandError(Exception):
    """A failure worth one line on stderr, not a traceback."""


class StoreNotReady(Exception):
    """`seed --check` found a store it cannot dry-run against without changing it."""


class Terminated(Exception):
    """SIGTERM stopped the command's work on the store, which undid what it had not
    committed."""


def _run(work: Coroutine[Any, Any, T]) -> T:
    """`asyncio.run`, with SIGTERM cancelling the work as SIGINT does: a seed stopped so rolls
    back and takes its announcement back (db/lease.py), where the signal's default would end
    the process on the spot and leave the announcement, and every server without leases."""
    signalled: list[int] = []
    try:
        return asyncio.run(_cancelled_by_sigterm(work, signalled))
    except asyncio.CancelledError:
        if not signalled:
            raise
        raise Terminated from None


async def _cancelled_by_sigterm(work: Coroutine[Any, Any, T], signalled: list[int]) -> T:
    task = asyncio.current_task()
    assert task is not None
    loop = asyncio.get_running_loop()

    def stop() -> None:
        if not signalled:  # once: a second would cut short the rollback the first started
            signalled.append(signal.SIGTERM)
            task.cancel()

    loop.add_signal_handler(signal.SIGTERM, stop)
    try:
        return await work
    finally:
        loop.remove_signal_handler(signal.SIGTERM)


async def prepare_store(settings: Settings, *, seed: str) -> SeedReport | None:
    """Migrate, then seed: `seed` is "always", "if-empty" (or seeded by an older version that
    wrote less: db/state.is_stale), "check" (a dry run) or "none".

    The seed files are read and checked before the store is touched at all; "check" never
    migrates or creates anything.
    """
    plan = None if seed == "none" else read_seeds(settings.seeds_dir)
    if seed == "check":
        return await _dry_run(settings, plan)
    engine = create_engine(settings.database_url)
    try:
        await migrate.upgrade(engine)
        if plan is None or (seed == "if-empty" and not await _needs_seed(engine)):
            return None
        return await write_seeds(engine, plan, dry_run=seed == "check")
    finally:
        await engine.dispose()


async def _needs_seed(engine: AsyncEngine) -> bool:
    if await store_is_empty(engine):
        return True
    async with engine.connect() as connection:
        return await state.is_stale(connection)


async def _dry_run(settings: Settings, plan: SeedPlan | None) -> SeedReport:
    path = sqlite_file(settings.database_url)
    if path is not None and not path.exists():
        raise StoreNotReady(f"the store {path.name} does not exist yet")
    engine = create_engine(settings.database_url)
    try:
        if not await migrate.is_current(engine):
            raise StoreNotReady("the store is not migrated to the current schema")
        assert plan is not None
        return await write_seeds(engine, plan, dry_run=True)
    finally:
        await engine.dispose()


def export_schema() -> str:
    from schema import schema  # imported here: other commands need not build the schema

    return schema.as_str() + "\n"


def _require_fast_http() -> None:
    """`serve` names uvloop and httptools; say so in one line, before the store is touched."""
    for module in ("uvloop", "httptools"):
        try:
            importlib.import_module(module)
        except ImportError as error:
            raise CommandError(
                f"serve needs {module} ({error}); install the pinned dependencies: "
                "pip install -c requirements.lock -e ."
            ) from None


def _share_metrics_dir() -> None:
    """A fresh directory where each of several workers writes its metrics for any of them to
    gather (prometheus-client's multiprocess mode): set before the workers start, removed
    when the command exits."""
    directory = tempfile.mkdtemp(prefix="impact-graph-metrics-")
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = directory
    atexit.register(shutil.rmtree, directory, ignore_errors=True)


def _listening_socket(config: uvicorn.Config) -> socket.socket:
    """The server's socket, bound as uvicorn's `Config.bind_socket` binds it (IPv6 for an
    address with a colon, else IPv4: `localhost` is 127.0.0.1) but before the server says it
    is up, and with the port it got (asked for port 0): a port taken, or a host that is no
    address of this machine, is one line and exit 2, not "up" then uvicorn's exit 3."""
    family = socket.AF_INET6 if ":" in config.host else socket.AF_INET
    listening = socket.socket(family, socket.SOCK_STREAM)
    try:
        listening.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listening.bind((config.host, config.port))
        listening.listen(config.backlog)  # from now on connections wait for the server
    except OSError as error:  # (socket.gaierror too)
        listening.close()
        where = f"{config.host}:{config.port}"
        raise CommandError(f"cannot listen on {where}: {error.strerror or error}") from None
    listening.set_inheritable(True)  # as uvicorn's own: workers accept on it
    return listening


def _serve(settings: Settings, host: str, port: int, workers: int = 1) -> None:
    _require_fast_http()
    from server.app import create_app
    from server.connections import edge_config  # httptools
    from server.observe import configure_access_log

    configure_access_log(settings.log_level)

    # with workers too (each builds its own): a bad setting (a trusted documents' manifest
    # that cannot be used, say) stops the command here, before the store is migrated or
    # seeded (the app connects to nothing until it starts)
    app = create_app(settings, handles_signals=True)
    if settings.cache_url is not None:
        _run(check_cache_url(settings.cache_url))
    report = _run(prepare_store(settings, seed="if-empty"))
    if report is not None:
        print(f"seeded the store (empty, or seeded by an older version): {report.summary()}")
    # What start-up made (the schema, the type map, imports) lives as long as the process:
    # frozen, the collector stops scanning it on every full collection.
    gc.freeze()
    if workers > 1:
        _share_metrics_dir()
    config = edge_config(
        app if workers == 1 else WORKER_APP,  # each worker imports its own
        settings,
        factory=workers > 1,
        workers=workers,
        timeout_worker_healthcheck=WORKER_START_SECONDS,
        host=host,
        port=port,
    )
    listening = _listening_socket(config)
    shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host  # noqa: S104 (display only)
    if ":" in shown:  # an IPv6 address, in brackets in a URL (RFC 3986 3.2.2)
        shown = f"[{shown}]"
    root = f"http://{shown}:{listening.getsockname()[1]}/"
    print(f"Impact Graph is up: GraphiQL at {root}graphql (the explorer at {root})", flush=True)
    server = uvicorn.Server(config)
    if workers > 1:  # as uvicorn.run does: the parent binds, the workers accept
        Workers(config, sockets=[listening]).run()
        return
    server.run(sockets=[listening])
    if not server.started:
        raise CommandError("the server did not start (its log says why)")


def _seed(settings: Settings, check: bool) -> int:
    try:
        report = _run(prepare_store(settings, seed="check" if check else "always"))
    except StoreNotReady as reason:
        print(f"seed files are valid; {reason}: `impact-graph seed` would set it up")
        return 1
    assert report is not None
    if check:
        print(f"seed files are valid; {report.summary()}")
        return 1 if report.changed else 0
    print(f"seeded: {report.summary()}")
    return 0


def _export(output: str | None, check: bool) -> int:
    sdl = export_schema()
    if check:
        if SCHEMA_FILE.read_text(encoding="utf-8") != sdl:
            print(f"{SCHEMA_FILE.name} is out of date; run `impact-graph export-schema`")
            return 1
        print(f"{SCHEMA_FILE.name} matches the schema")
        return 0
    if output == "-":
        sys.stdout.write(sdl)
    else:
        target = Path(output) if output else SCHEMA_FILE
        target.write_text(sdl, encoding="utf-8")
        print(f"wrote {target}")
    return 0


def _schema_diff(old: str, new: str) -> int:
    """Breaking and dangerous changes from `old` to `new` (SDL files); exit 1 if breaking."""
    from schema.changes import InvalidSchema, schema_changes

    texts = []
    for name in (old, new):
        try:
            texts.append(Path(name).read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError) as error:
            raise CommandError(f"cannot read {name}: {error}") from None
    try:
        changes = schema_changes(texts[0], texts[1])
    except InvalidSchema as error:
        raise CommandError(f"not a valid schema: {error}") from None
    for line in changes.breaking:
        print(f"BREAKING {line}")
    for line in changes.dangerous:
        print(f"DANGEROUS {line}")
    if not changes.breaking and not changes.dangerous:
        print("no breaking or dangerous changes")
    return 1 if changes.breaking else 0


def _worker_count(text: str) -> int:
    try:
        count = int(text)
    except ValueError:
        count = 0
    if not 1 <= count <= MAX_WORKERS:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number from 1 to {MAX_WORKERS}")
    return count


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="impact-graph", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="migrate, seed an empty store, serve GraphQL")
    serve.add_argument("--host", help="interface to bind (default IMPACT_GRAPH_HOST)")
    serve.add_argument("--port", type=int, help="port to bind (default IMPACT_GRAPH_PORT)")
    serve.add_argument(
        "--workers",
        type=_worker_count,
        metavar="N",
        help=f"worker processes, 1 to {MAX_WORKERS} (default IMPACT_GRAPH_WORKERS, 1)",
    )
    seed = commands.add_parser("seed", help="load seeds/ into the store (idempotent)")
    seed.add_argument(
        "--check",
        action="store_true",
        help="validate the seed files and report what seeding would change; exit 1 if anything",
    )
    commands.add_parser("migrate", help="apply database migrations")
    export = commands.add_parser("export-schema", help="write the GraphQL SDL")
    export.add_argument("--output", "-o", help="file to write, or - for stdout")
    export.add_argument("--check", action="store_true", help="exit 1 if the committed SDL differs")
    diff = commands.add_parser(
        "schema-diff", help="list breaking and dangerous changes between two SDL files"
    )
    diff.add_argument("old", help="the SDL clients know")
    diff.add_argument("new", help="the SDL to serve; exit 1 if it breaks a client of the old")
    return parser


def _exit_by_sigterm() -> None:
    """End as the signal would have ended the process, once its work is undone, so that
    whoever sent it sees it obeyed (a shell's status 143)."""
    print("stopped by SIGTERM", file=sys.stderr, flush=True)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.raise_signal(signal.SIGTERM)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    configure_logging()
    debug = os.environ.get("IMPACT_GRAPH_LOG_LEVEL", "").lower() in ("debug", "trace")
    try:
        settings = get_settings()
        if args.command == "serve":
            _serve(
                settings,
                args.host or settings.host,
                settings.port if args.port is None else args.port,
                args.workers or settings.workers,
            )
            return 0
        if args.command == "seed":
            return _seed(settings, args.check)
        if args.command == "migrate":
            _run(prepare_store(settings, seed="none"))
            print("migrations applied")
            return 0
        if args.command == "schema-diff":
            return _schema_diff(args.old, args.new)
        return _export(args.output, args.check)
    except CommandError as error:
        print(f"error: {error}", file=sys.stderr)
    except SeedError as error:
        print(f"seed error: {error}", file=sys.stderr)
    except (DatabaseUrlError, ManifestError, CacheUrlRefused) as error:
        print(f"configuration error: {error}", file=sys.stderr)
    except ValidationError as error:  # of the environment's settings
        print(f"configuration error: {validation_problems(error)}", file=sys.stderr)
    except (OperationalError, DBAPIError, OSError) as error:
        print(f"database error: {one_line(error)}", file=sys.stderr)
    except Terminated:
        _exit_by_sigterm()
    except (Exception, asyncio.CancelledError) as error:  # a fault no line above names (a
        # stray cancellation too, which is no Exception): one line, not a traceback
        print(f"error: unexpected {one_line(error)}", file=sys.stderr)
        if debug:  # where it came from, for whoever asks
            logger.exception("the unexpected error's traceback")
    return 2


if __name__ == "__main__":
    raise SystemExit(main())
