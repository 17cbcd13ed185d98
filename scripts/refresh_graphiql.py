"""Refresh the GraphiQL page's files in server/static/graphiql/ from the npm registry.

`python scripts/refresh_graphiql.py`: each package is fetched by its pinned version
(`npm pack`), its tarball checked against the pinned integrity hash (the registry's
`dist.integrity`), and the browser files the page loads are copied out, with their licence.
graphiql 4.1.2 is the newest release with prebuilt browser files; it runs on React 18's UMD
builds. To move a version, change it and its integrity here (`npm view PKG@VER
dist.integrity`), run this, and commit the files it writes.
"""

from __future__ import annotations

import base64
import hashlib
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

TARGET = Path(__file__).resolve().parent.parent / "server" / "static" / "graphiql"

# package, version, integrity, {file in the tarball: file served}
PINNED = (
    (
        "graphiql",
        "4.1.2",
        "sha512-rNlzQIAzm6i2KBXmVQWBgLvt0TloxFVB2d18bukvdsvjEuFDHsKx5IVOomL1W1o5WW+tE54+ioHb2AEKzO2cUg==",
        {
            "package/graphiql.min.js": "graphiql.min.js",
            "package/graphiql.min.css": "graphiql.min.css",
            "package/LICENSE": "LICENSE.graphiql",
        },
    ),
    (
        "react",
        "18.3.1",
        "sha512-wS+hAgJShR0KhEvPJArfuPVN1+Hz1t0Y6n5jLrGQbkb4urgPE/0Rve+1kMB1v/oWgHgm4WIcV+i7F2pTVj+2iQ==",
        {
            "package/umd/react.production.min.js": "react.production.min.js",
            "package/LICENSE": "LICENSE.react",
        },
    ),
    (
        "react-dom",
        "18.3.1",
        "sha512-5m4nQKp+rZRb09LNH59GM4BxTh9251/ylbKIbpe7TpGxfJ+9kv6BLkLBXIjjspbgbnIBNqlI23tRnTWT0snUIw==",
        {"package/umd/react-dom.production.min.js": "react-dom.production.min.js"},
    ),
)


def integrity(tarball: Path) -> str:
    return "sha512-" + base64.b64encode(hashlib.sha512(tarball.read_bytes()).digest()).decode()


def main() -> int:
    TARGET.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as scratch:
        for package, version, expected, files in PINNED:
            subprocess.run(  # noqa: S603 - npm from PATH, pinned arguments
                ["npm", "pack", f"{package}@{version}", "--silent"],  # noqa: S607
                cwd=scratch,
                check=True,
                capture_output=True,
            )
            tarball = Path(scratch) / f"{package}-{version}.tgz"
            if integrity(tarball) != expected:
                print(f"{package}@{version}: the tarball does not match its pinned integrity")
                return 1
            with tarfile.open(tarball) as archive:
                for member, served in files.items():
                    extracted = archive.extractfile(member)
                    if extracted is None:
                        print(f"{package}@{version} has no {member}")
                        return 1
                    (TARGET / served).write_bytes(extracted.read())
            print(f"{package}@{version}: {', '.join(files.values())}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
