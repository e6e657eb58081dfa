"""A resumed session still knows what its changes were made on: disk edits meanwhile are conflicts.

Found by hand: a file edited on disk after the agent changed it, then a quit and
`--resume`, flushed without a word and lost the person's edit, because the
resumed workspace read the new disk content as its base.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tiller.errors import FlushConflict
from tiller.journal import Journal, restore_session
from tiller.session import Session
from tiller.testing.scripted import ScriptedModel


@pytest.fixture(autouse=True)
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Journals go to a temp dir, never the user's."""
    directory = tmp_path / "data"
    monkeypatch.setenv("TILLER_DATA_DIR", str(directory))
    return directory


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    root.mkdir()
    (root / "guide.txt").write_text("one\ntwo\n")
    (root / "old.txt").write_text("old\n")
    return root


def journaled(project: Path) -> Session:
    session = Session(ScriptedModel([]), root=project)  # type: ignore[arg-type]
    Journal.attach(session)
    return session


def resumed(session: Session) -> Session:
    session.close()
    return restore_session(session.id, client=ScriptedModel(), journal=False)


def test_a_disk_edit_before_the_resume_is_a_conflict(project: Path) -> None:
    """Edited by Tiller, then on disk, then resumed: the flush refuses to overwrite."""
    session = journaled(project)
    session.workspace.write("guide.txt", "one\nTWO\n")
    (project / "guide.txt").write_text("one\ntwo\nmine\n")
    assert resumed(session).workspace.conflicts() == ["guide.txt"]


def test_the_refused_flush_leaves_the_persons_edit(project: Path) -> None:
    """The flush raises and the disk keeps the person's line."""
    session = journaled(project)
    session.workspace.write("guide.txt", "one\nTWO\n")
    (project / "guide.txt").write_text("one\ntwo\nmine\n")
    restored = resumed(session)
    with pytest.raises(FlushConflict):
        restored.workspace.flush()
    assert (project / "guide.txt").read_text() == "one\ntwo\nmine\n"


def test_a_file_created_on_disk_where_tiller_added_one_is_a_conflict(project: Path) -> None:
    """Tiller added new.txt; the person created it too; after resume that is a conflict."""
    session = journaled(project)
    session.workspace.write("new.txt", "from tiller\n")
    (project / "new.txt").write_text("from the person\n")
    assert resumed(session).workspace.conflicts() == ["new.txt"]


def test_a_deleted_file_edited_on_disk_is_a_conflict(project: Path) -> None:
    """Tiller deleted old.txt; the person edited it; after resume deleting it asks first."""
    session = journaled(project)
    session.workspace.delete("old.txt")
    (project / "old.txt").write_text("old, but edited\n")
    assert resumed(session).workspace.conflicts() == ["old.txt"]


def test_an_unchanged_disk_is_no_conflict(project: Path) -> None:
    """Nothing changed on disk: the resumed session flushes as before."""
    session = journaled(project)
    session.workspace.write("guide.txt", "one\nTWO\n")
    restored = resumed(session)
    assert (restored.workspace.conflicts(), restored.workspace.flush()) == ([], ["guide.txt"])


def test_putting_the_disk_back_clears_the_conflict(project: Path) -> None:
    """The person undoes their disk edit: the change applies again."""
    session = journaled(project)
    session.workspace.write("guide.txt", "one\nTWO\n")
    (project / "guide.txt").write_text("one\ntwo\nmine\n")
    restored = resumed(session)
    (project / "guide.txt").write_text("one\ntwo\n")
    assert restored.workspace.conflicts() == []


def test_the_resume_warns_about_the_moved_base(project: Path) -> None:
    """The resume says which file changed on disk since the session changed it."""
    session = journaled(project)
    session.workspace.write("guide.txt", "one\nTWO\n")
    (project / "guide.txt").write_text("one\ntwo\nmine\n")
    session.close()
    said: list[str] = []
    restore_session(session.id, client=ScriptedModel(), journal=False, on_warning=said.append)
    assert [m for m in said if "guide.txt" in m] == [
        "guide.txt changed on disk since this session changed it; flushing it asks first "
        "(a conflict)"
    ]


def test_a_second_resume_still_knows_the_first_base(project: Path) -> None:
    """Resumed (journaling again) and resumed once more: the original base is kept."""
    session = journaled(project)
    session.workspace.write("guide.txt", "one\nTWO\n")
    (project / "guide.txt").write_text("one\ntwo\nmine\n")
    session.close()
    first = restore_session(session.id, client=ScriptedModel())
    first.close()
    again = restore_session(session.id, client=ScriptedModel(), journal=False)
    assert again.workspace.changed_on_disk() == ["guide.txt"]


def test_a_file_turned_into_a_directory_does_not_stop_the_resume(project: Path) -> None:
    """guide.txt became a directory on disk: the resume still brings back the other changes."""
    session = journaled(project)
    session.workspace.write("guide.txt", "one\nTWO\n")
    session.workspace.delete("old.txt")
    (project / "guide.txt").unlink()
    (project / "guide.txt").mkdir()
    (project / "guide.txt" / "mine.txt").write_text("mine\n")
    assert resumed(session).workspace.changes() == [("old.txt", "deleted")]


def test_a_change_that_cannot_be_put_back_is_named_in_a_warning(project: Path) -> None:
    """A change whose file is now a link out of the root is dropped, with a warning."""
    session = journaled(project)
    session.workspace.write("guide.txt", "one\nTWO\n")
    outside = project.parent / "outside.txt"
    outside.write_text("not the project's\n")
    (project / "guide.txt").unlink()
    (project / "guide.txt").symlink_to(outside)
    session.close()
    said: list[str] = []
    restore_session(session.id, client=ScriptedModel(), journal=False, on_warning=said.append)
    assert [m for m in said if "guide.txt" in m] == [
        "guide.txt: its change was not restored because the disk no longer allows it "
        f"(Path 'guide.txt' resolves through a symlink to {outside}, outside the workspace "
        "root); the file on disk is untouched"
    ]


def test_the_patch_after_a_resume_is_against_what_the_change_was_made_on(project: Path) -> None:
    """Exported after the resume, the patch still removes only Tiller's line, not the person's."""
    session = journaled(project)
    session.workspace.write("guide.txt", "one\nTWO\n")
    before = session.workspace.diff()
    (project / "guide.txt").write_text("one\ntwo\nmine\n")
    assert resumed(session).workspace.diff() == before


def test_a_deleted_file_edited_on_disk_is_deleted_as_read_in_the_patch(project: Path) -> None:
    """After the resume the deletion in the patch is of the file as Tiller read it."""
    session = journaled(project)
    session.workspace.delete("old.txt")
    before = session.workspace.diff()
    (project / "old.txt").write_text("old, but edited\n")
    assert resumed(session).workspace.diff() == before


def test_a_file_both_created_stays_an_addition_after_the_resume(project: Path) -> None:
    """Tiller added new.txt and the person created it too: after the resume it is still added."""
    session = journaled(project)
    session.workspace.write("new.txt", "from tiller\n")
    (project / "new.txt").write_text("from the person\n")
    assert resumed(session).workspace.changes() == [("new.txt", "added")]


def test_a_change_already_on_disk_is_no_change_after_the_resume(project: Path) -> None:
    """The disk holds Tiller's content (a flush killed after writing it): nothing to flush."""
    session = journaled(project)
    session.workspace.write("guide.txt", "one\nTWO\n")
    (project / "guide.txt").write_text("one\nTWO\n")
    assert resumed(session).workspace.changes() == []
