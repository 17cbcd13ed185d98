"""The console command as a newcomer runs it: a real server process on a real socket."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
import yaml
from sqlalchemy import make_url, text

from core.logs import one_line
from db.engine import DatabaseUrlError, async_url, create_engine
from server.cli import build_parser
from tests.conftest import POSTGRES_URL, _require_postgres
from tests.factories import graph_data, write_seed_tree

COMMAND = str(Path(sys.executable).with_name("impact-graph"))
PG = "postgresql://postgres@127.0.0.1:5432/test"  # (not connected to: its options are refused)


def run(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [COMMAND, *args], env=env, capture_output=True, text=True, timeout=120, check=False
    )


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}"}


def free_port() -> int:
    """A port free now, for a process to bind soon. Under pytest-xdist, one of this test
    process's own (half the port, modulo the processes' count: Linux gives `bind` odd ports
    only), so another's server never takes it between the look and the bind."""
    count = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0")  # gw0, gw1, ...
    mine = int(worker.removeprefix("gw")) % count
    for _ in range(1_000):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = int(probe.getsockname()[1])
        if port // 2 % count == mine:
            return port
    raise AssertionError(f"no free port of this test process's ({worker} of {count})")


@contextmanager
def serving(env: dict[str, str], *arguments: str) -> Iterator[tuple[str, str]]:
    """`serve` on a free port: what it printed until it said it is up, and its GraphiQL
    URL (on 127.0.0.1, or the `--host` given), once it accepts connections there; terminated
    at the end."""
    port = free_port()
    host = arguments[arguments.index("--host") + 1] if "--host" in arguments else "127.0.0.1"
    if host in ("0.0.0.0", "::"):  # noqa: S104 (every interface: opened on this machine's)
        host = "127.0.0.1"
    base = f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"
    server = subprocess.Popen(
        [COMMAND, "serve", "--port", str(port), *arguments],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        lines = []
        while not any("GraphiQL at" in line for line in lines):
            line = server.stdout.readline()
            assert line, f"server exited early: {''.join(lines)}"
            lines.append(line)
        output = "".join(lines)
        url = re.search(r"GraphiQL at (\S+)", output).group(1)
        assert url == f"{base}/graphql"
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(f"{base}/healthz")
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "server never accepted connections"
                time.sleep(0.1)
        yield output, url
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_serve_seeds_an_empty_store_and_answers_over_http(env):
    with serving(env) as (output, url):
        assert "seeded the store (empty" in output
        ready = httpx.get(url.replace("/graphql", "/readyz"))
        assert ready.json()["status"] == "ready"
        query = '{ company(slug: "sony-music") { name programs { totalCount } } }'
        answer = httpx.post(url, json={"query": query}).json()
        assert answer["data"]["company"]["name"] == "Sony Music"
        assert answer["data"]["company"]["programs"]["totalCount"] == len(graph_data()["programs"])
        page = httpx.get(url, headers={"Accept": "text/html"})
        assert page.status_code == 200
        assert "graphiql" in page.text.lower()


def test_serve_on_every_interface_prints_a_url_to_open_here(env):
    """`--host 0.0.0.0` (a container's) is no address to open: the URL printed is this
    machine's 127.0.0.1 (`serving` checks it), which the server answers on too."""
    with serving(env, "--host", "0.0.0.0") as (_, url):  # noqa: S104 (the case itself)
        assert httpx.get(url.replace("/graphql", "/healthz"), timeout=10).status_code == 200


def test_serve_starts_for_a_redis_user_that_may_not_ping(env):
    """Least privilege: a user that may keep and read answers but not PING is no refusal
    (serve asks nothing of Redis but to open the connection: AUTH and SELECT)."""
    import redis

    admin = redis.Redis(host="127.0.0.1", port=6379)
    user = f"impact-graph-test-{os.getpid()}"
    admin.acl_setuser(
        user, enabled=True, passwords=["+secret"], keys=["*"], commands=["+@all", "-ping"]
    )
    try:
        cache_url = f"redis://{user}:secret@127.0.0.1:6379/0"
        own = {"CACHE_URL": cache_url, "IMPACT_GRAPH_CACHE_PREFIX": f"{user}:"}  # no other's
        with serving({**env, **own}) as (_, url):
            query = {"query": '{ company(slug: "sony-music") { name } }'}
            answers = [httpx.post(url, json=query) for _ in range(2)]
            assert [a.headers["X-Cache"] for a in answers] == ["miss", "hit"]  # kept in Redis
    finally:
        admin.acl_deluser(user)
        for key in admin.scan_iter(f"{user}:*"):
            admin.delete(key)
        admin.close()


def test_serve_starts_while_redis_is_away_and_answers_uncached(env):
    """Only a Redis that answers with a refusal stops `serve` (below): one that does not
    answer may come back, and meanwhile every request is answered uncached."""
    with socket.socket() as unused:  # a port nothing listens on
        unused.bind(("127.0.0.1", 0))
        away = f"redis://127.0.0.1:{unused.getsockname()[1]}/0"
    with serving({**env, "CACHE_URL": away}) as (_, url):
        answer = httpx.post(url, json={"query": '{ company(slug: "sony-music") { name } }'})
        assert answer.json()["data"]["company"]["name"] == "Sony Music"
        assert answer.headers["X-Cache"] == "unavailable"


@pytest.mark.parametrize("module", ["uvloop", "httptools"])
def test_serve_without_a_fast_http_extra_fails_before_touching_the_store(env, tmp_path, module):
    # None in sys.modules makes the import fail, as an install without uvicorn[standard] would.
    code = (
        f"import sys; sys.modules[{module!r}] = None; from server.cli import main; "
        "raise SystemExit(main(['serve', '--port', '1']))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 2
    assert result.stderr.startswith(f"error: serve needs {module}")
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "cli.db").exists()


def test_seed_check_reports_pending_changes_until_seeded(env, tmp_path):
    missing = run("seed", "--check", env=env)
    assert missing.returncode == 1
    assert "does not exist yet" in missing.stdout
    assert not (tmp_path / "cli.db").exists(), "a check must not create the store"
    assert run("migrate", env=env).returncode == 0
    pending = run("seed", "--check", env=env)
    assert pending.returncode == 1
    assert "inserted" in pending.stdout
    seeded = run("seed", env=env)
    assert seeded.returncode == 0, seeded.stderr
    clean = run("seed", "--check", env=env)
    assert clean.returncode == 0
    assert "nothing to change" in clean.stdout


def test_bad_seed_files_fail_cleanly_and_touch_nothing(env, tmp_path):
    data = graph_data()
    data["programs"][0]["citations"][0]["quote"] = "words the documents never say"
    seeds_dir = write_seed_tree(tmp_path / "bad-seeds", data)
    result = run("seed", env={**env, "IMPACT_GRAPH_SEEDS_DIR": str(seeds_dir)})
    assert result.returncode == 2
    assert result.stderr.startswith("seed error: graph.yaml:")
    assert "words the documents never say" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "cli.db").exists()


def test_unsupported_database_url_is_a_configuration_error(env):
    result = run("migrate", env={**env, "DATABASE_URL": "mysql://root@localhost/test"})
    assert result.returncode == 2
    assert "configuration error" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("workers", ["0", "65", "two"])
def test_serve_refuses_a_number_of_workers_out_of_range(env, tmp_path, workers):
    result = run("serve", "--workers", workers, env=env)
    assert result.returncode == 2
    assert f"--workers: '{workers}' is not a number from 1 to 64" in result.stderr
    assert not (tmp_path / "cli.db").exists()


def test_export_schema_check_fails_where_the_committed_sdl_is_out_of_date(
    tmp_path, monkeypatch, capsys
):
    """CI's check: an SDL file the schema no longer matches is exit 1, with what to run, and
    the file is left as it was (in this process: the committed file is not the one changed)."""
    from server import cli

    stale = tmp_path / "schema.graphql"
    stale.write_text(cli.export_schema() + "scalar Gone\n", encoding="utf-8")
    before = stale.read_text(encoding="utf-8")
    monkeypatch.setattr(cli, "SCHEMA_FILE", stale)
    assert cli.main(["export-schema", "--check"]) == 1
    said = capsys.readouterr().out
    assert said == "schema.graphql is out of date; run `impact-graph export-schema`\n"
    assert stale.read_text(encoding="utf-8") == before


def test_serve_listens_on_an_ipv6_address(env):
    """A host with a colon is an IPv6 address (as uvicorn binds one): `--host ::1` serves
    there, and the URL printed is one to open (`http://[::1]:port/`; `serving` checks it)."""
    try:
        with socket.socket(socket.AF_INET6) as probe:
            probe.bind(("::1", 0))
    except OSError as error:  # (a skip fails .ci/run: a machine without it is told)
        pytest.skip(f"this machine has no IPv6 loopback: {error}")
    with serving(env, "--host", "::1") as (_, url):
        assert url.startswith("http://[::1]:")
        assert httpx.get(url.replace("/graphql", "/healthz"), timeout=10).json() == {"status": "ok"}


def test_serve_takes_a_number_of_workers_from_1_to_64():
    """The bounds are numbers of workers too (read by the parser alone: 64 workers are not
    started here)."""
    for workers in (1, 64):
        assert build_parser().parse_args(["serve", "--workers", str(workers)]).workers == workers


def test_export_schema_check_and_stdout(env):
    assert run("export-schema", "--check", env=env).returncode == 0
    printed = run("export-schema", "-o", "-", env=env)
    assert printed.stdout.startswith('"""')
    assert "type Query" in printed.stdout


@pytest.mark.parametrize(
    ("given", "driver"),
    [
        ("sqlite:///var/x.db", "sqlite+aiosqlite"),
        ("sqlite:////tmp/x.db", "sqlite+aiosqlite"),
        ("postgresql://me@127.0.0.1:5432/test", "postgresql+asyncpg"),
        ("postgres://me@db/test", "postgresql+asyncpg"),
        ("postgresql+psycopg2://me@db/test", "postgresql+asyncpg"),
    ],
)
def test_database_urls_pick_the_async_driver(given, driver):
    assert async_url(given).drivername == driver


@pytest.mark.parametrize("given", ["mysql://root@db/x", "not a url", "oracle://x"])
def test_other_database_urls_are_refused(given):
    with pytest.raises(DatabaseUrlError):
        async_url(given)


@pytest.mark.parametrize(
    "given",
    [
        "postgresql://me@db/test?ssl=require&sslmode=require",
        "postgresql://me@db/test?sslmode=disable&ssl=require",
    ],
)
def test_a_postgresql_url_giving_ssl_twice_over_is_refused(given):
    """libpq's `sslmode` is asyncpg's `ssl`: given both, one would silently win."""
    with pytest.raises(DatabaseUrlError, match="gives both ssl and sslmode; give one"):
        async_url(given)


async def test_a_postgresql_url_says_libpq_s_options_as_managed_databases_write_them():
    """`?sslmode=` (libpq's name for asyncpg's `ssl`) and `application_name` are read as
    asyncpg reads them, not handed to its `connect` as keywords it refuses (a TypeError for
    every connection). This server has no TLS: `require` is refused by it, as it should be."""
    await _require_postgres()
    # (the host and port as options too: a Unix socket's directory is given so, `?host=/x`)
    url = make_url(POSTGRES_URL)
    options = f"host={url.host}&port={url.port or 5432}&sslmode=disable"
    engine = create_engine(
        f"postgresql://{url.username}@/{url.database}?{options}&application_name=impact-graph-check"
    )
    try:
        async with engine.connect() as connection:
            named = await connection.scalar(text("SELECT current_setting('application_name')"))
            tls = await connection.scalar(
                text("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
            )
    finally:
        await engine.dispose()
    assert (named, tls) == ("impact-graph-check", False)
    required = create_engine(f"{POSTGRES_URL}?sslmode=require")
    try:
        with pytest.raises(ConnectionError, match="rejected SSL"):
            async with required.connect():
                pass
    finally:
        await required.dispose()


def test_seed_check_does_not_migrate_an_old_store(env, tmp_path):
    (tmp_path / "cli.db").touch()
    result = run("seed", "--check", env=env)
    assert result.returncode == 1
    assert "not migrated to the current schema" in result.stdout
    assert (tmp_path / "cli.db").stat().st_size == 0


COMMITTED_SDL = Path(__file__).resolve().parent.parent / "schema" / "schema.graphql"


def _schema_diff(tmp_path: Path, new_sdl: str) -> subprocess.CompletedProcess[str]:
    new = tmp_path / "new.graphql"
    new.write_text(new_sdl, encoding="utf-8")
    command = [sys.executable, "-m", "server.cli", "schema-diff", str(COMMITTED_SDL), str(new)]
    return subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)


def test_schema_diff_names_breaking_and_dangerous_changes(tmp_path):
    sdl = COMMITTED_SDL.read_text(encoding="utf-8")
    same = _schema_diff(tmp_path, sdl)
    assert same.returncode == 0
    assert same.stdout.strip() == "no breaking or dangerous changes"

    without_kind = sdl.replace("  kind: ProgramKind!\n", "  category: ProgramKind!\n", 1)
    assert without_kind != sdl
    breaking = _schema_diff(tmp_path, without_kind)
    assert breaking.returncode == 1
    assert "BREAKING FIELD_REMOVED: Field Program.kind was removed." in breaking.stdout

    more_kinds = sdl.replace("enum ProgramKind {\n", "enum ProgramKind {\n  BRAND_NEW\n", 1)
    assert more_kinds != sdl
    dangerous = _schema_diff(tmp_path, more_kinds)
    assert dangerous.returncode == 0
    assert "DANGEROUS VALUE_ADDED_TO_ENUM: Enum value ProgramKind.BRAND_NEW was added." in (
        dangerous.stdout
    )

    broken = _schema_diff(tmp_path, "type Query {")
    assert broken.returncode == 2
    assert broken.stderr.startswith("error: not a valid schema")
    assert "Traceback" not in broken.stderr


def _graph_yaml(tmp_path: Path, edit: Callable[[str], str]) -> Path:
    """A copy of seeds/ whose graph.yaml, as dumped, `edit` rewrites."""
    seeds_dir = write_seed_tree(tmp_path / "bad-seeds")
    graph = seeds_dir / "graph.yaml"
    graph.write_text(edit(graph.read_text(encoding="utf-8")), encoding="utf-8")
    return seeds_dir


def _twice(line: str) -> Callable[[str], str]:
    """The line holding `line`, given again below itself (its own indent): a duplicate key."""
    pattern = re.compile(rf"^( *){re.escape(line)}\n", re.M)
    return lambda text: pattern.sub(rf"\g<0>\g<1>{line}\n", text, count=1)


def _huge_founded_year(text: str) -> str:
    """The company founded in year 10**25, a year no quote gives, so said to be inferred."""
    data = yaml.safe_load(text)
    company = data["companies"][0]
    company["founded_year"] = 10**25
    fields = company.setdefault("provenance", {}).setdefault("fields", {})
    fields["founded_year"] = {"basis": "INFERRED", "note": "a test's"}
    return str(yaml.safe_dump(data, allow_unicode=True))


BAD_GRAPHS = {
    # a Float! the API cannot serve (JSON has no inf or nan), which was seeded all the same
    "infinite": (
        lambda t: t.replace("value: 60\n", "value: .inf\n"),
        "figures.0.value: Input should be a finite number",
    ),
    "nan": (
        lambda t: t.replace("value: 60\n", "value: .nan\n"),
        "figures.0.value: Input should be a finite number",
    ),
    # more than an INTEGER column holds (SQLite: an OverflowError; PostgreSQL: a database error)
    "huge year": (
        _huge_founded_year,
        "companies.0.founded_year: Input should be less than or equal to 9999",
    ),
    # PyYAML composes by recursion: a RecursionError and its 1,000-line traceback
    "deep": (
        lambda _: "companies: " + "[" * 5000 + "]" * 5000 + "\n",
        "cannot read YAML: nested too deeply",
    ),
    # PyYAML keeps the last: a fact given twice passed unseen
    "duplicate key": (_twice("founded_year: 1929"), "found duplicate key 'founded_year'"),
}


@pytest.mark.parametrize("case", BAD_GRAPHS)
def test_a_bad_value_is_a_seed_error_for_check_and_seed(env, tmp_path, case):
    edit, message = BAD_GRAPHS[case]
    seeds_dir = _graph_yaml(tmp_path, edit)
    for command in (["seed", "--check"], ["seed"]):
        result = run(*command, env={**env, "IMPACT_GRAPH_SEEDS_DIR": str(seeds_dir)})
        assert result.returncode == 2, (command, result.stdout, result.stderr[-2000:])
        assert result.stderr.startswith("seed error: graph.yaml: "), result.stderr[-2000:]
        assert message in result.stderr
        assert "Traceback" not in result.stderr
    assert not (tmp_path / "cli.db").exists()


def test_a_duplicate_key_names_its_line(env, tmp_path):
    seeds_dir = _graph_yaml(tmp_path, _twice("founded_year: 1929"))
    lines = (seeds_dir / "graph.yaml").read_text(encoding="utf-8").splitlines()
    second = [n for n, line in enumerate(lines, 1) if "founded_year" in line][1]
    result = run("seed", "--check", env={**env, "IMPACT_GRAPH_SEEDS_DIR": str(seeds_dir)})
    assert f"found duplicate key 'founded_year'\n  in \"graph.yaml\", line {second}," in (
        result.stderr
    )


def _crashing(command: str, raised: str) -> str:
    """`impact-graph <command>` whose store set-up raises `raised` (a bug, in effect)."""
    return (
        "import server.cli as cli\n"
        "async def crash(*_, **__):\n"
        f"    raise {raised}\n"
        "cli.prepare_store = crash\n"
        f"raise SystemExit(cli.main([{command!r}]))\n"
    )


@pytest.mark.parametrize("command", ["seed", "serve", "migrate"])
def test_an_unexpected_error_is_one_line_and_exit_2(env, command):
    code = _crashing(command, "RuntimeError('a bug\\n  File \"/somewhere/secret.py\"')")
    result = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 2
    assert result.stderr == "error: unexpected RuntimeError: a bug\n"
    for level in ("debug", "trace"):  # asked for (trace: below debug): where it came from
        asked = {**env, "IMPACT_GRAPH_LOG_LEVEL": level}
        result = subprocess.run(
            [sys.executable, "-c", code], env=asked, capture_output=True, text=True, timeout=120
        )
        assert result.returncode == 2
        assert result.stderr.startswith("error: unexpected RuntimeError: a bug\n")
        assert "Traceback" in result.stderr, level


@pytest.mark.parametrize(
    ("error", "told"),
    [
        (RuntimeError('a bug\n  File "/somewhere/secret.py"'), "RuntimeError: a bug"),
        (
            RuntimeError('\n  File "/somewhere/secret.py"'),
            'RuntimeError: File "/somewhere/secret.py"',
        ),
        (RuntimeError("   "), "RuntimeError"),
        (TimeoutError(), "TimeoutError"),
    ],
)
def test_an_error_is_told_by_its_type_and_its_first_line_of_text(error, told):
    assert one_line(error) == told


def test_an_interrupt_is_still_an_interrupt(env):
    code = _crashing("seed", "KeyboardInterrupt")
    result = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == -signal.SIGINT  # as Python ends on an uncaught interrupt
    assert "error: unexpected" not in result.stderr


def test_a_stray_cancellation_is_not_taken_for_sigterm(env):
    """Only SIGTERM's cancellation of the work is a stop by SIGTERM: a cancellation of the
    work's own (a defect) is neither said to be one nor ends the process as the signal; it
    is an unexpected error, one line and exit 2 (it was a traceback and exit 1)."""
    code = _crashing("seed", "__import__('asyncio').CancelledError()")
    result = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 2
    assert result.stderr == "error: unexpected CancelledError\n"


def test_a_bad_setting_is_a_configuration_error(env):
    result = run("migrate", env={**env, "IMPACT_GRAPH_PORT": "eighty"})
    assert result.returncode == 2
    assert result.stderr.startswith("configuration error: IMPACT_GRAPH_PORT: Input should be")
    assert len(result.stderr.splitlines()) == 1


@pytest.mark.parametrize(
    ("name", "value", "says"),
    [
        ("IMPACT_GRAPH_LOG_LEVEL", "bogus", "IMPACT_GRAPH_LOG_LEVEL: Input should be"),
        ("CACHE_URL", "redis://127.0.0.1:notaport/0", "CACHE_URL: Value error, Port"),
        # redis-py wrote to database 0, without a word
        ("CACHE_URL", "redis://127.0.0.1:6379/abc", "the path '/abc' is no database number"),
        # Redis refuses them (a database past its 16, a user it does not know): the server
        # ran with the cache and the rate limit off, one warning a minute
        ("CACHE_URL", "redis://127.0.0.1:6379/99", "Redis refused the connection: DB index"),
        (
            "CACHE_URL",
            "redis://who:wrong@127.0.0.1:6379/0",
            "refused the connection: invalid username",
        ),
        ("PROMETHEUS_MULTIPROC_DIR", "/nonexistent/dir", "is not a directory"),
        ("OTEL_EXPORTER_OTLP_ENDPOINT", "collector:4318", "OTEL_EXPORTER_OTLP_ENDPOINT: String"),
        # read as the app is built, which `serve` did after it had migrated and seeded
        ("IMPACT_GRAPH_TRUSTED_DOCUMENTS", "/nonexistent/manifest.json", "manifest: [Errno 2]"),
        # options asyncpg does not read: every query was an "Internal server error" (a
        # TypeError in connect), the server up and its metrics saying 200
        (
            "DATABASE_READ_URL",
            f"{PG}?channel_binding=require",
            "DATABASE_READ_URL option 'channel_binding' is not one this server reads",
        ),
        ("DATABASE_READ_URL", f"{PG}?sslmode=on", "DATABASE_READ_URL option sslmode='on' is none"),
        ("DATABASE_READ_URL", f"{PG}?connect_timeout=3", "IMPACT_GRAPH_DB_CONNECT_TIMEOUT instead"),
        ("DATABASE_READ_URL", f"{PG}?ssl=require&sslmode=require", "both ssl and sslmode"),
        ("DATABASE_READ_URL", f"{PG}?target_session_attrs=main", "is none of any, primary"),
        ("DATABASE_READ_URL", f"{PG}?port=fivefour", "option port='fivefour' is not a number"),
        ("DATABASE_READ_URL", "mysql://root@localhost/test", "DATABASE_READ_URL scheme 'mysql'"),
    ],
)
def test_settings_read_by_others_are_checked_at_start_up(env, tmp_path, name, value, says):
    """Settings uvicorn, redis-py, prometheus-client or the OTLP exporter read: a bad one is
    one line and exit 2 before anything starts, not an "unexpected" error once the store
    was migrated, a "database error", or an error logged for every batch of spans."""
    result = run("serve", env={**env, name: value})
    assert result.returncode == 2
    assert result.stderr.startswith("configuration error: ")
    assert says in result.stderr
    assert len(result.stderr.splitlines()) == 1
    assert not (tmp_path / "cli.db").exists()


def test_uvicorns_trace_log_level_is_a_level(env):
    result = run("migrate", env={**env, "IMPACT_GRAPH_LOG_LEVEL": "TRACE"})
    assert result.returncode == 0, result.stderr


def test_serve_where_it_cannot_listen_is_one_line_and_exit_2(env, tmp_path):
    """A host that is no address of this machine, or a port taken: one line, exit 2, and
    nothing printed saying the server is up (it was printed, then uvicorn exited 3)."""
    from tests.serving import copy_seeded_store  # (it imports this module)

    copy_seeded_store(tmp_path / "cli.db")  # nothing to seed: the store is ready at once
    taken = socket.create_server(("127.0.0.1", 0))
    with taken:
        for where in (["--host", "no-such-host.invalid"], ["--port", str(taken.getsockname()[1])]):
            result = run("serve", *where, env=env)
            assert result.returncode == 2, result.stderr
            *migrated, said = result.stderr.splitlines()  # (the store is made ready first)
            assert said.startswith("error: cannot listen on "), result.stderr
            assert all(line.startswith("INFO alembic") for line in migrated)
            assert "is up" not in result.stdout


def test_two_seeds_of_one_sqlite_store_at_once_both_succeed(env):
    """The second waits for the first (SQLite's write lock, taken as the seed begins), as on
    PostgreSQL: it failed with `database is locked` (exit 2), having read the store before
    the first committed."""
    assert run("migrate", env=env).returncode == 0
    seeds = [
        subprocess.Popen([COMMAND, "seed"], env=env, stdout=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    said = sorted(seed.communicate(timeout=120)[0].splitlines()[-1] for seed in seeds)
    assert [seed.returncode for seed in seeds] == [0, 0]
    assert said[0].startswith("seeded: inserted ")
    assert said[1] == "seeded: store matches the seeds; nothing to change"
