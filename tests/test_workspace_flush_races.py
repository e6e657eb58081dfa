"""What the disk does while a flush runs: a directory swapped for a symlink out of the root.

The swap is made at an exact moment by a Python audit hook (the OS boundary:
it fires as the flush renames its first file), in a child process so the hook,
which cannot be removed, dies with it.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

SWAPPER = textwrap.dedent(
    """
    import json, os, shutil, sys
    from tiller.errors import WorkspaceError
    from tiller.workspace import Workspace

    root, outside, when = sys.argv[1], sys.argv[2], sys.argv[3]
    armed = [True]

    def swap(event, args):
        if armed[0] and event == when and str(args[0 if when == "os.remove" else 1]).endswith(
            "a/x.txt"
        ):
            armed[0] = False
            shutil.rmtree(os.path.join(root, "b"))
            os.symlink(outside, os.path.join(root, "b"))

    ws = Workspace(root=root)
    ws.write("a/x.txt", "X\\n") if when == "os.rename" else ws.delete("a/x.txt")
    ws.write("b/y.txt", "Y\\n") if when == "os.rename" else ws.delete("b/y.txt")
    sys.addaudithook(swap)
    try:
        ws.flush()
    except WorkspaceError:
        pass
    print(json.dumps(sorted(os.listdir(outside))))
    """
)


def _swap_during_flush(tmp_path: Path, when: str) -> list[str]:
    """Run a flush of a/x.txt and b/y.txt that sees b/ become a link out after a/x.txt."""
    root, outside = tmp_path / "root", tmp_path / "outside"
    (root / "a").mkdir(parents=True)
    (root / "b").mkdir()
    outside.mkdir()
    (root / "a" / "x.txt").write_text("x\n")
    (root / "b" / "y.txt").write_text("y\n")
    (outside / "y.txt").write_text("not the project's\n")
    done = subprocess.run(
        [sys.executable, "-c", SWAPPER, str(root), str(outside), when],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return [json.loads(done.stdout), (outside / "y.txt").read_text()]


def test_a_directory_swapped_for_an_outside_link_mid_flush_is_not_written_through(
    tmp_path: Path,
) -> None:
    """b/ becomes a link out of the root after a/x.txt is written: nothing lands outside."""
    assert _swap_during_flush(tmp_path, "os.rename") == [["y.txt"], "not the project's\n"]


def test_a_directory_swapped_for_an_outside_link_mid_flush_is_not_deleted_through(
    tmp_path: Path,
) -> None:
    """b/ becomes a link out of the root after a/x.txt is deleted: the outside file stays."""
    assert _swap_during_flush(tmp_path, "os.remove") == [["y.txt"], "not the project's\n"]
