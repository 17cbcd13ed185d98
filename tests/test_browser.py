"""GraphiQL in a real browser: Debian's chromium, driven by playwright-core
(tests/browser/), with every request to another host aborted. The page must load from this
server alone, run the query it opens on, and show the answer. The screenshot is kept in
test-output/ (ignored by git)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

from tests.live_server import served

BROWSER_DIR = Path(__file__).resolve().parent / "browser"
OUTPUT = Path(__file__).resolve().parent.parent / "test-output"
NODE = shutil.which("node") or "node"  # the machines' Node 20


def test_graphiql_runs_the_traversal_offline_in_chromium(tmp_path):
    chromium = os.environ.get("CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
    assert Path(chromium).exists(), "chromium is missing: `make test` installs it (apt-get)"
    assert (BROWSER_DIR / "node_modules" / "playwright-core").is_dir(), "run `make test`"
    with served(tmp_path / "browser.db") as url:
        OUTPUT.mkdir(exist_ok=True)
        screenshot = OUTPUT / "graphiql.png"
        driven = subprocess.run(
            [NODE, str(BROWSER_DIR / "graphiql.mjs"), url, str(screenshot)],
            env={**os.environ, "CHROMIUM": chromium},
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert driven.returncode == 0, driven.stderr[-2000:]
        seen = json.loads(driven.stdout.strip().splitlines()[-1])
        assert seen["aborted"] == []  # the page asked nothing of another host
        assert seen["errors"] == []
        assert '"name": "Sony Music"' in seen["result"]
        assert '"foundedYear": 1929' in seen["result"]
        assert screenshot.stat().st_size > 10_000
