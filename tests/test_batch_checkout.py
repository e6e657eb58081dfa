"""Where a task's clone lives: removed after the task, and after a batch killed with -9."""

from __future__ import annotations

import contextlib
import fcntl
import os
import signal
import socket
import threading
from pathlib import Path

from batch_helpers import make_repo
from tiller.batch.checkout import checkout
from tiller.batch.task_runner import TaskDefaults, run_task
from tiller.batch.tasks import Task, TaskResult
from tiller.manager import SessionManager
from tiller.testing.processes import live_processes


def _clone_left_by(parent: Path, name: str) -> Path:
    """A clone directory as a batch leaves it: its lock file and a checked-out file."""
    left = parent / name
    (left / "repo").mkdir(parents=True)
    (left / "repo" / "README").write_text("old clone\n")
    (left / "lock").touch()
    return left


def test_a_clone_left_by_a_killed_batch_is_removed_by_the_next(tmp_path: Path) -> None:
    """A clone whose lock nobody holds (its batch was killed) goes when the next clone starts."""
    repo = make_repo(tmp_path / "repo")
    parent = tmp_path / "tmp"
    _clone_left_by(parent, "tiller-batch-dead")
    with checkout(str(repo), "HEAD", parent=parent) as root:
        during = sorted(p.name for p in parent.iterdir())
    assert (during, sorted(parent.iterdir())) == ([root.parent.name], [])


def test_a_clone_another_batch_is_using_is_left_alone(tmp_path: Path) -> None:
    """A clone whose lock is held (its batch still runs) is never swept."""
    repo = make_repo(tmp_path / "repo")
    parent = tmp_path / "tmp"
    live = _clone_left_by(parent, "tiller-batch-live")
    fd = os.open(live / "lock", os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        with checkout(str(repo), "HEAD", parent=parent):
            pass
    finally:
        os.close(fd)
    assert sorted(p.name for p in parent.iterdir()) == ["tiller-batch-live"]


def test_a_clone_killed_by_ctrl_c_is_a_cancelled_task_not_an_error(tmp_path: Path) -> None:
    """Ctrl+C reaches git too: its clone dying of the signal leaves the task for a resume."""
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    accepted = threading.Event()
    conns: list[socket.socket] = []

    def hang() -> None:  # a remote that takes the request and never answers
        conn, _ = listener.accept()
        conns.append(conn)
        accepted.set()

    threading.Thread(target=hang, daemon=True).start()
    task = Task(id="k", repo=f"http://127.0.0.1:{port}/repo.git", prompt="p")
    results: list[TaskResult] = []
    worker = threading.Thread(
        target=lambda: results.append(
            run_task(task, TaskDefaults(model="openai/m"), SessionManager())
        )
    )
    worker.start()
    try:
        assert accepted.wait(60)
        # The terminal sends SIGINT to the whole foreground group: git and its helper.
        for pid, cmdline in live_processes():
            if f"127.0.0.1:{port}" in cmdline:
                with contextlib.suppress(ProcessLookupError):  # gone since it was listed
                    os.kill(pid, signal.SIGINT)
        worker.join(60)
    finally:
        for conn in conns:
            conn.close()
        listener.close()
        worker.join(60)
    assert [r.status for r in results] == ["cancelled"]
