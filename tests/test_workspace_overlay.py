"""Workspace basics: read, write, edit, delete, exists, list_dir, files, changes."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tiller.errors import BinaryFileError, EditError, FileNotFoundInWorkspace, WorkspaceError
from tiller.workspace import Workspace


@pytest.fixture
def base(tmp_path: Path) -> Path:
    """A small base directory with text, binary and nested files."""
    (tmp_path / "README.md").write_text("# Demo\n")
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "app.py").write_text("def main():\n    return 1\n")
    (tmp_path / "src" / "util.py").write_text("X = 1\nX = 1\n")
    (tmp_path / "logo.png").write_bytes(b"\x89PNG\r\n\x1a\n\0\0\0")
    (tmp_path / "latin1.txt").write_bytes("caf\xe9\n".encode("latin-1"))
    return tmp_path


def test_read_falls_through_to_base(base: Path) -> None:
    """An untouched file reads from the base directory."""
    assert Workspace(root=base).read("src/app.py") == "def main():\n    return 1\n"


def test_write_shadows_base_without_touching_disk(base: Path) -> None:
    """A write is visible to reads while the disk keeps the old content."""
    ws = Workspace(root=base)
    ws.write("src/app.py", "new\n")
    assert (ws.read("src/app.py"), (base / "src" / "app.py").read_text()) == (
        "new\n",
        "def main():\n    return 1\n",
    )


def test_seeded_files_are_readable() -> None:
    """Files passed to the constructor read back."""
    ws = Workspace({"a.txt": "a\n", "dir/b.txt": "b\n"})
    assert (ws.read("a.txt"), ws.read("dir/b.txt")) == ("a\n", "b\n")


def test_missing_file_raises_with_path() -> None:
    """Reading a missing file raises FileNotFoundInWorkspace naming it."""
    ws = Workspace({"a.txt": "a\n"})
    with pytest.raises(FileNotFoundInWorkspace, match=r"File not found: b\.txt"):
        ws.read("b.txt")


def test_missing_file_suggests_close_names(base: Path) -> None:
    """The not-found message suggests similar names in the same directory."""
    ws = Workspace(root=base)
    with pytest.raises(FileNotFoundInWorkspace, match=r"did you mean src/app\.py"):
        ws.read("src/ap.py")


def test_missing_directory_is_mentioned(base: Path) -> None:
    """The not-found message says when the parent directory does not exist."""
    ws = Workspace(root=base)
    with pytest.raises(FileNotFoundInWorkspace, match="directory nope does not exist"):
        ws.read("nope/x.py")


@pytest.mark.parametrize("path", ["logo.png", "latin1.txt"])
def test_binary_file_read_is_refused(base: Path, path: str) -> None:
    """Files with a NUL byte or invalid UTF-8 raise BinaryFileError."""
    ws = Workspace(root=base)
    with pytest.raises(BinaryFileError):
        ws.read(path)


@pytest.mark.parametrize(
    ("path", "expected"), [("logo.png", True), ("latin1.txt", True), ("README.md", False)]
)
def test_is_binary(base: Path, path: str, expected: bool) -> None:
    """`is_binary` tells binary base files from text."""
    assert Workspace(root=base).is_binary(path) == expected


def test_read_directory_is_an_error(base: Path) -> None:
    """Reading a directory raises a WorkspaceError that says so."""
    with pytest.raises(WorkspaceError, match="is a directory"):
        Workspace(root=base).read("src")


@pytest.mark.parametrize(
    ("path", "expected"),
    [("README.md", True), ("src", True), ("src/app.py", True), ("nope.txt", False), ("", True)],
)
def test_exists(base: Path, path: str, expected: bool) -> None:
    """`exists` is true for files and directories of the base."""
    assert Workspace(root=base).exists(path) == expected


def test_exists_sees_overlay_directories() -> None:
    """A directory implied by a written file exists."""
    ws = Workspace()
    ws.write("a/b/c.txt", "c\n")
    assert (ws.exists("a"), ws.exists("a/b"), ws.is_dir("a/b")) == (True, True, True)


def test_write_over_directory_is_refused(base: Path) -> None:
    """Writing a file where a directory is raises WorkspaceError."""
    with pytest.raises(WorkspaceError, match="is a directory"):
        Workspace(root=base).write("src", "x")


def test_write_below_a_file_is_refused(base: Path) -> None:
    """Writing below an existing file raises WorkspaceError."""
    with pytest.raises(WorkspaceError, match=r"README\.md is a file"):
        Workspace(root=base).write("README.md/x.txt", "x")


def test_write_rejects_non_text_content() -> None:
    """Content that is not a str, or not encodable as UTF-8, is refused."""
    ws = Workspace()
    with pytest.raises(WorkspaceError):
        ws.write("a.txt", "\ud800")


def test_write_into_git_dir_is_refused(base: Path) -> None:
    """The `.git` directory is never written."""
    (base / ".git").mkdir()
    with pytest.raises(WorkspaceError, match=r"\.git"):
        Workspace(root=base).write(".git/config", "x")


def test_edit_replaces_unique_match(base: Path) -> None:
    """A unique `old` is replaced once and the count returned."""
    ws = Workspace(root=base)
    count = ws.edit("src/app.py", "return 1", "return 2")
    assert (count, ws.read("src/app.py")) == (1, "def main():\n    return 2\n")


def test_edit_missing_old_raises(base: Path) -> None:
    """An `old` that does not occur raises EditError naming the file."""
    with pytest.raises(EditError, match=r"old_string not found in src/app\.py"):
        Workspace(root=base).edit("src/app.py", "return 3", "return 4")


def test_edit_non_unique_old_raises(base: Path) -> None:
    """An ambiguous `old` raises EditError with the count and a hint."""
    with pytest.raises(EditError, match=r"appears 2 times.*replace_all"):
        Workspace(root=base).edit("src/util.py", "X = 1", "X = 2")


def test_edit_replace_all(base: Path) -> None:
    """replace_all replaces every occurrence and returns how many."""
    ws = Workspace(root=base)
    count = ws.edit("src/util.py", "X = 1", "X = 2", replace_all=True)
    assert (count, ws.read("src/util.py")) == (2, "X = 2\nX = 2\n")


def test_edit_empty_old_raises() -> None:
    """An empty `old` is an EditError."""
    ws = Workspace({"a.txt": "a\n"})
    with pytest.raises(EditError, match="empty"):
        ws.edit("a.txt", "", "b")


def test_edit_identical_old_and_new_raises() -> None:
    """Replacing text with itself is an EditError."""
    ws = Workspace({"a.txt": "a\n"})
    with pytest.raises(EditError, match="identical"):
        ws.edit("a.txt", "a", "a")


def test_edit_hints_at_indentation_mismatch() -> None:
    """A miss that only differs in indentation says where the near match is."""
    ws = Workspace({"a.py": "def f():\n    return 1\n"})
    with pytest.raises(EditError, match=r"different indentation.*line 1"):
        ws.edit("a.py", "def f():\n  return 1", "def f():\n  return 2")


def test_edit_missing_file_raises() -> None:
    """Editing a missing file raises FileNotFoundInWorkspace."""
    with pytest.raises(FileNotFoundInWorkspace):
        Workspace().edit("a.txt", "a", "b")


def test_delete_hides_base_file(base: Path) -> None:
    """A deleted base file no longer exists or reads, but stays on disk."""
    ws = Workspace(root=base)
    ws.delete("README.md")
    with pytest.raises(FileNotFoundInWorkspace, match="deleted"):
        ws.read("README.md")
    assert (ws.exists("README.md"), (base / "README.md").exists()) == (False, True)


def test_delete_missing_file_raises() -> None:
    """Deleting a missing file raises FileNotFoundInWorkspace."""
    with pytest.raises(FileNotFoundInWorkspace):
        Workspace().delete("a.txt")


def test_delete_directory_is_refused(base: Path) -> None:
    """Deleting a directory raises WorkspaceError."""
    with pytest.raises(WorkspaceError, match="is a directory"):
        Workspace(root=base).delete("src")


def test_write_after_delete_restores_file(base: Path) -> None:
    """Writing a deleted path brings it back with the new content."""
    ws = Workspace(root=base)
    ws.delete("README.md")
    ws.write("README.md", "# New\n")
    assert (ws.read("README.md"), ws.changes()) == ("# New\n", [("README.md", "modified")])


def test_list_dir_merges_base_and_overlay(base: Path) -> None:
    """list_dir shows base and overlay children, directories with a slash, minus deletes."""
    ws = Workspace(root=base)
    ws.write("notes/todo.txt", "x\n")
    ws.write("AAA.txt", "x\n")
    ws.delete("README.md")
    assert ws.list_dir() == ["AAA.txt", "latin1.txt", "logo.png", "notes/", "src/"]


def test_list_dir_subdirectory(base: Path) -> None:
    """list_dir of a subdirectory lists names relative to it."""
    ws = Workspace(root=base)
    ws.write("src/new.py", "")
    assert ws.list_dir("src") == ["app.py", "new.py", "util.py"]


def test_list_dir_hides_directory_whose_files_are_all_deleted(base: Path) -> None:
    """A base directory with every file deleted disappears from the listing."""
    ws = Workspace(root=base)
    ws.delete("src/app.py")
    ws.delete("src/util.py")
    assert (ws.list_dir(), ws.exists("src")) == (["README.md", "latin1.txt", "logo.png"], False)


def test_list_dir_of_file_is_an_error(base: Path) -> None:
    """list_dir on a file raises WorkspaceError."""
    with pytest.raises(WorkspaceError, match="not a directory"):
        Workspace(root=base).list_dir("README.md")


def test_list_dir_of_missing_directory_raises(base: Path) -> None:
    """list_dir on a missing path raises FileNotFoundInWorkspace."""
    with pytest.raises(FileNotFoundInWorkspace):
        Workspace(root=base).list_dir("nope")


def test_list_dir_skips_git_and_ignored(base: Path) -> None:
    """list_dir leaves out `.git/` and gitignored entries."""
    (base / ".git").mkdir()
    (base / ".gitignore").write_text("*.png\nbuild/\n")
    (base / "build").mkdir()
    (base / "build" / "out.js").write_text("x\n")
    ws = Workspace(root=base)
    assert ws.list_dir() == [".gitignore", "README.md", "latin1.txt", "src/"]


def test_files_is_the_overlay_only(base: Path) -> None:
    """files() holds seeded and written files, minus deletes, never untouched base files."""
    ws = Workspace({"seed.txt": "s\n", "gone.txt": "g\n"}, root=base)
    ws.write("src/app.py", "new\n")
    ws.edit("README.md", "Demo", "Tiller")
    ws.delete("gone.txt")
    assert ws.files() == {"README.md": "# Tiller\n", "seed.txt": "s\n", "src/app.py": "new\n"}


def test_changes_kinds(base: Path) -> None:
    """changes() reports added, modified and deleted paths sorted by path."""
    ws = Workspace(root=base)
    ws.write("new.txt", "n\n")
    ws.edit("src/app.py", "1", "2")
    ws.delete("README.md")
    assert ws.changes() == [
        ("README.md", "deleted"),
        ("new.txt", "added"),
        ("src/app.py", "modified"),
    ]


def test_identical_write_is_no_change(base: Path) -> None:
    """Writing a base file's own content back is not a change."""
    ws = Workspace(root=base)
    ws.write("README.md", "# Demo\n")
    assert ws.changes() == []


def test_write_then_delete_of_new_file_is_no_change(base: Path) -> None:
    """Creating then deleting a file leaves no change behind."""
    ws = Workspace(root=base)
    ws.write("tmp.txt", "t\n")
    ws.delete("tmp.txt")
    assert (ws.changes(), ws.exists("tmp.txt")) == ([], False)


def test_changes_without_root_are_all_added() -> None:
    """Without a base every file in memory is added."""
    ws = Workspace({"b.txt": "b", "a.txt": "a"})
    assert ws.changes() == [("a.txt", "added"), ("b.txt", "added")]


def test_modified_binary_file_is_a_change(base: Path) -> None:
    """Overwriting a binary base file with text is a modification."""
    ws = Workspace(root=base)
    ws.write("logo.png", "not a png\n")
    assert ws.changes() == [("logo.png", "modified")]


def test_read_sees_disk_change_while_untouched(base: Path) -> None:
    """A base file the overlay has not changed is re-read when it changes on disk."""
    ws = Workspace(root=base)
    ws.read("README.md")
    (base / "README.md").write_text("# Changed on disk, longer\n")
    assert ws.read("README.md") == "# Changed on disk, longer\n"


def test_special_files_are_not_read(base: Path) -> None:
    """A FIFO in the base is refused instead of blocking the read, and is not listed."""
    os.mkfifo(base / "pipe")
    ws = Workspace(root=base)
    with pytest.raises(WorkspaceError):
        ws.read("pipe")
    assert "pipe" not in ws.list_dir() + ws.glob("*") + [path for path, _, _ in ws.grep("")]
