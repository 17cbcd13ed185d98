"""`serve --workers N` stops accepting on SIGTERM as one process does (server/cli.py
`Workers`): the parent closes its copy of the listening socket at once, so while a request in
flight keeps a worker (and so the parent) alive, a new connection is refused, not accepted by
the kernel and never answered."""

from __future__ import annotations

import signal
import socket
import time

from tests.serving import serving

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
