"""Fixtures for the TUI tests."""

from __future__ import annotations

import shutil
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
def frozen_project() -> Path:
    """The same project at a fixed path, so snapshots show the same paths every run."""
    root = Path("/tmp/tiller-snapshots/project")
    shutil.rmtree(root, ignore_errors=True)
    return write_project(root)
