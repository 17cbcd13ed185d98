"""A real streaming replica of the tests' PostgreSQL (TEST_POSTGRES_URL's server): copied by
`pg_basebackup` into a temporary directory and started as a hot standby on a free port,
stopped and removed at the end whatever happened.

The primary must accept replication connections from 127.0.0.1; `scripts/allow_replication.sh`
(run by .ci/run) sets that up. PostgreSQL refuses to run as root, so as root the replica's
commands run as the `postgres` user, in a directory it owns.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import make_url

from tests.test_cli import free_port

COMMAND_SECONDS = 120  # any one pg_basebackup, pg_ctl or psql run; the machine may be busy
# What a hot standby must have at least as much of as its primary, or it does not start.
AT_LEAST_THE_PRIMARYS = (
    "max_connections",
    "max_worker_processes",
    "max_wal_senders",
    "max_prepared_transactions",
    "max_locks_per_transaction",
)


class ReplicaError(AssertionError):
    """The replica could not be built, started or asked; the message says why."""


def _as_postgres() -> list[str]:
    return ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []


def _run(*command: str) -> str:
    done = subprocess.run(
        [*_as_postgres(), *command],
        capture_output=True,
        text=True,
        timeout=COMMAND_SECONDS,
        check=False,
    )
    if done.returncode != 0:
        raise ReplicaError(f"{Path(command[0]).name} failed: {done.stderr.strip()[-1500:]}")
    return done.stdout


@dataclass
class Replica:
    """A hot standby: its URL (the primary's database, on the replica's port) and controls."""

    url: str
    port: int
    data: Path
    bin: Path

    def sql(self, statement: str, database: str = "postgres") -> str:
        """One statement on the replica, through psql; its output, unaligned."""
        return _run(
            str(self.bin / "psql"),
            *("-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "-d", database),
            *("-X", "-At", "-v", "ON_ERROR_STOP=1", "-c", statement),
        ).strip()

    def start(self) -> None:
        log = self.data.parent / "replica.log"
        _run(
            str(self.bin / "pg_ctl"),
            "-D",
            str(self.data),
            "-l",
            str(log),
            "-w",
            "-t",
            "60",
            "start",
        )

    def stop(self) -> None:
        _run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "-t", "60", "stop")

    def running(self) -> bool:
        status = subprocess.run(
            [*_as_postgres(), str(self.bin / "pg_ctl"), "-D", str(self.data), "status"],
            capture_output=True,
            timeout=COMMAND_SECONDS,
            check=False,
        )
        return status.returncode == 0

    def pause_replay(self) -> None:
        """Stop applying what the primary sends (it is still received), as a lagging replica."""
        self.sql("SELECT pg_wal_replay_pause()")
        self.wait_for(lambda: self.sql("SELECT pg_get_wal_replay_pause_state()") == "paused")

    def resume_replay(self) -> None:
        self.sql("SELECT pg_wal_replay_resume()")

    def wait_for(self, condition: object, seconds: float = 60) -> None:
        assert callable(condition)
        deadline = time.monotonic() + seconds
        while not condition():
            if time.monotonic() > deadline:
                raise ReplicaError(f"the replica did not get there in {seconds:g} s")
            time.sleep(0.1)


def _bin_dir(major: str) -> Path:
    """The primary's major version's binaries: a replica must run the same major."""
    versioned = Path(f"/usr/lib/postgresql/{major}/bin")
    if versioned.is_dir():
        return versioned
    found = shutil.which("pg_ctl")
    if found is None:
        raise ReplicaError("no pg_ctl: install the PostgreSQL server binaries")
    return Path(found).resolve().parent


def _ask_primary(primary_url: str, setting: str) -> str:
    url = make_url(primary_url)
    return subprocess.run(
        [
            *(
                shutil.which("psql") or "psql",
                "-h",
                url.host or "127.0.0.1",
                "-p",
                str(url.port or 5432),
            ),
            *("-U", url.username or "postgres", "-d", url.database or "postgres"),
            *("-X", "-At", "-c", f"SHOW {setting}"),
        ],
        capture_output=True,
        text=True,
        timeout=COMMAND_SECONDS,
        check=True,
    ).stdout.strip()


def _configure(data: Path, port: int, primary_url: str) -> None:
    """The replica's own configuration: Debian keeps the primary's outside its data directory,
    so nothing of it was copied but postgresql.auto.conf (where -R put primary_conninfo)."""
    settings = {
        "port": str(port),
        "listen_addresses": "'127.0.0.1'",
        "unix_socket_directories": f"'{data.parent}'",
        "hba_file": f"'{data / 'pg_hba.conf'}'",
        "hot_standby": "on",
        "shared_buffers": "'32MB'",
        "fsync": "off",  # a throwaway copy
        **{name: _ask_primary(primary_url, name) for name in AT_LEAST_THE_PRIMARYS},
    }
    (data / "postgresql.conf").write_text(
        "".join(f"{name} = {value}\n" for name, value in settings.items())
    )
    (data / "pg_hba.conf").write_text("local all all trust\nhost all all 127.0.0.1/32 trust\n")


@contextmanager
def streaming_replica(primary_url: str) -> Iterator[Replica]:
    """A hot standby of `primary_url`'s server, streaming from it; yields once it streams."""
    url = make_url(primary_url)
    major = _ask_primary(primary_url, "server_version_num")[:-4]
    binaries = _bin_dir(major)
    directory = Path(tempfile.mkdtemp(prefix="impact-graph-replica-"))
    if os.geteuid() == 0:
        owner = pwd.getpwnam("postgres")
        os.chown(directory, owner.pw_uid, owner.pw_gid)
    data = directory / "data"
    port = free_port()
    replica = Replica(
        url.set(port=port).render_as_string(hide_password=False), port, data, binaries
    )
    try:
        try:
            _run(
                str(binaries / "pg_basebackup"),
                *("-h", url.host or "127.0.0.1", "-p", str(url.port or 5432)),
                *("-U", url.username or "postgres", "-D", str(data)),
                *("-X", "stream", "-R", "--checkpoint=fast", "--no-sync"),
            )
        except ReplicaError as error:
            if "replication connection" in str(error):
                raise ReplicaError(
                    f"{error}\nThe local PostgreSQL must accept replication connections: run "
                    "scripts/allow_replication.sh as root (.ci/run does)"
                ) from None
            raise
        _configure(data, port, primary_url)
        if os.geteuid() == 0:
            for written in ("postgresql.conf", "pg_hba.conf"):
                shutil.chown(data / written, "postgres", "postgres")
        replica.start()
        replica.wait_for(
            lambda: replica.sql("SELECT status FROM pg_stat_wal_receiver") == "streaming"
        )
        assert replica.sql("SELECT pg_is_in_recovery()") == "t"
        yield replica
    finally:
        try:
            if data.exists() and replica.running():
                _run(str(binaries / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop")
        finally:
            shutil.rmtree(directory, ignore_errors=True)
