"""CI's check of the contract over main's history (scripts/check_schema_history.py), on a
repository of its own: an undeclared break fails wherever it is in the line, a declared one
passes, also when a merge brings it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "check_schema_history.py"
V1 = 'type Query {\n  "A greeting."\n  hello: String!\n  bye: String\n}\n'
V2_ADDS = V1.replace("  bye: String\n", "  bye: String\n  later: Int\n")
V3_REMOVES = V2_ADDS.replace("  bye: String\n", "")
IDENTITY = {
    "GIT_AUTHOR_NAME": "t",
    "GIT_AUTHOR_EMAIL": "t@example.org",
    "GIT_COMMITTER_NAME": "t",
    "GIT_COMMITTER_EMAIL": "t@example.org",
}


def git(repository: Path, *arguments: str) -> None:
    subprocess.run(
        ["git", "-C", str(repository), *arguments],  # noqa: S607 - git from PATH
        check=True,
        capture_output=True,
        env={**os.environ, **IDENTITY},
    )


def commit(repository: Path, sdl: str, message: str) -> None:
    (repository / "schema").mkdir(exist_ok=True)
    (repository / "schema" / "schema.graphql").write_text(sdl)
    git(repository, "add", "-A")
    git(repository, "commit", "-q", "--allow-empty", "-m", message)


def check(repository: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SCRIPT), str(repository)],
        capture_output=True,
        text=True,
        check=False,
    )


@pytest.fixture
def repository(tmp_path: Path) -> Path:
    git(tmp_path, "init", "-q", "-b", "main")
    (tmp_path / "CHANGELOG.md").write_text("# Changelog\n")
    commit(tmp_path, V1, "start")
    return tmp_path


def test_an_undeclared_break_fails_even_with_commits_after_it(repository: Path):
    commit(repository, V2_ADDS, "add a field")
    assert check(repository).returncode == 0
    commit(repository, V3_REMOVES, "drop bye")
    commit(repository, V3_REMOVES + "\n", "an unrelated commit after it")
    checked = check(repository)
    assert checked.returncode == 1
    assert "drop bye" in checked.stderr
    assert "Query.bye was removed" in checked.stderr


def test_a_declared_break_passes(repository: Path):
    commit(repository, V3_REMOVES, "drop bye\n\nBREAKING SCHEMA CHANGE: nobody asks for it")
    assert check(repository).returncode == 0


def test_a_merge_brings_its_branch_s_declaration(repository: Path):
    git(repository, "checkout", "-q", "-b", "topic")
    commit(repository, V3_REMOVES, "drop bye\n\nBREAKING SCHEMA CHANGE")
    git(repository, "checkout", "-q", "main")
    commit(repository, V1 + "\n", "meanwhile on main")
    git(repository, "merge", "-q", "--no-ff", "--no-edit", "topic")
    checked = check(repository)
    assert checked.returncode == 0, checked.stderr
    git(repository, "checkout", "-q", "-b", "other", "HEAD~1")
    commit(repository, V3_REMOVES.replace("  later: Int\n", ""), "drop later, silently")
    git(repository, "checkout", "-q", "main")
    git(repository, "merge", "-q", "--no-ff", "--no-edit", "-X", "theirs", "other")
    checked = check(repository)
    assert checked.returncode == 1
    assert "later was removed" in checked.stderr
