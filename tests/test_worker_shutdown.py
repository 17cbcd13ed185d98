"""`serve --workers N` stops as one process does: on SIGTERM the parent closes its copy of
the listening socket at once (server/cli.py `Workers`), so while a request in flight keeps a
worker (and so the parent) alive, a new connection is refused, not accepted by the kernel and
never answered; a stop that reaches every process drains as one (server/shutdown.py), and a
second signal to the parent alone, as Kubernetes and `docker stop` send, ends the drain."""

from __future__ import annotations

import os
import signal
import socket
import time

import pytest

from tests.serving import Served, serving
from tests.test_connections import read_response

SETTINGS = {
    "IMPACT_GRAPH_BODY_TIMEOUT": "60",  # neither deadline ends the upload during the test
    "IMPACT_GRAPH_SHUTDOWN_GRACE": "30",
}
# a body announced and never sent; 100-continue: the answer shows a worker's app is reading it
UPLOAD = (
    b"POST /graphql HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
    b"Content-Length: 1000\r\nExpect: 100-continue\r\n\r\n"
)


def refused(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
    except ConnectionRefusedError:
        return True
    except TimeoutError:
        pass
    return False  # accepted: a handshake the kernel completed, whether anyone answers or not


def test_sigterm_refuses_new_connections_while_a_worker_drains(tmp_path):
    with serving(tmp_path, SETTINGS, arguments=["--workers", "2"]) as server:
        with socket.create_connection(("127.0.0.1", server.port), timeout=5) as upload:
            upload.sendall(UPLOAD)
            assert upload.recv(64).startswith(b"HTTP/1.1 100 Continue")
            server.process.send_signal(signal.SIGTERM)
            deadline = time.monotonic() + 3
            while not refused(server.port):
                assert time.monotonic() < deadline, "still accepting connections after SIGTERM"
                time.sleep(0.1)
            assert server.process.poll() is None  # the upload holds its worker, and the parent
        # the upload given up, its worker and then the parent exit, long before the grace
        assert server.process.wait(timeout=10) == 0


def processes_of(parent: int) -> list[int]:
    """The parent and its children (Linux), as systemd's default stop signals them all."""
    with open(f"/proc/{parent}/task/{parent}/children") as children:
        return [parent, *(int(pid) for pid in children.read().split())]


DRAINING = {
    "IMPACT_GRAPH_SHUTDOWN_DRAIN": "10",
    "IMPACT_GRAPH_SHUTDOWN_GRACE": "1",
    "IMPACT_GRAPH_LOG_LEVEL": "info",  # each worker says when it is up
    "IMPACT_GRAPH_KEEP_ALIVE_TIMEOUT": "60",  # `held` waits for the other worker
}


def wait_for_both_workers(server: Served, held: socket.socket) -> None:
    """Both workers serving: a signal then finds each one's drain installed."""
    held.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
    assert read_response(held)[0] == 200  # its worker is up
    deadline = time.monotonic() + 30
    while server.log.read_text().count("Application startup complete") < 2:  # and the other
        assert time.monotonic() < deadline, server.log.read_text()[-2000:]
        time.sleep(0.1)


def test_a_stop_that_reaches_every_process_drains_once(tmp_path):
    """Each worker gets the signal itself, then again from the supervisor: that is the same
    stop, and the drain goes on (readiness 503); a signal later ends it."""
    with (
        serving(tmp_path, DRAINING, arguments=["--workers", "2"]) as server,
        socket.create_connection(("127.0.0.1", server.port), timeout=5) as held,
    ):
        wait_for_both_workers(server, held)
        workers = processes_of(server.process.pid)[1:]
        signalled = time.monotonic()
        for pid in processes_of(server.process.pid):
            os.kill(pid, signal.SIGTERM)
        time.sleep(1.5)  # the supervisor has passed it on by now (it looks every 0.5 s)
        held.sendall(b"GET /readyz HTTP/1.1\r\nHost: x\r\n\r\n")
        status, headers, _ = read_response(held)
        assert status == 503  # still draining
        assert headers["connection"] == "close"  # a worker's stop makes each request the last
        time.sleep(max(0.0, signalled + 3.5 - time.monotonic()))
        for pid in workers:
            os.kill(pid, signal.SIGTERM)  # a second request: stop now
        assert server.process.wait(timeout=20) == 0
        exited = time.monotonic() - signalled
    assert exited < 8  # not at the drain's end (10 s)


@pytest.mark.parametrize(
    ("signum", "after"),
    [
        (signal.SIGTERM, 3.0),  # past the workers' echo window (2 s)
        (signal.SIGINT, 0.5),  # within it: passed on once the window is over
    ],
    ids=["SIGTERM-3s-later", "SIGINT-0.5s-later"],
)
def test_a_second_signal_to_the_parent_alone_ends_the_drain(tmp_path, signum, after):
    """Kubernetes and `docker stop` signal the parent only: it passes the first on, and a
    second must reach the workers as one they do not take for the first passed on again."""
    with (
        serving(tmp_path, DRAINING, arguments=["--workers", "2"]) as server,
        socket.create_connection(("127.0.0.1", server.port), timeout=5) as held,
    ):
        wait_for_both_workers(server, held)
        signalled = time.monotonic()
        server.process.send_signal(signum)
        deadline = signalled + 3
        while True:  # the supervisor passes it on within 0.5 s
            held.sendall(b"GET /readyz HTTP/1.1\r\nHost: x\r\n\r\n")
            if read_response(held)[0] == 503:
                break
            assert time.monotonic() < deadline, "readiness never said it was draining"
            time.sleep(0.1)
        time.sleep(max(0.0, signalled + after - time.monotonic()))
        server.process.send_signal(signum)
        assert server.process.wait(timeout=20) == 0
        exited = time.monotonic() - signalled
    assert exited < 8, server.log.read_text()[-3000:]  # not at the drain's end (10 s)


def alive(pid: int) -> bool:
    """Whether `pid` is there and not a zombie (a worker whose parent died is reaped by init,
    or by whatever stands in for it here)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def test_workers_whose_supervisor_is_killed_stop(tmp_path):
    """SIGKILL to the parent (or the OOM killer) signals no worker: each stops on its own, as
    a SIGTERM stops it, rather than serve on for good and hold the port."""
    settings = {**DRAINING, "IMPACT_GRAPH_SHUTDOWN_DRAIN": "0"}  # each stops at once
    with (
        serving(tmp_path, settings, arguments=["--workers", "2"]) as server,
        socket.create_connection(("127.0.0.1", server.port), timeout=5) as held,
    ):
        wait_for_both_workers(server, held)
        children = processes_of(server.process.pid)[1:]  # the workers (and multiprocessing's
        server.process.kill()  # resource tracker, which ends once they do)
        server.process.wait()
        deadline = time.monotonic() + 30  # a grace (1 s here), and the worker's own stop
        try:
            while any(alive(pid) for pid in children):
                assert time.monotonic() < deadline, server.log.read_text()[-2000:]
                time.sleep(0.2)
        finally:  # none left serving, whatever happened
            for pid in filter(alive, children):
                os.kill(pid, signal.SIGKILL)
    assert server.log.read_text().count("is gone: this worker stops") == 2
