#!/usr/bin/env python3
"""Bootstrap `.venv` from the lock, then run Tiller or the test suite.

    python3 dev.py run [tiller args...]   # install everything, start Tiller
    python3 dev.py test [pytest args...]  # install everything, run all tests
    python3 dev.py lock                   # re-resolve requirements.lock, then run the tests

Needs only Python 3.11+. `.venv` holds exactly the versions in `requirements.lock`
(hash-checked); it is rebuilt from scratch when the lock changes, so every machine
runs the same program. The system packages the tests need (bubblewrap for the
shell sandbox, tmux for the end-to-end tests) are installed with apt when missing
and possible, and otherwise named with the command that installs them.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

HERE = Path(__file__).resolve().parent
VENV = HERE / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
LOCK = HERE / "requirements.lock"
LOCK_STAMP = VENV / ".lock-installed"
PROJECT_STAMP = VENV / ".project-installed"

# `uv pip compile` flags that produce requirements.lock; `lock` reruns exactly this.
LOCK_COMMAND = [
    "pip", "compile", "pyproject.toml", "--extra", "dev", "--universal",
    "--python-version", "3.11", "--generate-hashes", "-o", "requirements.lock",
]  # fmt: skip

# binary -> Debian package. bwrap confines shell commands (tests attack it); tmux
# drives the real `tiller` in the end-to-end tests.
SYSTEM_PACKAGES = {"bwrap": "bubblewrap", "tmux": "tmux", "git": "git"}


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _pip(*args: str) -> None:
    subprocess.run([str(BIN / "python"), "-m", "pip", *args], check=True)


def ensure_env() -> None:
    """Make `.venv` hold exactly the lock plus Tiller itself (editable)."""
    if sys.version_info < (3, 11):  # noqa: UP036 - dev.py runs under any python3
        sys.exit("Tiller needs Python 3.11 or newer.")
    lock_digest = _digest(LOCK)
    if not (LOCK_STAMP.exists() and LOCK_STAMP.read_text() == lock_digest):
        # A changed lock gets a fresh venv: installing over an old one would keep
        # packages the lock no longer names.
        if VENV.exists():
            print("requirements.lock changed; rebuilding .venv ...", file=sys.stderr)
            shutil.rmtree(VENV)
        print("Creating .venv from requirements.lock (about a minute) ...", file=sys.stderr)
        venv.create(VENV, with_pip=True)
        _pip("install", "-q", "--require-hashes", "--no-deps", "-r", str(LOCK))
        LOCK_STAMP.write_text(lock_digest)
    project_digest = _digest(HERE / "pyproject.toml")
    if not (PROJECT_STAMP.exists() and PROJECT_STAMP.read_text() == project_digest):
        # Every dependency came from the lock; this only links Tiller's own source.
        _pip("install", "-q", "--no-deps", "--no-build-isolation", "-e", str(HERE))
        PROJECT_STAMP.write_text(project_digest)


def missing_system_packages() -> list[str]:
    """Debian packages whose binaries the tests need and this machine lacks."""
    return [pkg for binary, pkg in SYSTEM_PACKAGES.items() if shutil.which(binary) is None]


def ensure_system_packages(*, required: bool) -> None:
    """Install missing system packages with apt when root; otherwise say how, in one line."""
    missing = missing_system_packages()
    if not missing:
        return
    apt = shutil.which("apt-get")
    if apt and hasattr(os, "geteuid") and os.geteuid() == 0:
        print(f"Installing system packages: {' '.join(missing)} ...", file=sys.stderr)
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        install = [apt, "install", "-y", "-q", "--no-install-recommends", *missing]
        if subprocess.run(install, env=env, check=False).returncode != 0:
            subprocess.run([apt, "update", "-q"], env=env, check=False)
            subprocess.run(install, env=env, check=False)
        missing = missing_system_packages()
        if not missing:
            return
    names = " ".join(missing)
    line = f"Tiller needs: {names}. Install with: sudo apt-get install {names}"
    if required:
        sys.exit(line)
    print(line, file=sys.stderr)


def lock() -> int:
    """Re-resolve requirements.lock from pyproject.toml, rebuild .venv, run the suite."""
    ensure_env()
    done = subprocess.run([str(BIN / "uv"), *LOCK_COMMAND], cwd=HERE, check=False)
    if done.returncode != 0:
        return done.returncode
    ensure_env()
    ensure_system_packages(required=True)
    return subprocess.call([str(BIN / "python"), "-m", "pytest"], cwd=HERE)


def main(argv: list[str]) -> int:
    command, rest = (argv[0], argv[1:]) if argv else ("run", [])
    if command == "lock":
        return lock()
    if command not in {"run", "test"}:
        sys.exit(__doc__)
    ensure_env()
    ensure_system_packages(required=command == "test")
    if command == "test":
        return subprocess.call([str(BIN / "python"), "-m", "pytest", *rest], cwd=HERE)
    return subprocess.call([str(BIN / "tiller"), *rest])


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
