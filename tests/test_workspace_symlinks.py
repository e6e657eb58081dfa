"""One identity per real file: in-root symlinks resolve to their target; patches apply with git."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tiller.errors import WorkspaceError
from tiller.tools import apply_patch_tool
from tiller.tools.base import ToolContext
from tiller.workspace import Workspace


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """A root with `settings.py -> config.py` and `lib -> src/lib` (git apply needs no repo)."""
    base = tmp_path / "root"
    (base / "src" / "lib").mkdir(parents=True)
    (base / "config.py").write_text("DEBUG = False\nPORT = 80\n")
    (base / "settings.py").symlink_to("config.py")
    (base / "src" / "lib" / "util.py").write_text("def f():\n    return 1\n")
    (base / "lib").symlink_to("src/lib")
    return base


def _git_apply_check(repo: Path, patch: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["git", "apply", "--check", "-"], cwd=repo, input=patch, capture_output=True, text=True
    )


def test_edit_through_alias_edits_the_target(root: Path) -> None:
    """Editing settings.py changes config.py in the overlay, and the diff names config.py."""
    ws = Workspace(root=root)
    ws.edit("settings.py", "DEBUG = False", "DEBUG = True")
    assert (ws.changes(), ws.read("config.py")) == (
        [("config.py", "modified")],
        "DEBUG = True\nPORT = 80\n",
    )


def test_edits_through_both_names_keep_both(root: Path) -> None:
    """Edit config.py, then settings.py: neither edit is lost, on flush both are on disk."""
    ws = Workspace(root=root)
    ws.edit("config.py", "DEBUG = False", "DEBUG = True")
    ws.edit("settings.py", "PORT = 80", "PORT = 8080")
    ws.flush()
    assert ((root / "config.py").read_text(), (root / "settings.py").is_symlink()) == (
        "DEBUG = True\nPORT = 8080\n",
        True,
    )


def test_patch_through_symlinked_directory_applies_with_git(root: Path) -> None:
    """A change made under `lib/` (a link to src/lib) exports a patch git applies."""
    ws = Workspace(root=root)
    ws.edit("lib/util.py", "return 1", "return 2")
    ws.write("lib/new.py", "x = 1\n")
    ws.edit("settings.py", "PORT = 80", "PORT = 81")
    patch = ws.diff()
    assert (_git_apply_check(root, patch).stderr, [p for p, _ in ws.changes()]) == (
        "",
        ["config.py", "src/lib/new.py", "src/lib/util.py"],
    )


def test_grep_searches_the_real_file_once(root: Path) -> None:
    """grep finds an edited line once, under the real file's name, not again via the alias."""
    ws = Workspace(root=root)
    ws.edit("settings.py", "PORT = 80", "PORT = 99")
    assert ws.grep("PORT") == [("config.py", 2, "PORT = 99")]


def test_delete_through_a_link_is_refused(root: Path) -> None:
    """Deleting settings.py would delete config.py's content: refused, naming the target."""
    ws = Workspace(root=root)
    with pytest.raises(WorkspaceError, match=r"symbolic link to config\.py"):
        ws.delete("settings.py")


def test_patch_updating_both_names_keeps_both_hunks(root: Path) -> None:
    """One patch updating config.py and settings.py applies both hunks to config.py."""
    ws = Workspace(root=root)
    patch = (
        "*** Begin Patch\n*** Update File: config.py\n@@\n-DEBUG = False\n+DEBUG = True\n"
        "*** Update File: settings.py\n@@\n-PORT = 80\n+PORT = 1\n*** End Patch"
    )
    apply_patch_tool(ws).run({"patch": patch}, ToolContext())
    assert ws.read("config.py") == "DEBUG = True\nPORT = 1\n"


def test_link_out_of_the_root_is_still_refused(root: Path, tmp_path: Path) -> None:
    """A symlink leading outside the root stays an escape, not a resolved path."""
    (tmp_path / "outside.txt").write_text("secret\n")
    os.symlink(tmp_path / "outside.txt", root / "out.txt")
    with pytest.raises(WorkspaceError, match="outside the workspace root"):
        Workspace(root=root).read("out.txt")


def test_writing_over_a_symlink_loop_is_a_workspace_error(root: Path) -> None:
    """`a -> b -> a`: writing `a` raises WorkspaceError (as documented), not a raw OSError."""
    (root / "a").symlink_to("b")
    (root / "b").symlink_to("a")
    ws = Workspace(root=root)
    with pytest.raises(WorkspaceError):
        ws.write("a", "x\n")
