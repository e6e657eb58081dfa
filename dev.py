#!/usr/bin/env python3
"""Bootstrap `.venv` on first use, then run Tiller or the test suite.

    python3 dev.py run [tiller args...]   # install everything, start Tiller
    python3 dev.py test [pytest args...]  # install everything, run all tests

Needs only Python 3.11+. Re-installs when pyproject.toml changes.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

HERE = Path(__file__).resolve().parent
VENV = HERE / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
STAMP = VENV / ".installed"


def ensure_env() -> None:
    if sys.version_info < (3, 11):
        sys.exit("Tiller needs Python 3.11 or newer.")
    digest = hashlib.sha256((HERE / "pyproject.toml").read_bytes()).hexdigest()
    if STAMP.exists() and STAMP.read_text() == digest:
        return
    if not (BIN / "python").exists():
        print("Creating .venv ...", file=sys.stderr)
        venv.create(VENV, with_pip=True)
    print("Installing Tiller and its dependencies into .venv ...", file=sys.stderr)
    subprocess.run(
        [str(BIN / "python"), "-m", "pip", "install", "-q", "-e", f"{HERE}[dev]"],
        check=True,
    )
    STAMP.write_text(digest)


def main(argv: list[str]) -> int:
    command, rest = (argv[0], argv[1:]) if argv else ("run", [])
    if command not in {"run", "test"}:
        sys.exit(__doc__)
    ensure_env()
    if command == "test":
        cmd = [str(BIN / "python"), "-m", "pytest", *rest]
    else:
        cmd = [str(BIN / "tiller"), *rest]
    return subprocess.call(cmd, cwd=HERE if command == "test" else None)


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
