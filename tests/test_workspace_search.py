"""Workspace search: glob and grep over base + overlay, gitignore and `.git/`."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tiller.errors import FileNotFoundInWorkspace, WorkspaceError
from tiller.workspace import Workspace
from tiller.workspace.globs import compile_glob


def _touch(path: Path, text: str, mtime: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    os.utime(path, (mtime, mtime))


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A base with nested files of known mtimes, a .gitignore, .git/ and a binary."""
    _touch(tmp_path / "setup.py", "import os\n", 1_000)
    _touch(tmp_path / "src" / "app.py", "def main():\n    return 'TODO'\n", 3_000)
    _touch(tmp_path / "src" / "pkg" / "deep.py", "# todo: later\nx = 1\n", 2_000)
    _touch(tmp_path / "docs" / "guide.md", "TODO write the guide\n", 4_000)
    _touch(tmp_path / ".gitignore", "build/\n*.log\n!keep.log\n", 500)
    _touch(tmp_path / "build" / "gen.py", "TODO generated\n", 5_000)
    _touch(tmp_path / "debug.log", "TODO log\n", 5_000)
    _touch(tmp_path / "keep.log", "TODO kept\n", 600)
    _touch(tmp_path / "src" / "pkg" / ".gitignore", "local_*.py\n", 500)
    _touch(tmp_path / "src" / "pkg" / "local_cfg.py", "TODO local\n", 5_000)
    _touch(tmp_path / ".git" / "HEAD", "TODO ref\n", 5_000)
    (tmp_path / "blob.bin").write_bytes(b"TODO\0binary")
    return tmp_path


@pytest.mark.parametrize(
    ("pattern", "path", "expected"),
    [
        ("**/*.py", "", ["src/app.py", "src/pkg/deep.py", "setup.py"]),
        ("*.py", "", ["setup.py"]),
        ("src/**/*.py", "", ["src/app.py", "src/pkg/deep.py"]),
        ("*.py", "src", ["src/app.py"]),
        ("**/*.{md,log}", "", ["docs/guide.md", "keep.log"]),
        ("**/de?p.py", "", ["src/pkg/deep.py"]),
        ("nothing*", "", []),
    ],
)
def test_glob_newest_first(repo: Path, pattern: str, path: str, expected: list[str]) -> None:
    """glob matches with `**`, braces and `?`, newest base files first."""
    assert Workspace(root=repo).glob(pattern, path) == expected


def test_glob_puts_overlay_files_first(repo: Path) -> None:
    """Overlay files count as newest, sorted by path, ahead of base files."""
    ws = Workspace(root=repo)
    ws.write("zz.py", "")
    ws.write("src/a_new.py", "")
    assert ws.glob("**/*.py") == [
        "src/a_new.py",
        "zz.py",
        "src/app.py",
        "src/pkg/deep.py",
        "setup.py",
    ]


def test_glob_skips_deleted_files(repo: Path) -> None:
    """Deleted base files are not globbed."""
    ws = Workspace(root=repo)
    ws.delete("setup.py")
    assert ws.glob("*.py") == []


def test_glob_lists_binary_files(repo: Path) -> None:
    """Binary files are listed by glob."""
    assert Workspace(root=repo).glob("*.bin") == ["blob.bin"]


def test_glob_in_memory_only() -> None:
    """Without a root, glob searches the in-memory files."""
    ws = Workspace({"a/b.py": "", "a/c.txt": "", "d.py": ""})
    assert ws.glob("**/*.py") == ["a/b.py", "d.py"]


def test_glob_on_a_file_path_is_an_error(repo: Path) -> None:
    """glob with a file as its directory raises WorkspaceError."""
    with pytest.raises(WorkspaceError, match="not a directory"):
        Workspace(root=repo).glob("*", "setup.py")


def test_glob_on_missing_directory_raises(repo: Path) -> None:
    """glob under a missing directory raises FileNotFoundInWorkspace."""
    with pytest.raises(FileNotFoundInWorkspace):
        Workspace(root=repo).glob("*", "nope")


def test_glob_explicit_ignored_directory_is_searched(repo: Path) -> None:
    """Asking for an ignored directory by name lists its files."""
    assert Workspace(root=repo).glob("*.py", "build") == ["build/gen.py"]


@pytest.mark.parametrize(
    ("pattern", "path", "matches"),
    [
        ("**/*.py", "a.py", True),
        ("**/*.py", "a/b/c.py", True),
        ("*.py", "a/b.py", False),
        ("a/**", "a/b/c", True),
        ("a/**/b.py", "a/b.py", True),
        ("[!x]y", "zy", True),
        ("[!x]y", "xy", False),
        ("{a,b}/*.py", "b/c.py", True),
        ("a\\*b", "a*b", True),
        ("a\\*b", "axb", False),
    ],
)
def test_compile_glob(pattern: str, path: str, matches: bool) -> None:
    """Glob translation keeps `*` within a segment and lets `**` span directories."""
    assert compile_glob(pattern).match(path) == matches


def test_grep_finds_lines_in_base_and_skips_ignored(repo: Path) -> None:
    """grep searches base files in path order, skipping ignored, `.git/` and binary files."""
    assert Workspace(root=repo).grep("TODO") == [
        ("docs/guide.md", 1, "TODO write the guide"),
        ("keep.log", 1, "TODO kept"),
        ("src/app.py", 2, "    return 'TODO'"),
    ]


def test_grep_overlay_content_wins(repo: Path) -> None:
    """Overlay content replaces the base file's content in grep results."""
    ws = Workspace(root=repo)
    ws.write("src/app.py", "no marker\nTODO: new one\n")
    ws.delete("docs/guide.md")
    assert ws.grep("TODO") == [("keep.log", 1, "TODO kept"), ("src/app.py", 2, "TODO: new one")]


def test_grep_case_insensitive(repo: Path) -> None:
    """case_insensitive matches regardless of case."""
    assert Workspace(root=repo).grep("todo", path="src", case_insensitive=True) == [
        ("src/app.py", 2, "    return 'TODO'"),
        ("src/pkg/deep.py", 1, "# todo: later"),
    ]


@pytest.mark.parametrize(
    ("glob", "expected"),
    [
        ("*.md", [("docs/guide.md", 1, "TODO write the guide")]),
        ("src/*.py", [("src/app.py", 2, "    return 'TODO'")]),
        ("*.rs", []),
    ],
)
def test_grep_glob_filter(repo: Path, glob: str, expected: list[tuple[str, int, str]]) -> None:
    """The glob filter matches file names, or paths when it has a slash."""
    assert Workspace(root=repo).grep("TODO", glob=glob) == expected


def test_grep_single_file(repo: Path) -> None:
    """grep with a file path searches only that file."""
    assert Workspace(root=repo).grep(r"x = \d", path="src/pkg/deep.py") == [
        ("src/pkg/deep.py", 2, "x = 1")
    ]


def test_grep_max_results(repo: Path) -> None:
    """grep stops after max_results lines."""
    ws = Workspace({f"f{i}.txt": "hit\nhit\n" for i in range(5)})
    assert len(ws.grep("hit", max_results=3)) == 3


def test_grep_invalid_regex(repo: Path) -> None:
    """An invalid regex raises WorkspaceError starting with 'Invalid regex'."""
    with pytest.raises(WorkspaceError, match=r"^Invalid regex"):
        Workspace(root=repo).grep("(unclosed")


def test_grep_missing_path(repo: Path) -> None:
    """grep under a missing path raises FileNotFoundInWorkspace."""
    with pytest.raises(FileNotFoundInWorkspace):
        Workspace(root=repo).grep("x", path="nope")


def test_grep_skips_invalid_utf8(repo: Path) -> None:
    """Files that are not UTF-8 are treated as binary and skipped."""
    (repo / "latin.txt").write_bytes("TODO caf\xe9\n".encode("latin-1"))
    assert Workspace(root=repo).grep("caf") == []


@pytest.mark.parametrize(
    ("pattern", "text", "expected"),
    [
        ("x$", "ax\nb\n", [1]),
        ("^b", "ax\nb", [2]),
        (r"\Ab", "a\nb\n", [2]),
        (r"a\z", "a\nab\n", [1]),
        (r"\s+b", "a\n b\n", [2]),
        ("^$", "a\n\nb\n", [2]),
        ("é", "café\n", [1]),
        (r"caf\w", "café\n", [1]),
    ],
)
def test_grep_is_line_by_line(pattern: str, text: str, expected: list[int]) -> None:
    """Each line is matched on its own, anchors and lookarounds included."""
    ws = Workspace({"f.txt": text})
    assert [line for _, line, _ in ws.grep(pattern)] == expected


def test_grep_strips_carriage_returns() -> None:
    """Lines from CRLF files come back without the `\\r`."""
    ws = Workspace({"f.txt": "a\r\nb\r\n"})
    assert ws.grep("b") == [("f.txt", 2, "b")]


def test_grep_in_memory_only() -> None:
    """Without a root, grep searches the in-memory files."""
    ws = Workspace({"b.txt": "needle\n", "a.txt": "hay\nneedle\n"})
    assert ws.grep("needle") == [("a.txt", 2, "needle"), ("b.txt", 1, "needle")]


def test_nested_gitignore_negation(tmp_path: Path) -> None:
    """A deeper .gitignore can re-include what a shallower one ignores."""
    _touch(tmp_path / ".gitignore", "*.gen\n", 1)
    _touch(tmp_path / "a" / ".gitignore", "!keep.gen\n", 1)
    _touch(tmp_path / "a" / "keep.gen", "x\n", 1)
    _touch(tmp_path / "a" / "drop.gen", "x\n", 1)
    assert Workspace(root=tmp_path).glob("**/*.gen") == ["a/keep.gen"]


def test_git_info_exclude_is_honoured(tmp_path: Path) -> None:
    """Patterns in `.git/info/exclude` hide files like .gitignore does."""
    _touch(tmp_path / ".git" / "info" / "exclude", "secret.txt\n", 1)
    _touch(tmp_path / "secret.txt", "x\n", 1)
    _touch(tmp_path / "public.txt", "x\n", 1)
    assert Workspace(root=tmp_path).glob("*") == ["public.txt"]
