"""Search that cannot freeze: RE2 matching, binary sniffing, a size cap, cancel between files."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from tiller.errors import WorkspaceError
from tiller.tools import grep_tool
from tiller.tools.base import ToolContext
from tiller.workspace import Workspace
from tiller.workspace.globs import compile_glob
from tiller.workspace.search import MAX_GREP_FILE_BYTES


def test_catastrophic_pattern_returns_quickly() -> None:
    """`(a+)+$` over 35 `a`s and a `!` (hours with a backtracking engine) is instant with RE2."""
    ws = Workspace({"evil.txt": "a" * 35 + "!\n"})
    start = time.perf_counter()
    hits = ws.grep("(a+)+$")
    assert (hits, time.perf_counter() - start < 5) == ([], True)


def test_catastrophic_glob_returns_quickly() -> None:
    """A glob of many stars over a long name, polynomial with backtracking, is instant."""
    glob = compile_glob("*a*a*a*a*a*a*a*a*a*a*b")
    start = time.perf_counter()
    matched = glob.match("a" * 250)
    assert (matched, time.perf_counter() - start < 5) == (False, True)


@pytest.mark.parametrize(
    ("pattern", "advice"),
    [
        ("foo(?=bar)", "lookahead and lookbehind"),
        ("(?<!x)y", "lookahead and lookbehind"),
        (r"(ab)\1", "backreferences"),
        ("(?>ab)", "atomic groups"),
        (r"x\Z", "use `$`"),
    ],
)
def test_unsupported_syntax_says_what_to_write(pattern: str, advice: str) -> None:
    """Syntax RE2 lacks is a clear error that tells the model what to write instead."""
    with pytest.raises(WorkspaceError) as caught:
        Workspace({"a.txt": "x\n"}).grep(pattern)
    assert advice in str(caught.value)


def test_unicode_word_class_matches_letters() -> None:
    r"""`\w` matches accented letters, as it does in Python's `re`."""
    assert Workspace({"a.txt": "naïve\n"}).grep(r"na\w+") == [("a.txt", 1, "naïve")]


def test_nul_after_the_first_8_kib_is_text(tmp_path: Path) -> None:
    """Binary detection looks at the first 8 KiB only, as git and ripgrep do."""
    (tmp_path / "late.txt").write_bytes(b"x" * 9000 + b"\0\nneedle\n")
    (tmp_path / "early.bin").write_bytes(b"\0needle\n")
    assert Workspace(root=tmp_path).grep("needle") == [("late.txt", 2, "needle")]


def test_huge_sparse_file_is_skipped_with_a_note(tmp_path: Path) -> None:
    """A 2 GiB file is not read; grep returns, and search() names it as skipped."""
    with open(tmp_path / "huge.bin", "wb") as handle:
        handle.truncate(2 << 30)
    (tmp_path / "small.txt").write_text("needle\n")
    result = Workspace(root=tmp_path).search("needle")
    assert (result.hits, result.too_large) == ([("small.txt", 1, "needle")], ["huge.bin"])


def test_file_over_the_cap_is_skipped(tmp_path: Path) -> None:
    """A text file just over MAX_GREP_FILE_BYTES is skipped even though it would match."""
    (tmp_path / "big.txt").write_bytes(b"needle\n" + b"x" * MAX_GREP_FILE_BYTES)
    result = Workspace(root=tmp_path).search("needle")
    assert (result.hits, result.too_large) == ([], ["big.txt"])


def test_grep_tool_notes_skipped_files(tmp_path: Path) -> None:
    """The tool's output says which files were too large to search."""
    with open(tmp_path / "huge.log", "wb") as handle:
        handle.truncate(2 << 30)
    text = grep_tool(Workspace(root=tmp_path)).run({"pattern": "x"}, ToolContext())
    assert text == "No matches for 'x'.\n[Not searched, over 10 MB: huge.log]"


def test_cancel_stops_between_files() -> None:
    """A set cancel event stops the search before the next file."""
    cancel = threading.Event()
    cancel.set()
    result = Workspace({"a.txt": "x\n", "b.txt": "x\n"}).search("x", cancel=cancel)
    assert (result.hits, result.cancelled) == ([], True)


def test_grep_tool_honours_the_context_cancel() -> None:
    """The grep tool passes ToolContext.cancel down and says the search was cancelled."""
    ctx = ToolContext()
    ctx.cancel.set()
    text = grep_tool(Workspace({"a.txt": "x\n"})).run({"pattern": "x"}, ctx)
    assert text == "No matches for 'x'.\n[Search cancelled before every file was searched]"
