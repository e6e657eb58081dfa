"""Fixtures for the TUI tests."""

from __future__ import annotations

import fcntl
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from tui_helpers import write_project


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A small project directory to overlay."""
    return write_project(tmp_path / "project")


@pytest.fixture
def frozen_project() -> Iterator[Path]:
    """The same project at a fixed path, so snapshots show the same paths every run.

    The path is shared by every run on the machine, so a test holds a lock on it:
    two suites running at once take turns instead of rewriting each other's files.
    """
    base = Path("/tmp/tiller-snapshots")
    base.mkdir(exist_ok=True)
    with (base / ".lock").open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        root = base / "project"
        shutil.rmtree(root, ignore_errors=True)
        yield write_project(root)
        shutil.rmtree(root, ignore_errors=True)
