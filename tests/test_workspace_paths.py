"""Workspace paths: normalisation, escapes, symlinks."""

from __future__ import annotations

from pathlib import Path

import pytest

from tiller.errors import PathEscapeError, WorkspaceError
from tiller.workspace import Workspace
from tiller.workspace.paths import normalize


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("a.txt", "a.txt"),
        ("./a.txt", "a.txt"),
        ("src//pkg/./mod.py", "src/pkg/mod.py"),
        ("src/pkg/", "src/pkg"),
        ("a/../b.txt", "b.txt"),
        ("", ""),
        (".", ""),
    ],
)
def test_relative_paths_are_normalised(raw: str, expected: str) -> None:
    """Relative paths lose `.`, doubled slashes, trailing slashes and inner `..`."""
    assert normalize(raw, None) == expected


@pytest.mark.parametrize("raw", ["../x", "a/../../x", "..", "/etc/passwd"])
def test_escaping_paths_are_refused_without_root(raw: str) -> None:
    """`..` escapes and absolute paths are refused when there is no root."""
    ws = Workspace({"a.txt": "a\n"})
    with pytest.raises(PathEscapeError):
        ws.read(raw)


@pytest.mark.parametrize("raw", ["../x", "a/../../x", "/etc/passwd"])
def test_escaping_paths_are_refused_with_root(tmp_path: Path, raw: str) -> None:
    """`..` escapes and absolute paths outside the root are refused for writes too."""
    ws = Workspace(root=tmp_path)
    with pytest.raises(PathEscapeError):
        ws.write(raw, "x")


def test_escape_message_names_the_path(tmp_path: Path) -> None:
    """The error message says which path was refused."""
    ws = Workspace(root=tmp_path)
    with pytest.raises(PathEscapeError, match=r"\.\./secret"):
        ws.read("../secret")


def test_absolute_path_inside_root_is_normalised(tmp_path: Path) -> None:
    """An absolute path inside the root reads the same file as its relative form."""
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "m.py").write_text("x = 1\n")
    ws = Workspace(root=tmp_path)
    ws.write(str(tmp_path / "pkg" / "n.py"), "y = 2\n")
    result = (ws.read(str(tmp_path / "pkg" / "m.py")), ws.files())
    assert result == ("x = 1\n", {"pkg/n.py": "y = 2\n"})


def test_absolute_path_through_symlinked_root_is_normalised(tmp_path: Path) -> None:
    """A root given through a symlink accepts absolute paths under its real location."""
    real = tmp_path / "real"
    real.mkdir()
    (real / "a.txt").write_text("a\n")
    link = tmp_path / "link"
    link.symlink_to(real)
    ws = Workspace(root=link)
    assert ws.read(str(real / "a.txt")) == "a\n"


def test_symlink_pointing_outside_is_refused(tmp_path: Path) -> None:
    """Reading through a symlink that leaves the root raises PathEscapeError."""
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("secret\n")
    root = tmp_path / "root"
    root.mkdir()
    (root / "leak.txt").symlink_to(outside / "secret.txt")
    ws = Workspace(root=root)
    with pytest.raises(PathEscapeError, match=r"leak\.txt"):
        ws.read("leak.txt")


def test_symlinked_directory_pointing_outside_is_refused(tmp_path: Path) -> None:
    """A path below a symlinked directory that leaves the root is refused."""
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("secret\n")
    root = tmp_path / "root"
    root.mkdir()
    (root / "ext").symlink_to(outside)
    ws = Workspace(root=root)
    with pytest.raises(PathEscapeError):
        ws.write("ext/secret.txt", "overwritten\n")


def test_symlink_pointing_outside_is_not_listed(tmp_path: Path) -> None:
    """Listings leave out symlinks that leave the root."""
    outside = tmp_path / "outside.txt"
    outside.write_text("secret\n")
    root = tmp_path / "root"
    root.mkdir()
    (root / "a.txt").write_text("a\n")
    (root / "leak.txt").symlink_to(outside)
    ws = Workspace(root=root)
    assert (ws.list_dir(), ws.glob("**/*")) == (["a.txt"], ["a.txt"])


def test_symlink_inside_root_is_followed(tmp_path: Path) -> None:
    """A symlink to a file inside the root reads like the file."""
    (tmp_path / "target.txt").write_text("t\n")
    (tmp_path / "alias.txt").symlink_to(tmp_path / "target.txt")
    ws = Workspace(root=tmp_path)
    assert ws.read("alias.txt") == "t\n"


def test_nul_byte_in_path_is_refused() -> None:
    """A NUL byte in a path is a WorkspaceError, not an OS crash."""
    ws = Workspace()
    with pytest.raises(WorkspaceError):
        ws.write("a\0b", "x")


def test_root_must_be_a_directory(tmp_path: Path) -> None:
    """A root that is not a directory is refused at construction."""
    with pytest.raises(WorkspaceError, match="not a directory"):
        Workspace(root=tmp_path / "missing")


def test_root_property_is_absolute(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`root` is the absolute base directory."""
    monkeypatch.chdir(tmp_path)
    ws = Workspace(root=".")
    assert ws.root == tmp_path.absolute()
