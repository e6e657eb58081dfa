"""Base snapshots that never move: undo, redo and reads keep what an edit was based on."""

from __future__ import annotations

from pathlib import Path

import pytest

from tiller.errors import FlushConflict
from tiller.workspace import Workspace

USER = "one\nuser line\n"


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """A root with one file, f.txt."""
    (tmp_path / "f.txt").write_text("one\n")
    return tmp_path


def _agent_edit_then_user_edit(root: Path) -> Workspace:
    ws = Workspace(root=root)
    ws.checkpoint()
    ws.edit("f.txt", "one", "agent")
    (root / "f.txt").write_text(USER)
    return ws


def test_undo_read_redo_keeps_the_conflict(root: Path) -> None:
    """Undo, a read of the disk version, then redo: the edit's base is back and it conflicts."""
    ws = _agent_edit_then_user_edit(root)
    ws.undo()
    ws.read("f.txt")
    ws.redo()
    assert ws.conflicts() == ["f.txt"]


def test_flush_after_undo_read_redo_refuses(root: Path) -> None:
    """flush() refuses after undo/read/redo, leaving the user's line on disk."""
    ws = _agent_edit_then_user_edit(root)
    ws.undo()
    ws.read("f.txt")
    ws.redo()
    with pytest.raises(FlushConflict):
        ws.flush()
    assert (root / "f.txt").read_text() == USER


def test_force_flush_after_redo_overwrites(root: Path) -> None:
    """force=True still writes the agent's version over the disk edit."""
    ws = _agent_edit_then_user_edit(root)
    ws.undo()
    ws.read("f.txt")
    ws.redo()
    ws.flush(force=True)
    assert (root / "f.txt").read_text() == "agent\n"


def test_read_after_undo_shows_the_disk(root: Path) -> None:
    """After undo the file is untouched again, so reads show the user's disk version."""
    ws = _agent_edit_then_user_edit(root)
    ws.undo()
    assert (ws.read("f.txt"), ws.changes(), ws.conflicts()) == (USER, [], [])


def test_edit_after_undo_builds_on_the_disk_version(root: Path) -> None:
    """An edit made after undo is based on what it read (the user's version): no conflict."""
    ws = _agent_edit_then_user_edit(root)
    ws.undo()
    ws.edit("f.txt", "user line", "agent again")
    assert (ws.conflicts(), ws.flush(), (root / "f.txt").read_text()) == (
        [],
        ["f.txt"],
        "one\nagent again\n",
    )


def test_redo_of_a_delete_keeps_its_base(root: Path) -> None:
    """A deletion undone and redone still conflicts with a disk edit made in between."""
    ws = Workspace(root=root)
    ws.checkpoint()
    ws.delete("f.txt")
    (root / "f.txt").write_text(USER)
    ws.undo()
    ws.read("f.txt")
    ws.redo()
    assert ws.conflicts() == ["f.txt"]


def test_undo_past_a_flush_compares_with_what_was_flushed(root: Path) -> None:
    """Tiller's own flush becomes the base of older states: undo then flush has no conflict."""
    ws = Workspace(root=root)
    ws.edit("f.txt", "one", "first")
    ws.checkpoint()
    ws.edit("f.txt", "first", "second")
    ws.flush()
    ws.undo()
    assert (ws.conflicts(), ws.flush(), (root / "f.txt").read_text()) == (
        [],
        ["f.txt"],
        "first\n",
    )


def test_diff_notes_name_files_changed_on_disk(root: Path) -> None:
    """diff() stays a pure patch; diff_notes() says which file changed on disk meanwhile."""
    ws = _agent_edit_then_user_edit(root)
    assert ([n.split(" ")[0] for n in ws.diff_notes()], ws.diff().startswith("diff --git")) == (
        ["f.txt"],
        True,
    )
