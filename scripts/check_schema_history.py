"""CI's check of the published contract, over main's history rather than its last commit.

Every commit on the first-parent line of HEAD since CHANGELOG.md began (the day schema changes
started to be recorded) whose committed SDL breaks clients of its first parent's must declare
it: "BREAKING SCHEMA CHANGE" in the message of one of the commits it brings (a merge's own
and its branch's). No record of what CI checked before is needed, so a push of many commits,
or a merge, is checked whole. A shallow clone fetches its history first; one that cannot is
not checked, and says so.

Usage: python scripts/check_schema_history.py [REPOSITORY]   (exit 1 on an undeclared break)
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from schema.changes import schema_changes

SDL = "schema/schema.graphql"
STARTED = "CHANGELOG.md"
DECLARATION = "BREAKING SCHEMA CHANGE"


def _git(repository: Path, *arguments: str) -> str:
    done = subprocess.run(  # noqa: S603 - git from PATH, arguments of this script
        ["git", "-C", str(repository), *arguments],  # noqa: S607
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise LookupError(done.stderr.strip())
    return done.stdout


def _blob(repository: Path, commit: str) -> str | None:
    try:
        return _git(repository, "rev-parse", f"{commit}:{SDL}").strip()
    except LookupError:
        return None


def undeclared_breaks(repository: Path) -> list[str]:
    """Each undeclared breaking change, as `<commit> <subject>: <change>`."""
    added = _git(repository, "log", "--diff-filter=A", "--format=%H", "--", STARTED).split()
    if not added:
        return []
    start = added[-1]
    line = _git(repository, "rev-list", "--first-parent", "--reverse", f"{start}..HEAD").split()
    found: list[str] = []
    for commit in line:
        parent = f"{commit}^1"
        before, after = _blob(repository, parent), _blob(repository, commit)
        if before is None or after is None or before == after:
            continue
        changes = schema_changes(
            _git(repository, "cat-file", "blob", before),
            _git(repository, "cat-file", "blob", after),
        )
        if not changes.breaking:
            continue
        messages = _git(repository, "log", "--format=%B", f"{parent}..{commit}")
        if DECLARATION in messages:
            continue
        subject = _git(repository, "log", "-1", "--format=%h %s", commit).strip()
        found += [f"{subject}: {change}" for change in changes.breaking]
    return found


def main(arguments: list[str]) -> int:
    repository = Path(arguments[0] if arguments else ".")
    if _git(repository, "rev-parse", "--is-shallow-repository").strip() == "true":
        try:  # a shallow CI checkout: fetch the rest of the history if the remote gives it
            _git(repository, "fetch", "--quiet", "--unshallow")
        except LookupError as error:
            print(
                f"CI: a shallow clone whose history cannot be fetched ({error}); "
                "the schema's history is not checked here"
            )
            return 0
    breaks = undeclared_breaks(repository)
    for change in breaks:
        print(f"BREAKING (undeclared) {change}", file=sys.stderr)
    if breaks:
        print(
            f'CI: declare a breaking schema change with "{DECLARATION}" in the commit message '
            "(and record it in CHANGELOG.md)",
            file=sys.stderr,
        )
        return 1
    print("CI: every breaking schema change on main is declared")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
