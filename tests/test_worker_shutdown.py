"""`serve --workers N` stops as one process does: on SIGTERM the parent closes its copy of
the listening socket at once (server/cli.py `Workers`), so while a request in flight keeps a
worker (and so the parent) alive, a new connection is refused, not accepted by the kernel and
never answered; and a stop that reaches every process drains as one (server/shutdown.py)."""

from __future__ import annotations

import os
import signal
import socket
import time

from tests.serving import serving
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


def test_a_stop_that_reaches_every_process_drains_once(tmp_path):
    """Each worker gets the signal itself, then again from the supervisor: that is the same
    stop, and the drain goes on (readiness 503); a signal later ends it."""
    settings = {
        "IMPACT_GRAPH_SHUTDOWN_DRAIN": "10",
        "IMPACT_GRAPH_SHUTDOWN_GRACE": "1",
        "IMPACT_GRAPH_LOG_LEVEL": "info",  # each worker says when it is up
        "IMPACT_GRAPH_KEEP_ALIVE_TIMEOUT": "60",  # `held` waits for the other worker
    }
    with (
        serving(tmp_path, settings, arguments=["--workers", "2"]) as server,
        socket.create_connection(("127.0.0.1", server.port), timeout=5) as held,
    ):
        held.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        assert read_response(held)[0] == 200  # its worker is up
        deadline = time.monotonic() + 30
        while server.log.read_text().count("Application startup complete") < 2:  # and the other
            assert time.monotonic() < deadline, server.log.read_text()[-2000:]
            time.sleep(0.1)
        workers = processes_of(server.process.pid)[1:]
        signalled = time.monotonic()
        for pid in processes_of(server.process.pid):
            os.kill(pid, signal.SIGTERM)
        time.sleep(1.5)  # the supervisor has passed it on by now (it looks every 0.5 s)
        held.sendall(b"GET /readyz HTTP/1.1\r\nHost: x\r\n\r\n")
        assert read_response(held)[0] == 503  # still draining
        time.sleep(max(0.0, signalled + 3.5 - time.monotonic()))
        for pid in workers:
            os.kill(pid, signal.SIGTERM)  # a second request: stop now
        assert server.process.wait(timeout=20) == 0
        exited = time.monotonic() - signalled
    assert exited < 8  # not at the drain's end (10 s)
