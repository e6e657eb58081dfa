"""Base files too large to hold: refused with a clear error, streamed by range, never read whole."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tiller.errors import FileTooLargeError, WorkspaceError
from tiller.model import ToolCall
from tiller.tools import file_tools
from tiller.tools.registry import ToolRegistry
from tiller.workspace import Workspace
from tiller.workspace.base import MAX_READ_BYTES
from tiller.workspace.ranges import MAX_SCAN_BYTES, LineRange

HUGE = 2 << 30
HEAD = b"line 1\nline 2\r\nline 3\n" + b"x" * 3000 + b"\n" + b"filler\n" * 2000


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """A root with two sparse 2 GiB files (all zeros; text, then zeros) and a small one."""
    with open(tmp_path / "huge.bin", "wb") as handle:
        handle.truncate(HUGE)
    with open(tmp_path / "huge.log", "wb") as handle:
        handle.write(HEAD)
        handle.truncate(HUGE)
    (tmp_path / "small.txt").write_text("needle\n")
    return tmp_path


def call(workspace: Workspace, name: str, **args: object) -> tuple[bool, str]:
    style = "apply_patch" if name == "apply_patch" else "edit_file"
    registry = ToolRegistry(file_tools(workspace, edit_style=style))
    result = registry.execute(ToolCall("call-1", name, json.dumps(args)))
    return result.is_error, result.output


def test_read_of_a_huge_file_is_a_clear_error(root: Path) -> None:
    """read() refuses a 2 GiB file by its size, naming it and saying how to read a range."""
    with pytest.raises(FileTooLargeError) as caught:
        Workspace(root=root).read("huge.bin")
    assert str(caught.value) == (
        f"huge.bin is too large to read: {HUGE} bytes (the limit is {MAX_READ_BYTES}); "
        "read_file with offset and limit reads a range of its lines, and Tiller cannot edit, "
        "rewrite or delete it"
    )


def test_is_binary_judges_a_huge_file_by_its_head(root: Path) -> None:
    """is_binary answers for huge files from their first 8 KiB: zeros are binary, text is not."""
    ws = Workspace(root=root)
    assert (ws.is_binary("huge.bin"), ws.is_binary("huge.log")) == (True, False)


def test_listing_glob_grep_and_diff_still_work(root: Path) -> None:
    """A huge base file is listed and globbed, grep notes it, and diffs of other files work."""
    ws = Workspace(root=root)
    ws.write("small.txt", "pin\n")
    assert (
        ws.list_dir(),
        sorted(ws.glob("huge*")),
        sorted(ws.search("line").too_large),
        ws.diff().splitlines()[-2:],
    ) == (
        ["huge.bin", "huge.log", "small.txt"],
        ["huge.bin", "huge.log"],
        ["huge.bin", "huge.log"],
        ["-needle", "+pin"],
    )


@pytest.mark.parametrize(
    "change",
    [
        lambda ws: ws.edit("huge.log", "line 1", "first line"),
        lambda ws: ws.write("huge.log", "short now\n"),
        lambda ws: ws.delete("huge.log"),
    ],
    ids=["edit", "write", "delete"],
)
def test_changing_a_huge_file_is_refused(root: Path, change) -> None:
    """edit, write and delete of a huge file fail with the size error and change nothing."""
    ws = Workspace(root=root)
    with pytest.raises(FileTooLargeError):
        change(ws)
    assert (ws.changes(), ws.diff()) == ([], "")


def test_read_file_streams_a_range_of_a_huge_file(root: Path) -> None:
    """read_file with offset and limit reads just those lines of a 2 GiB text file."""
    assert call(Workspace(root=root), "read_file", file_path="huge.log", offset=2, limit=3) == (
        False,
        "     2 | line 2\n"
        "     3 | line 3\n"
        f"     4 | {'x' * 2000}... [line truncated, 1000 more bytes]\n"
        "[... more lines follow; use offset=5 to continue]",
    )


def test_read_file_refuses_a_huge_binary_file(root: Path) -> None:
    """A huge file of zeros is a binary-file error, found from its first bytes."""
    assert call(Workspace(root=root), "read_file", file_path="huge.bin") == (
        True,
        "Tool error (read_file): huge.bin is a binary file and cannot be read as text",
    )


def test_edit_file_on_a_huge_file_is_an_error_result(root: Path) -> None:
    """edit_file on a huge file is an error result carrying the size error."""
    is_error, output = call(
        Workspace(root=root),
        "edit_file",
        file_path="huge.log",
        old_string="line 1",
        new_string="first",
    )
    assert (is_error, output.startswith("Tool error (edit_file): huge.log is too large")) == (
        True,
        True,
    )


def test_apply_patch_on_a_huge_file_is_an_error_result(root: Path) -> None:
    """apply_patch updating a huge file fails with the size error and changes nothing."""
    ws = Workspace(root=root)
    patch = "*** Begin Patch\n*** Update File: huge.log\n@@\n-line 1\n+first\n*** End Patch"
    is_error, output = call(ws, "apply_patch", patch=patch)
    assert (is_error, "huge.log is too large to read" in output, ws.changes()) == (True, True, [])


def test_read_range_stops_at_the_scan_limit(root: Path) -> None:
    """A line further in than MAX_SCAN_BYTES is an error, not a 2 GiB scan."""
    with pytest.raises(WorkspaceError) as caught:
        Workspace(root=root).read_range("huge.log", offset=10_000)
    assert str(caught.value) == (
        f"Line 10000 of huge.log ({HUGE} bytes) lies beyond the first {MAX_SCAN_BYTES} bytes, "
        "further than Tiller reads into a file"
    )


def test_read_range_of_a_small_file_matches_its_lines(root: Path) -> None:
    """For an ordinary file read_range is a slice of its lines, with the total known."""
    ws = Workspace({"a.txt": "one\r\ntwo\nthree"}, root=root)
    assert (ws.read_range("a.txt", 2), ws.read_range("a.txt", 1, 1)) == (
        LineRange(["two", "three"], 3, False),
        LineRange(["one"], 3, True),
    )


_PEAK_SCRIPT = """
import json, sys
from tiller.errors import WorkspaceError
from tiller.model import ToolCall
from tiller.tools import file_tools
from tiller.tools.registry import ToolRegistry
from tiller.workspace import Workspace

ws = Workspace(root=sys.argv[1])
tools = ToolRegistry(file_tools(ws))
for path in ("huge.bin", "huge.log"):
    try:
        ws.read(path)
    except WorkspaceError:
        pass
    ws.is_binary(path)
    tools.execute(ToolCall("c", "read_file", json.dumps({"file_path": path, "limit": 50})))
    tools.execute(ToolCall("c", "edit_file", json.dumps(
        {"file_path": path, "old_string": "line", "new_string": "row"})))
ws.grep("line")
# VmHWM is this process's own peak: ru_maxrss would also count the parent's
# pages when the child was forked from a big pytest worker.
with open("/proc/self/status") as status:
    print(next(line.split()[1] for line in status if line.startswith("VmHWM:")))
"""


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs Linux /proc")
def test_huge_files_never_cost_their_size_in_memory(root: Path) -> None:
    """Reading, sniffing, streaming, editing and grepping 2 GiB files peaks far below 2 GiB."""
    done = subprocess.run(
        [sys.executable, "-c", _PEAK_SCRIPT, str(root)],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    peak_kib = int(done.stdout.strip())
    assert peak_kib < 400 * 1024, f"peak RSS {peak_kib} KiB"
