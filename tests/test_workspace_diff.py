"""Workspace diffs: exact git formatting, and real `git apply` round trips."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tiller.errors import EditError, FileNotFoundInWorkspace, WorkspaceError
from tiller.workspace import Workspace
from tiller.workspace.diff import hunks, quote_path, text_diff

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="needs git")


def _git(cwd: Path, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["git", *args], cwd=cwd, input=stdin, capture_output=True, text=True, check=False
    )


def _checkout(source: Path, target: Path) -> Path:
    """Copy a base directory into a fresh git repository (a 'clean checkout')."""
    shutil.copytree(source, target, symlinks=True)
    _git(target, "init", "-q")
    return target


def _apply(repo: Path, patch: str) -> None:
    """`git apply --check` and then `git apply` the patch, failing loudly."""
    for args in (("apply", "--check"), ("apply",)):
        done = _git(repo, *args, "-", stdin=patch)
        assert done.returncode == 0, f"git {' '.join(args)} failed: {done.stderr}\n{patch}"


def _tree(root: Path) -> dict[str, bytes]:
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and ".git" not in p.relative_to(root).parts
    }


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ("a\nb\nc\n", "a\nB\nc\n", "@@ -1,3 +1,3 @@\n a\n-b\n+B\n c\n"),
        ("", "x\n", "@@ -0,0 +1 @@\n+x\n"),
        ("x\n", "", "@@ -1 +0,0 @@\n-x\n"),
        ("a\n", "a\nb\n", "@@ -1 +1,2 @@\n a\n+b\n"),
        ("a", "a\n", "@@ -1 +1 @@\n-a\n\\ No newline at end of file\n+a\n"),
        ("a\n", "a", "@@ -1 +1 @@\n-a\n+a\n\\ No newline at end of file\n"),
        ("a\nb\n", "a\nb\n", ""),
    ],
)
def test_hunks_match_git(old: str, new: str, expected: str) -> None:
    """Hunk headers and no-newline markers are written exactly as git writes them."""
    assert hunks(old, new) == expected


def test_hunk_insert_into_middle_uses_empty_range() -> None:
    """An insertion mid-file gets three lines of context on each side."""
    old = "".join(f"{i}\n" for i in range(1, 11))
    new = old.replace("5\n", "5\nnew\n")
    assert hunks(old, new) == "@@ -3,6 +3,7 @@\n 3\n 4\n 5\n+new\n 6\n 7\n 8\n"


def test_distant_changes_make_two_hunks() -> None:
    """Changes more than six lines apart get separate hunks."""
    old = "".join(f"{i}\n" for i in range(1, 21))
    new = old.replace("2\n", "two\n", 1).replace("19\n", "nineteen\n")
    assert [line for line in hunks(old, new).splitlines() if line.startswith("@@")] == [
        "@@ -1,5 +1,5 @@",
        "@@ -16,5 +16,5 @@",
    ]


def test_distant_changes_in_a_long_file_with_repeated_lines_stay_fast() -> None:
    """Changes at both ends of 60k lines, a third of them `}`, are two hunks in seconds.

    Matching every repeated line against every other was quadratic: 7 s at 24k lines,
    on the UI thread at every refresh.
    """
    body = "".join("  }\n" if n % 3 == 0 else f"  value {n}\n" for n in range(60_000))
    old, new = f"head\n{body}tail\n", f"HEAD\n{body}TAIL\n"
    started = time.perf_counter()
    headers = [line for line in hunks(old, new).splitlines() if line.startswith("@@")]
    elapsed = time.perf_counter() - started
    assert (headers, elapsed < 10) == (["@@ -1,4 +1,4 @@", "@@ -59999,4 +59999,4 @@"], True)


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("a/plain.txt", "a/plain.txt"),
        ("a/with space.txt", "a/with space.txt"),
        ("a/café.txt", '"a/caf\\303\\251.txt"'),
        ('a/q"uote', '"a/q\\"uote"'),
        ("a/tab\there", '"a/tab\\there"'),
    ],
)
def test_quote_path_like_git(path: str, expected: str) -> None:
    """Paths are C-quoted with octal escapes exactly when git would."""
    assert quote_path(path) == expected


def test_new_file_header() -> None:
    """A new file has the new-file mode line and /dev/null as its old side."""
    assert text_diff("n.txt", None, "x\n") == (
        "diff --git a/n.txt b/n.txt\n"
        "new file mode 100644\n"
        "index 0000000..587be6b\n"
        "--- /dev/null\n"
        "+++ b/n.txt\n"
        "@@ -0,0 +1 @@\n"
        "+x\n"
    )


def test_deleted_empty_file_has_no_hunks() -> None:
    """Deleting an empty file is only a header, as git writes it."""
    assert text_diff("e", "", None) == (
        "diff --git a/e b/e\ndeleted file mode 100644\nindex e69de29..0000000\n"
    )


@pytest.fixture
def base(tmp_path: Path) -> Path:
    """A base directory covering newline endings, empty, binary and executable files."""
    root = tmp_path / "base"
    root.mkdir()
    (root / "keep.txt").write_text("one\ntwo\nthree\nfour\nfive\nsix\nseven\neight\n")
    (root / "nonl.txt").write_text("no newline")
    (root / "nl.txt").write_text("has newline\n")
    (root / "empty.txt").write_text("")
    (root / "gone.txt").write_text("bye\n")
    (root / "gone-empty.txt").write_text("")
    (root / "dir with space").mkdir()
    (root / "dir with space" / "f.txt").write_text("spaced\n")
    (root / "image.bin").write_bytes(bytes(range(256)) * 4)
    (root / "tool.sh").write_text("#!/bin/sh\necho hi\n")
    (root / "tool.sh").chmod(0o755)
    return root


def test_git_apply_round_trip(base: Path, tmp_path: Path) -> None:
    """add, modify, delete, newline changes, empty files, spaces, unicode and binary all apply."""
    ws = Workspace(root=base)
    ws.write("added.txt", "brand\nnew\n")
    ws.write("added-nonl.txt", "no final newline")
    ws.write("added-empty.txt", "")
    ws.write("deep/er/new.py", "x = 1\n")
    ws.write("café.txt", "unicode name\n")
    ws.edit("keep.txt", "four\n", "FOUR\n")
    ws.write("nonl.txt", "no newline\n")
    ws.write("nl.txt", "has newline")
    ws.write("empty.txt", "now has content\n")
    ws.delete("gone.txt")
    ws.delete("gone-empty.txt")
    ws.edit("dir with space/f.txt", "spaced", "still spaced")
    ws.delete("image.bin")
    ws.edit("tool.sh", "hi", "hello")
    repo = _checkout(base, tmp_path / "checkout")
    _apply(repo, ws.diff())
    expected = {path: ws.read(path).encode() for path in ws.glob("**/*")}
    assert _tree(repo) == expected


def test_git_apply_binary_overwritten_with_text(base: Path, tmp_path: Path) -> None:
    """A binary base file replaced by text applies as a binary patch."""
    ws = Workspace(root=base)
    ws.write("image.bin", "text now\n")
    repo = _checkout(base, tmp_path / "checkout")
    _apply(repo, ws.diff())
    assert (repo / "image.bin").read_bytes() == b"text now\n"


def test_git_apply_keeps_executable_mode(base: Path, tmp_path: Path) -> None:
    """The index line of a modified executable carries mode 100755."""
    ws = Workspace(root=base)
    ws.edit("tool.sh", "hi", "hello")
    assert ws.diff().splitlines()[1].split(" ")[-1] == "100755"


def test_diff_limited_to_paths(base: Path) -> None:
    """diff(paths) includes only changes under the given paths."""
    ws = Workspace(root=base)
    ws.write("a.txt", "a\n")
    ws.write("dir with space/f.txt", "x\n")
    assert ws.diff(["dir with space"]).splitlines()[0] == (
        "diff --git a/dir with space/f.txt b/dir with space/f.txt"
    )


def test_diff_of_unchanged_workspace_is_empty(base: Path) -> None:
    """No changes, no diff."""
    ws = Workspace(root=base)
    ws.write("keep.txt", (base / "keep.txt").read_text())
    assert ws.diff() == ""


def test_diff_is_against_what_was_read(base: Path, tmp_path: Path) -> None:
    """The diff's old side is the content the workspace saw, even if the disk moved on."""
    ws = Workspace(root=base)
    ws.write("nl.txt", "mine\n")
    repo = _checkout(base, tmp_path / "checkout")
    (base / "nl.txt").write_text("someone else\n")
    _apply(repo, ws.diff())
    assert (repo / "nl.txt").read_text() == "mine\n"


# -- property: random edits, exported and applied by git, reproduce the workspace --

BASE_PATHS = ["a.txt", "b.txt", "dir/c.txt", "dir/sub/d.txt", "sp ace.txt", "é.txt"]
NEW_PATHS = ["new.txt", "dir/new.txt", "fresh/deep/new.txt"]
LINES = st.sampled_from(
    [
        "alpha",
        "beta",
        "",
        "  indented",
        "gamma delta",
        "é",
        "tab\tbed",
        "x\r",
        "mid\rcr",
        "form\x0cfeed",
    ]
)
TEXT = st.builds(
    lambda lines, newline: "\n".join(lines) + ("\n" if newline and lines else ""),
    st.lists(LINES, max_size=8),
    st.booleans(),
)
OPS = st.lists(
    st.one_of(
        st.tuples(st.just("write"), st.sampled_from(BASE_PATHS + NEW_PATHS), TEXT),
        st.tuples(
            st.just("edit"),
            st.sampled_from(BASE_PATHS + NEW_PATHS),
            st.integers(0, 60),
            st.integers(1, 12),
            TEXT,
        ),
        st.tuples(st.just("delete"), st.sampled_from(BASE_PATHS + NEW_PATHS)),
    ),
    max_size=12,
)


def _run(ws: Workspace, op: tuple[object, ...]) -> None:
    kind, path = op[0], str(op[1])
    try:
        if kind == "write":
            ws.write(path, str(op[2]))
        elif kind == "delete":
            ws.delete(path)
        else:
            text = ws.read(path)
            start, size, new = int(op[2]) % (len(text) or 1), int(op[3]), str(op[4])
            old = text[start : start + size]
            ws.edit(path, old, new, replace_all=True)
    except (EditError, FileNotFoundInWorkspace):
        pass


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(base_files=st.dictionaries(st.sampled_from(BASE_PATHS), TEXT, min_size=1), ops=OPS)
def test_diff_applies_with_git_and_reproduces_workspace(
    base_files: dict[str, str], ops: list[tuple[object, ...]]
) -> None:
    """Random writes, edits and deletes, exported as a diff, rebuild the workspace via git."""
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp) / "base"
        for path, content in base_files.items():
            (base / path).parent.mkdir(parents=True, exist_ok=True)
            (base / path).write_bytes(content.encode())
        ws = Workspace(root=base)
        for op in ops:
            _run(ws, op)
        repo = _checkout(base, Path(tmp) / "checkout")
        patch = ws.diff()
        if patch:
            _apply(repo, patch)
        expected = {path: content.encode() for path, content in base_files.items()}
        for path in set(BASE_PATHS + NEW_PATHS):
            try:
                expected[path] = ws.read(path).encode()
            except (FileNotFoundInWorkspace, WorkspaceError):
                expected.pop(path, None)
        assert _tree(repo) == expected


def test_git_apply_new_file_with_nul_byte(base: Path, tmp_path: Path) -> None:
    """Written content with a NUL byte is exported as a binary patch that applies."""
    ws = Workspace(root=base)
    ws.write("nul.dat", "a\0b\n")
    repo = _checkout(base, tmp_path / "checkout")
    _apply(repo, ws.diff())
    assert (repo / "nul.dat").read_bytes() == b"a\0b\n"
