"""What the disk does while a flush runs: a directory swapped for a link, a file edited.

Each change is made at an exact moment by a Python audit hook (the OS
boundary: it fires as the flush renames or deletes its first file, a/x.txt),
in a child process so the hook, which cannot be removed, dies with it.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

MIDWAY = textwrap.dedent(
    """
    import json, os, shutil, sys
    from tiller.errors import WorkspaceError
    from tiller.workspace import Workspace

    root, outside, action, meanwhile = sys.argv[1:5]
    when = "os.rename" if action == "write" else "os.remove"
    armed = [True]

    def hook(event, args):
        target = args[1] if event == "os.rename" else args[0]
        if armed[0] and event == when and os.path.basename(str(target)) == "x.txt":
            armed[0] = False
            if meanwhile == "swap":
                shutil.rmtree(os.path.join(root, "b"))
                os.symlink(outside, os.path.join(root, "b"))
            else:
                with open(os.path.join(root, "b", "y.txt"), "w") as handle:
                    handle.write("the person's edit\\n")

    ws = Workspace(root=root)
    for path in ("a/x.txt", "b/y.txt"):
        ws.write(path, "Tiller's\\n") if action == "write" else ws.delete(path)
    sys.addaudithook(hook)
    try:
        ws.flush()
    except WorkspaceError:
        pass
    print(json.dumps(not armed[0]))
    """
)


def _midway(tmp_path: Path, action: str, meanwhile: str) -> tuple[bool, Path, Path]:
    """Flush a change to a/x.txt and b/y.txt; once a/x.txt is done, `meanwhile` happens."""
    root, outside = tmp_path / "root", tmp_path / "outside"
    (root / "a").mkdir(parents=True)
    (root / "b").mkdir()
    outside.mkdir()
    (root / "a" / "x.txt").write_text("x\n")
    (root / "b" / "y.txt").write_text("y\n")
    (outside / "y.txt").write_text("not the project's\n")
    done = subprocess.run(
        [sys.executable, "-c", MIDWAY, str(root), str(outside), action, meanwhile],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return json.loads(done.stdout), root, outside


def test_a_directory_swapped_for_an_outside_link_mid_flush_is_not_written_through(
    tmp_path: Path,
) -> None:
    """b/ becomes a link out of the root after a/x.txt is written: nothing lands outside."""
    fired, _, outside = _midway(tmp_path, "write", "swap")
    assert (fired, sorted(p.name for p in outside.iterdir()), (outside / "y.txt").read_text()) == (
        True,
        ["y.txt"],
        "not the project's\n",
    )


def test_a_directory_swapped_for_an_outside_link_mid_flush_is_not_deleted_through(
    tmp_path: Path,
) -> None:
    """b/ becomes a link out of the root after a/x.txt is deleted: the outside file stays."""
    fired, _, outside = _midway(tmp_path, "delete", "swap")
    assert (fired, (outside / "y.txt").read_text()) == (True, "not the project's\n")


def test_a_file_edited_on_disk_mid_flush_keeps_the_persons_edit(tmp_path: Path) -> None:
    """b/y.txt is saved by the person after the flush checked it: it is not overwritten."""
    fired, root, _ = _midway(tmp_path, "write", "edit")
    assert (fired, (root / "b" / "y.txt").read_text()) == (True, "the person's edit\n")


def test_a_file_edited_on_disk_mid_flush_is_not_deleted(tmp_path: Path) -> None:
    """b/y.txt is saved by the person after the flush checked it: the flush does not delete it."""
    fired, root, _ = _midway(tmp_path, "delete", "edit")
    assert (fired, (root / "b" / "y.txt").read_text()) == (True, "the person's edit\n")
