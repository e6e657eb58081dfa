"""File names that are not UTF-8: listed, searched, diffed and flushed without a crash."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from tiller.errors import WorkspaceError
from tiller.tools import glob_tool, grep_tool, list_dir_tool, read_file_tool, write_file_tool
from tiller.tools.base import ToolContext
from tiller.workspace import Workspace

RAW = b"caf\xe9.txt"
SURROGATE = os.fsdecode(RAW)


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """A root holding `caf\\xe9.txt` (Latin-1 bytes in the name) and a plain file."""
    with open(os.fsencode(tmp_path) + b"/" + RAW, "wb") as handle:
        handle.write(b"hello\n")
    (tmp_path / "plain.txt").write_text("hello plain\n")
    return tmp_path


def test_listing_glob_and_grep_see_the_file(root: Path) -> None:
    """list_dir, glob and grep return the name (with its surrogate escape) instead of crashing."""
    ws = Workspace(root=root)
    assert (ws.list_dir(), sorted(ws.glob("*.txt")), ws.grep("hello$")) == (
        [SURROGATE, "plain.txt"],
        [SURROGATE, "plain.txt"],
        [(SURROGATE, 1, "hello")],
    )


def test_tools_show_the_name_with_escapes(root: Path) -> None:
    """The model sees `caf\\xe9.txt`, text that encodes as UTF-8 and JSON."""
    ws = Workspace(root=root)
    ctx = ToolContext()
    outputs = [
        list_dir_tool(ws).run({}, ctx),
        glob_tool(ws).run({"pattern": "caf*"}, ctx),
        grep_tool(ws).run({"pattern": "hello$"}, ctx),
    ]
    json.dumps(outputs, ensure_ascii=False).encode("utf-8")
    assert outputs == ["caf\\xe9.txt\nplain.txt", "caf\\xe9.txt", "caf\\xe9.txt:1: hello"]


def test_escaped_name_reads_and_writes_the_real_file(root: Path) -> None:
    """The escaped form the model saw names the raw file for read_file and write_file."""
    ws = Workspace(root=root)
    ctx = ToolContext()
    read = read_file_tool(ws).run({"file_path": "caf\\xe9.txt"}, ctx)
    write_file_tool(ws).run({"file_path": "caf\\xe9.txt", "content": "bye\n"}, ctx)
    assert (read, ws.changes()) == ("     1 | hello", [(SURROGATE, "modified")])


def test_diff_applies_and_flush_writes_the_raw_name(root: Path) -> None:
    """The diff quotes the name as git does and applies; flush writes to the raw bytes name."""
    ws = Workspace(root=root)
    ws.write(SURROGATE, "bye\n")
    check = subprocess.run(
        ["git", "apply", "--check", "-"], cwd=root, input=ws.diff().encode(), capture_output=True
    )
    ws.flush()
    with open(os.fsencode(root) + b"/" + RAW, "rb") as handle:
        assert (check.returncode, check.stderr, handle.read()) == (0, b"", b"bye\n")


@pytest.mark.parametrize("path", ["\ud800.txt", "dir/\udfff", "x\ud83d"])
def test_lone_surrogate_path_is_a_clear_error(root: Path, path: str) -> None:
    """A lone surrogate no file name can hold is refused with a message, never a crash."""
    with pytest.raises(WorkspaceError, match="lone surrogate"):
        Workspace(root=root).write(path, "x\n")


def test_lone_surrogate_path_error_reaches_the_model_as_text(root: Path) -> None:
    """The tool error for such a path is printable (escaped), so it can be sent as JSON."""
    with pytest.raises(WorkspaceError) as caught:
        write_file_tool(Workspace(root=root)).run(
            {"file_path": "\ud800.txt", "content": "x"}, ToolContext()
        )
    assert str(caught.value).encode("utf-8").startswith(b"Path '\\ud800.txt' contains")


def test_diff_notes_show_the_name_with_escapes(root: Path) -> None:
    """A non-UTF-8 name changed on disk is named as `caf\\xe9.txt`, text any terminal prints."""
    ws = Workspace(root=root)
    ws.edit(SURROGATE, "hello", "hi")
    with open(os.fsencode(root) + b"/" + RAW, "wb") as handle:
        handle.write(b"theirs\n")
    assert [note.split(" ")[0] for note in ws.diff_notes()] == ["caf\\xe9.txt"]


def test_gitignore_pattern_matching_the_name_ignores_it(root: Path) -> None:
    """A `.gitignore` pattern that matches the non-UTF-8 name ignores it instead of crashing."""
    (root / ".gitignore").write_text("caf*\n")
    assert sorted(Workspace(root=root).base_files()) == [".gitignore", "plain.txt"]
