"""Workspace flush: atomic writes, deletes, conflicts, modes, and staying inside the root."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tiller.errors import FlushConflict, FlushError, PathEscapeError, WorkspaceError
from tiller.workspace import Workspace


def _tree(root: Path) -> dict[str, str]:
    return {
        p.relative_to(root).as_posix(): p.read_text()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


@pytest.fixture
def base(tmp_path: Path) -> Path:
    """A small base directory."""
    root = tmp_path / "root"
    (root / "pkg" / "old").mkdir(parents=True)
    (root / "a.txt").write_text("a\n")
    (root / "b.txt").write_text("b\n")
    (root / "pkg" / "old" / "gone.py").write_text("gone\n")
    return root


def test_flush_writes_adds_and_deletes(base: Path) -> None:
    """Modified and added files land on disk (parents created), deletes remove files."""
    ws = Workspace(root=base)
    ws.edit("a.txt", "a", "A")
    ws.write("new/deep/c.txt", "c\n")
    ws.delete("pkg/old/gone.py")
    written = ws.flush()
    assert (written, _tree(base)) == (
        ["a.txt", "new/deep/c.txt", "pkg/old/gone.py"],
        {"a.txt": "A\n", "b.txt": "b\n", "new/deep/c.txt": "c\n"},
    )


def test_flush_prunes_emptied_directories(base: Path) -> None:
    """Deleting the last file of a directory removes the directory as git does."""
    ws = Workspace(root=base)
    ws.delete("pkg/old/gone.py")
    ws.flush()
    assert (base / "pkg").exists() is False


def test_flushed_paths_become_the_base(base: Path) -> None:
    """After a flush nothing is pending and the overlay no longer holds the files."""
    ws = Workspace(root=base)
    ws.write("a.txt", "new a\n")
    ws.write("n.txt", "n\n")
    ws.flush()
    assert (ws.changes(), ws.files(), ws.read("a.txt"), ws.diff()) == ([], {}, "new a\n", "")


def test_flush_leaves_no_temp_files(base: Path) -> None:
    """Atomic writes clean up after themselves: only the real files remain."""
    ws = Workspace(root=base)
    for index in range(20):
        ws.write(f"many/f{index}.txt", f"{index}\n")
    ws.write("a.txt", "A\n")
    ws.flush()
    leftovers = sorted(p.name for p in base.rglob("*") if "tiller-tmp" in p.name)
    assert leftovers == []


def test_flush_only_selected_paths(base: Path) -> None:
    """flush(paths) writes only those paths and leaves the rest pending."""
    ws = Workspace(root=base)
    ws.write("a.txt", "A\n")
    ws.write("b.txt", "B\n")
    written = ws.flush(["b.txt"])
    assert (written, ws.changes(), (base / "a.txt").read_text()) == (
        ["b.txt"],
        [("a.txt", "modified")],
        "a\n",
    )


def test_flush_skips_identical_writes(base: Path) -> None:
    """A write of unchanged content is not flushed."""
    ws = Workspace(root=base)
    ws.write("a.txt", "a\n")
    assert ws.flush() == []


def test_a_name_starting_with_two_dots_flushes(base: Path) -> None:
    """`..notes` is a file in the root, not a way out of it."""
    ws = Workspace(root=base)
    ws.write("..notes", "n\n")
    assert (ws.flush(), (base / "..notes").read_text()) == (["..notes"], "n\n")


def test_flush_without_root_is_an_error() -> None:
    """A root-less workspace cannot flush."""
    with pytest.raises(WorkspaceError, match="no root"):
        Workspace({"a.txt": "a"}).flush()


def test_flush_preserves_file_mode(base: Path) -> None:
    """An executable file stays executable after a flush rewrites it."""
    (base / "run.sh").write_text("echo hi\n")
    (base / "run.sh").chmod(0o750)
    ws = Workspace(root=base)
    ws.edit("run.sh", "hi", "hello")
    ws.flush()
    assert (base / "run.sh").stat().st_mode & 0o777 == 0o750


def test_new_files_get_the_umask_mode(base: Path) -> None:
    """A new file is created with 0o666 minus the umask, not the temp file's 0o600."""
    previous = os.umask(0o022)
    try:
        ws = Workspace(root=base)
        ws.write("fresh.txt", "x\n")
        ws.flush()
    finally:
        os.umask(previous)
    assert (base / "fresh.txt").stat().st_mode & 0o777 == 0o644


def test_conflict_when_disk_changed_after_read(base: Path) -> None:
    """A file changed on disk after the read is a conflict and is not clobbered."""
    ws = Workspace(root=base)
    ws.read("a.txt")
    (base / "a.txt").write_text("edited by a person\n")
    ws.write("a.txt", "agent version\n")
    with pytest.raises(FlushConflict) as caught:
        ws.flush()
    assert (caught.value.conflicts, (base / "a.txt").read_text()) == (
        ["a.txt"],
        "edited by a person\n",
    )


def test_conflict_lists_every_path_and_writes_nothing(base: Path) -> None:
    """Every conflict is listed (changed, deleted, newly appeared) and nothing is written."""
    ws = Workspace(root=base)
    ws.write("a.txt", "A\n")
    ws.delete("b.txt")
    ws.write("new.txt", "mine\n")
    ws.write("clean.txt", "clean\n")
    (base / "a.txt").write_text("theirs a\n")
    (base / "b.txt").write_text("theirs b\n")
    (base / "new.txt").write_text("theirs new\n")
    before = _tree(base)
    with pytest.raises(FlushConflict) as caught:
        ws.flush()
    assert (caught.value.conflicts, _tree(base)) == (["a.txt", "b.txt", "new.txt"], before)


def test_conflict_message_names_the_files(base: Path) -> None:
    """The FlushConflict message lists the paths and mentions force."""
    ws = Workspace(root=base)
    ws.write("a.txt", "A\n")
    (base / "a.txt").write_text("theirs\n")
    with pytest.raises(FlushConflict, match=r"a\.txt.*force=True"):
        ws.flush()


def test_force_overwrites_conflicts(base: Path) -> None:
    """force=True writes over a file that changed on disk."""
    ws = Workspace(root=base)
    ws.write("a.txt", "agent\n")
    (base / "a.txt").write_text("person\n")
    ws.flush(force=True)
    assert (base / "a.txt").read_text() == "agent\n"


def test_force_with_paths_overwrites_only_those(base: Path) -> None:
    """force=[a.txt] overwrites a.txt's disk edit but refuses b.txt's (nothing written)."""
    ws = Workspace(root=base)
    ws.write("a.txt", "agent a\n")
    ws.write("b.txt", "agent b\n")
    (base / "a.txt").write_text("person a\n")
    (base / "b.txt").write_text("person b\n")
    with pytest.raises(FlushConflict) as caught:
        ws.flush(force=["a.txt"])
    assert (caught.value.conflicts, _tree(base)["a.txt"]) == (["b.txt"], "person a\n")


def test_touch_without_change_is_no_conflict(base: Path) -> None:
    """A newer mtime with the same content is not a conflict."""
    ws = Workspace(root=base)
    ws.write("a.txt", "A\n")
    os.utime(base / "a.txt", (2_000_000_000, 2_000_000_000))
    assert ws.flush() == ["a.txt"]


def test_same_size_rewrite_with_old_mtime_is_a_conflict(base: Path) -> None:
    """A rewrite that keeps size and mtime is still caught by comparing content."""
    os.utime(base / "a.txt", (1_000, 1_000))
    ws = Workspace(root=base)
    ws.write("a.txt", "mine\n")
    (base / "a.txt").write_text("b\n")
    os.utime(base / "a.txt", (1_000, 1_000))
    with pytest.raises(FlushConflict):
        ws.flush()


def test_edit_after_disk_change_applies_to_fresh_content(base: Path) -> None:
    """An edit reads the current disk content, so flushing it loses nothing."""
    ws = Workspace(root=base)
    ws.read("a.txt")
    (base / "a.txt").write_text("a\nperson line\n")
    ws.edit("a.txt", "a\n", "agent a\n")
    ws.flush()
    assert (base / "a.txt").read_text() == "agent a\nperson line\n"


def test_parent_replaced_by_file_is_a_conflict(base: Path) -> None:
    """A parent directory that became a file on disk is reported, not half-written."""
    ws = Workspace(root=base)
    ws.write("later/x.txt", "x\n")
    (base / "later").write_text("a file now\n")
    with pytest.raises(FlushConflict) as caught:
        ws.flush()
    assert caught.value.conflicts == ["later/x.txt"]


def test_os_error_mid_flush_reports_what_was_flushed(base: Path) -> None:
    """An OS failure part way raises FlushError; finished paths become the base."""
    ws = Workspace(root=base)
    ws.write("a.txt", "A\n")
    ws.write("later/x.txt", "x\n")
    (base / "later").write_text("a file now\n")
    with pytest.raises(FlushError) as caught:
        ws.flush(force=True)
    assert (caught.value.flushed, ws.changes()) == (["a.txt"], [("later/x.txt", "added")])


def test_a_flush_stopped_part_way_still_reports_what_it_wrote(base: Path) -> None:
    """Listeners (the journal, the TUI) hear about the paths written before the OS error."""
    ws = Workspace(root=base)
    ws.write("a.txt", "A\n")
    ws.write("later/x.txt", "x\n")
    (base / "later").write_text("a file now\n")
    heard: list[tuple[str, str]] = []
    ws.subscribe(lambda path, action: heard.append((path, action)))
    with pytest.raises(FlushError):
        ws.flush(force=True)
    assert heard == [("a.txt", "flush")]


def test_symlinked_parent_pointing_outside_is_refused(base: Path, tmp_path: Path) -> None:
    """A parent that became a symlink out of the root stops the flush before any write."""
    outside = tmp_path / "outside"
    outside.mkdir()
    ws = Workspace(root=base)
    ws.write("a.txt", "A\n")
    ws.write("link/x.txt", "x\n")
    (base / "link").symlink_to(outside)
    with pytest.raises(PathEscapeError):
        ws.flush(force=True)
    assert (list(outside.iterdir()), (base / "a.txt").read_text()) == ([], "a\n")


def test_flush_writes_through_symlink_inside_root(base: Path) -> None:
    """A file that is a symlink inside the root is written through, keeping the link."""
    (base / "alias.txt").symlink_to(base / "a.txt")
    ws = Workspace(root=base)
    ws.write("alias.txt", "via alias\n")
    ws.flush()
    assert ((base / "alias.txt").is_symlink(), (base / "a.txt").read_text()) == (
        True,
        "via alias\n",
    )


def test_delete_then_flush_then_write_again(base: Path) -> None:
    """After a flushed delete the path can be created again and flushed."""
    ws = Workspace(root=base)
    ws.delete("a.txt")
    ws.flush()
    ws.write("a.txt", "reborn\n")
    assert (ws.changes(), ws.flush(), (base / "a.txt").read_text()) == (
        [("a.txt", "added")],
        ["a.txt"],
        "reborn\n",
    )


def test_file_replaced_by_directory_flushes_without_conflict(tmp_path: Path) -> None:
    """delete("utils") then write("utils/__init__.py"): no false conflict, and it flushes."""
    (tmp_path / "utils").write_text("u\n")
    ws = Workspace(root=tmp_path)
    ws.delete("utils")
    ws.write("utils/__init__.py", "x\n")
    assert (ws.conflicts(), ws.flush(), (tmp_path / "utils" / "__init__.py").read_text()) == (
        [],
        ["utils", "utils/__init__.py"],
        "x\n",
    )


def test_emptied_directory_can_become_a_file(tmp_path: Path) -> None:
    """After deleting every file in pkg/, write("pkg") works and flushes as a file."""
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "a.py").write_text("a\n")
    (tmp_path / "pkg" / "b.py").write_text("b\n")
    ws = Workspace(root=tmp_path)
    ws.delete("pkg/a.py")
    ws.delete("pkg/b.py")
    ws.write("pkg", "now a file\n")
    assert (ws.conflicts(), ws.flush(), (tmp_path / "pkg").read_text()) == (
        [],
        ["pkg", "pkg/a.py", "pkg/b.py"],
        "now a file\n",
    )


def test_directory_with_other_files_blocks_writing_a_file_there(tmp_path: Path) -> None:
    """A file written over a directory that still holds (ignored) files is a conflict."""
    (tmp_path / ".gitignore").write_text("*.pyc\n")
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "a.py").write_text("a\n")
    (tmp_path / "pkg" / "a.pyc").write_bytes(b"\0")
    ws = Workspace(root=tmp_path)
    ws.delete("pkg/a.py")
    ws.write("pkg", "file\n")
    assert ws.conflicts() == ["pkg"]
