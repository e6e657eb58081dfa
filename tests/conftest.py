"""Shared fixtures, and the guard that no test leaves a sandbox, temp file or process behind."""

from __future__ import annotations

import gc
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tiller.testing.server import FakeOpenAIServer

# Every process of this run (and every child it starts) carries this marker, so the
# end-of-run guard can find processes a test left running, detached ones included.
RUN_MARKER = "TILLER_TEST_PROCESS"

_run_dir: Path | None = None


def pytest_configure(config: pytest.Config) -> None:
    """Give this pytest process its own temp dir, so what a test leaves there is visible."""
    global _run_dir
    # Sticky and world-writable like /tmp: the unprivileged-user tests create files here too.
    _run_dir = Path(tempfile.mkdtemp(prefix="tiller-test-run-"))
    _run_dir.chmod(0o1777)
    os.environ["TMPDIR"] = str(_run_dir)
    tempfile.tempdir = str(_run_dir)
    os.environ[RUN_MARKER] = str(os.getpid())


def pytest_unconfigure(config: pytest.Config) -> None:
    if _run_dir is not None:
        shutil.rmtree(_run_dir, ignore_errors=True)


def _leftover_processes() -> list[str]:
    """Processes other than this one that carry this process's run marker."""
    marker = f"{RUN_MARKER}={os.getpid()}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            environ = (entry / "environ").read_bytes().split(b"\0")
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if marker in environ:
            found.append(f"{entry.name}: {cmdline.strip()}")
    return found


@pytest.fixture(scope="session", autouse=True)
def _nothing_left_behind() -> Iterator[None]:
    """After the last test: no sandbox copy, temp file or process of this run remains."""
    assert _run_dir is not None
    # What plugins made before the first test (pytest's tmp_path tree, the snapshot
    # plugin's report dir) is theirs to remove.
    before = {p.name for p in _run_dir.iterdir()}
    yield
    # A Session a test never closed removes its sandbox when it is collected (its
    # finalizer); sessions hold reference cycles, so collect before looking.
    gc.collect()
    left = sorted(
        p.name
        for p in _run_dir.iterdir()
        if p.name not in before and not p.name.startswith("pytest-of-")
    )
    assert (left, _leftover_processes()) == ([], [])


@pytest.fixture
def fake_server() -> Iterator[FakeOpenAIServer]:
    """A running local OpenAI-compatible server with no replies queued; `add()` some."""
    with FakeOpenAIServer() as server:
        yield server


@pytest.fixture(autouse=True)
def _private_data_dir(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Session journals (and subprocesses' journals) go to a temp dir, never the user's."""
    monkeypatch.setenv("TILLER_DATA_DIR", str(tmp_path_factory.mktemp("tiller-data")))
