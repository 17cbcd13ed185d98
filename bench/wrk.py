"""wrk as the load generator: closed loop, fixed connections, a POST body from a Lua script.

wrk's own `done` hook prints the summary as one JSON line, so nothing is parsed from its
human-readable report. Debian's wrk is installed when missing.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from bench.processes import TASKSET

RESULT_PREFIX = "BENCH-RESULT "
_DONE = r"""
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH-RESULT {"requests":%d,"duration_us":%d,"p50_us":%d,"p99_us":%d,"max_us":%d,' ..
    '"bytes":%d,"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d}}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    latency.max, summary.bytes, e.connect, e.read, e.write, e.status, e.timeout))
end
"""


@dataclass(frozen=True)
class LoadResult:
    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    errors: dict[str, int]

    @property
    def per_second(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    @property
    def failed(self) -> int:
        return sum(self.errors.values())


def ensure_wrk() -> str:
    return ensure_command("wrk")


def ensure_command(name: str) -> str:
    """The path of `name`, its Debian package (of the same name) installed when missing."""
    found = shutil.which(name)
    if found:
        return found
    if os.geteuid() != 0:
        raise RuntimeError(f"{name} is missing; install it (apt-get install {name}) or run as root")
    print(f"installing {name} (Debian package)")
    subprocess.run(["apt-get", "update", "-qq"], check=True)  # noqa: S607
    subprocess.run(["apt-get", "install", "-y", "-qq", name], check=True)  # noqa: S603, S607
    return shutil.which(name) or name


def lua_script(body: bytes, directory: Path) -> Path:
    text = body.decode()
    level = "=" * next(n for n in range(1, 50) if f"]{'=' * n}]" not in text)
    script = (
        'wrk.method = "POST"\n'
        'wrk.headers["Content-Type"] = "application/json"\n'
        'wrk.headers["Accept"] = "application/json"\n'
        f"wrk.body = [{level}[{text}]{level}]\n" + _DONE
    )
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"body-{hashlib.sha256(body).hexdigest()[:12]}.lua"
    path.write_text(script)
    return path


def run_wrk(
    wrk: str, port: int, script: Path, *, seconds: float, connections: int, cpu: int
) -> LoadResult:
    """One closed-loop run; wrk's thread and sockets stay on `cpu`."""
    command = [
        TASKSET,
        "-c",
        str(cpu),
        wrk,
        "-t1",
        f"-c{connections}",
        f"-d{max(1, round(seconds))}s",
        "--timeout",
        "60s",
        "-s",
        str(script),
        f"http://127.0.0.1:{port}/graphql",
    ]
    done = subprocess.run(  # noqa: S603 (argv built here)
        command, capture_output=True, text=True, timeout=seconds + 120, check=False
    )
    lines = [line for line in done.stdout.splitlines() if line.startswith(RESULT_PREFIX)]
    if done.returncode != 0 or not lines:
        raise RuntimeError(f"wrk failed ({done.returncode}): {done.stderr[-500:]}")
    result = json.loads(lines[-1][len(RESULT_PREFIX) :])
    return LoadResult(
        requests=int(result["requests"]),
        seconds=result["duration_us"] / 1e6,
        p50_ms=result["p50_us"] / 1000,
        p99_ms=result["p99_us"] / 1000,
        errors={k: int(v) for k, v in result["errors"].items()},
    )
