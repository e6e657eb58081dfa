"""Where a task's clone lives: removed after the task, and after a batch killed with -9."""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from batch_helpers import make_repo
from tiller.batch.checkout import checkout


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
