"""The built-in file tools, called the way the model calls them: through the registry."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from tiller.model import ToolCall
from tiller.tools import ALL_FILE_TOOL_NAMES, file_tools
from tiller.tools.registry import ToolRegistry
from tiller.workspace import Workspace


@pytest.fixture
def base(tmp_path: Path) -> Path:
    """A project on disk: a binary file, two sources with distinct ages, a README."""
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "old.py").write_text("def old():\n    return 1\n")
    (tmp_path / "src" / "new.py").write_text("def new():\n    return 2\n")
    (tmp_path / "README.md").write_text("# Demo\n")
    (tmp_path / "logo.png").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00")
    os.utime(tmp_path / "src" / "old.py", (1_000_000, 1_000_000))
    os.utime(tmp_path / "src" / "new.py", (2_000_000, 2_000_000))
    return tmp_path


EVERY_TOOL = file_tools(Workspace()) + file_tools(Workspace(), edit_style="apply_patch")


def call(workspace: Workspace, name: str, **args: Any) -> tuple[bool, str]:
    """Run one tool call; returns (is_error, output)."""
    style = "apply_patch" if name == "apply_patch" else "edit_file"
    registry = ToolRegistry(file_tools(workspace, edit_style=style))
    result = registry.execute(ToolCall("call-1", name, json.dumps(args)))
    return result.is_error, result.output


# -- presets --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("edit_style", "expected"),
    [
        ("edit_file", ["read_file", "write_file", "edit_file", "grep", "glob", "list_dir"]),
        ("apply_patch", ["read_file", "write_file", "apply_patch", "grep", "glob", "list_dir"]),
    ],
)
def test_file_tools_preset(edit_style: Any, expected: list[str]) -> None:
    """file_tools offers one editing tool, chosen by edit_style."""
    assert [tool.name for tool in file_tools(Workspace(), edit_style=edit_style)] == expected


def test_file_tools_rejects_unknown_edit_style() -> None:
    """An unknown edit_style is a programmer error."""
    with pytest.raises(ValueError, match="edit_style"):
        file_tools(Workspace(), edit_style="sed")  # type: ignore[arg-type]


def test_all_file_tool_names_cover_both_presets() -> None:
    """ALL_FILE_TOOL_NAMES is the union of both presets."""
    assert sorted(ALL_FILE_TOOL_NAMES) == sorted({tool.name for tool in EVERY_TOOL})


@pytest.mark.parametrize("tool", EVERY_TOOL)
def test_schemas_are_closed_objects(tool: Any) -> None:
    """Every file tool's schema is an object that refuses unknown properties."""
    assert (tool.parameters["type"], tool.parameters["additionalProperties"]) == ("object", False)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("read_file", True),
        ("grep", True),
        ("glob", True),
        ("list_dir", True),
        ("write_file", False),
        ("edit_file", False),
    ],
)
def test_only_read_only_tools_are_parallel_safe(name: str, expected: bool) -> None:
    """Reading tools may run concurrently; writing tools may not."""
    tools = {tool.name: tool for tool in file_tools(Workspace())}
    assert tools[name].parallel_safe is expected


def test_apply_patch_is_not_parallel_safe() -> None:
    """apply_patch writes, so it never runs concurrently."""
    tools = {tool.name: tool for tool in file_tools(Workspace(), edit_style="apply_patch")}
    assert tools["apply_patch"].parallel_safe is False


# -- read_file ------------------------------------------------------------------


def test_read_file_numbers_lines() -> None:
    """Lines come back right-aligned to six columns, then ` | `."""
    ws = Workspace({"a.py": "x = 1\n\ny = 2\n"})
    assert call(ws, "read_file", file_path="a.py") == (
        False,
        "     1 | x = 1\n     2 | \n     3 | y = 2",
    )


def test_read_file_offset_and_limit_with_continuation_note() -> None:
    """offset/limit page through a file; the note says where to continue."""
    ws = Workspace({"a.txt": "".join(f"l{n}\n" for n in range(1, 11))})
    assert call(ws, "read_file", file_path="a.txt", offset=3, limit=2) == (
        False,
        "     3 | l3\n     4 | l4\n[... 6 more lines; use offset=5 to continue]",
    )


def test_read_file_one_more_line_is_singular() -> None:
    """The continuation note says `1 more line`."""
    ws = Workspace({"a.txt": "a\nb\n"})
    assert call(ws, "read_file", file_path="a.txt", limit=1) == (
        False,
        "     1 | a\n[... 1 more line; use offset=2 to continue]",
    )


def test_read_file_default_limit_is_2000_lines() -> None:
    """Without a limit, 2000 lines are shown and the rest announced."""
    ws = Workspace({"a.txt": "x\n" * 2340})
    _, output = call(ws, "read_file", file_path="a.txt")
    assert output.splitlines()[-2:] == [
        "  2000 | x",
        "[... 340 more lines; use offset=2001 to continue]",
    ]


def test_read_file_without_trailing_newline() -> None:
    """A last line without a newline is still a line."""
    ws = Workspace({"a.txt": "a\nb"})
    assert call(ws, "read_file", file_path="a.txt") == (False, "     1 | a\n     2 | b")


def test_read_file_crlf_line_ends_are_not_shown() -> None:
    """`\\r\\n` line ends are stripped like `\\n`."""
    ws = Workspace({"a.txt": "a\r\nb\r\n"})
    assert call(ws, "read_file", file_path="a.txt") == (False, "     1 | a\n     2 | b")


def test_read_file_cuts_very_long_lines() -> None:
    """A line over 2000 characters is cut with a note of how much is missing."""
    ws = Workspace({"min.js": "x" * 2500})
    assert call(ws, "read_file", file_path="min.js") == (
        False,
        f"     1 | {'x' * 2000}... [line truncated, 500 more characters]",
    )


def test_read_file_empty_file() -> None:
    """An empty file is reported as such."""
    assert call(Workspace({"e.txt": ""}), "read_file", file_path="e.txt") == (
        False,
        "e.txt is empty (0 lines).",
    )


def test_read_file_offset_past_end() -> None:
    """An offset past the last line is an error that gives the length."""
    assert call(Workspace({"a.txt": "a\nb\n"}), "read_file", file_path="a.txt", offset=3) == (
        True,
        "Tool error (read_file): offset 3 is past the end of a.txt, which has 2 lines",
    )


def test_read_file_from_base_directory(base: Path) -> None:
    """Files on disk under the root are readable."""
    assert call(Workspace(root=base), "read_file", file_path="README.md") == (
        False,
        "     1 | # Demo",
    )


def test_read_file_binary_is_an_error(base: Path) -> None:
    """A binary file is an error result, not garbage."""
    assert call(Workspace(root=base), "read_file", file_path="logo.png") == (
        True,
        "Tool error (read_file): logo.png is a binary file and cannot be read as text",
    )


def test_read_file_missing_is_an_error() -> None:
    """A missing file is an error result."""
    is_error, output = call(Workspace(), "read_file", file_path="nope.txt")
    assert (is_error, output.startswith("Tool error (read_file): File not found: nope.txt")) == (
        True,
        True,
    )


def test_read_file_directory_is_an_error(base: Path) -> None:
    """Reading a directory is an error result."""
    assert call(Workspace(root=base), "read_file", file_path="src") == (
        True,
        "Tool error (read_file): src is a directory, not a file",
    )


@pytest.mark.parametrize(
    ("name", "args"),
    [
        ("read_file", {"file_path": "../secret"}),
        ("write_file", {"file_path": "../secret", "content": "x"}),
        ("edit_file", {"file_path": "../secret", "old_string": "a", "new_string": "b"}),
        ("grep", {"pattern": "x", "path": "../"}),
        ("glob", {"pattern": "*", "path": "../"}),
        ("list_dir", {"path": "a/../../"}),
    ],
)
def test_escaping_paths_are_error_results(base: Path, name: str, args: dict[str, Any]) -> None:
    """A path leaving the workspace root is refused as an error result."""
    is_error, output = call(Workspace(root=base / "src"), name, **args)
    assert (is_error, "escapes the workspace root" in output) == (True, True)


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ({}, "$: 'file_path' is a required property"),
        ({"file_path": ""}, "$.file_path: '' should be non-empty"),
        ({"file_path": "a", "offset": 0}, "$.offset: 0 is less than the minimum of 1"),
        ({"file_path": "a", "limit": "10"}, "$.limit: '10' is not of type 'integer'"),
        (
            {"file_path": "a", "lines": 10},
            "$: Additional properties are not allowed ('lines' was unexpected)",
        ),
    ],
)
def test_read_file_schema_violations(args: dict[str, Any], expected: str) -> None:
    """Bad read_file arguments are reported with their JSON path."""
    assert call(Workspace({"a": "x"}), "read_file", **args) == (
        True,
        f"Invalid arguments for tool: read_file: {expected}",
    )


# -- write_file -----------------------------------------------------------------


def test_write_file_creates_with_parents() -> None:
    """A new file in a new directory is created and reported with its UTF-8 size."""
    ws = Workspace()
    result = call(ws, "write_file", file_path="pkg/sub/é.txt", content="héllo\n")
    assert (result, ws.files()) == (
        (False, "Created pkg/sub/é.txt (7 bytes written)."),
        {"pkg/sub/é.txt": "héllo\n"},
    )


def test_write_file_overwrites() -> None:
    """Writing an existing file replaces it and says so."""
    ws = Workspace({"a.txt": "old"})
    result = call(ws, "write_file", file_path="a.txt", content="x")
    assert (result, ws.read("a.txt")) == ((False, "Overwrote a.txt (1 byte written)."), "x")


def test_write_file_overwrites_base_file_in_memory_only(base: Path) -> None:
    """Overwriting a file on disk changes the workspace, not the disk."""
    ws = Workspace(root=base)
    result = call(ws, "write_file", file_path="README.md", content="new\n")
    assert (result, (base / "README.md").read_text()) == (
        (False, "Overwrote README.md (4 bytes written)."),
        "# Demo\n",
    )


def test_write_file_under_a_file_is_an_error() -> None:
    """A path whose parent is a file is an error result."""
    assert call(Workspace({"a.py": "x"}), "write_file", file_path="a.py/b", content="") == (
        True,
        "Tool error (write_file): Cannot create a.py/b: a.py is a file",
    )


def test_write_file_content_is_required() -> None:
    """write_file without content is a schema violation."""
    assert call(Workspace(), "write_file", file_path="a") == (
        True,
        "Invalid arguments for tool: write_file: $: 'content' is a required property",
    )


# -- edit_file ------------------------------------------------------------------


def test_edit_file_replaces_unique_string() -> None:
    """A unique old_string is replaced once."""
    ws = Workspace({"a.py": "x = 1\ny = 2\n"})
    result = call(ws, "edit_file", file_path="a.py", old_string="y = 2", new_string="y = 3")
    assert (result, ws.read("a.py")) == (
        (False, "Replaced 1 occurrence in a.py."),
        "x = 1\ny = 3\n",
    )


def test_edit_file_replace_all_counts() -> None:
    """replace_all replaces every occurrence and reports how many."""
    ws = Workspace({"a.py": "a a a"})
    args = {"file_path": "a.py", "old_string": "a", "new_string": "b", "replace_all": True}
    result = call(ws, "edit_file", **args)
    assert (result, ws.read("a.py")) == ((False, "Replaced 3 occurrences in a.py."), "b b b")


def test_edit_file_not_unique_asks_for_context() -> None:
    """An ambiguous old_string is an error asking for more context or replace_all."""
    ws = Workspace({"a.py": "a\na\n"})
    assert call(ws, "edit_file", file_path="a.py", old_string="a", new_string="b") == (
        True,
        "Tool error (edit_file): old_string appears 2 times in a.py; include more surrounding "
        "context to make it unique, or set replace_all to replace every occurrence",
    )


def test_edit_file_missing_old_string() -> None:
    """An old_string that is not in the file is an error and changes nothing."""
    ws = Workspace({"a.py": "x\n"})
    result = call(ws, "edit_file", file_path="a.py", old_string="zzz", new_string="b")
    assert (result, ws.read("a.py")) == (
        (True, "Tool error (edit_file): old_string not found in a.py"),
        "x\n",
    )


def test_edit_file_identical_strings() -> None:
    """old_string equal to new_string is an error."""
    ws = Workspace({"a.py": "x\n"})
    assert call(ws, "edit_file", file_path="a.py", old_string="x", new_string="x") == (
        True,
        "Tool error (edit_file): old_string and new_string are identical; "
        "nothing to change in a.py",
    )


def test_edit_file_missing_file() -> None:
    """Editing a file that does not exist is an error."""
    assert call(Workspace(), "edit_file", file_path="a.py", old_string="x", new_string="y") == (
        True,
        "Tool error (edit_file): File not found: a.py",
    )


def test_edit_file_binary_is_an_error(base: Path) -> None:
    """Editing a binary file is an error result."""
    assert call(
        Workspace(root=base), "edit_file", file_path="logo.png", old_string="P", new_string="Q"
    ) == (True, "Tool error (edit_file): logo.png is a binary file and cannot be read as text")


def test_edit_file_replace_all_must_be_boolean() -> None:
    """replace_all of the wrong type is a schema violation."""
    args = {"file_path": "a", "old_string": "x", "new_string": "y", "replace_all": "yes"}
    assert call(Workspace({"a": "x"}), "edit_file", **args) == (
        True,
        "Invalid arguments for tool: edit_file: $.replace_all: 'yes' is not of type 'boolean'",
    )


# -- grep -----------------------------------------------------------------------


def test_grep_lists_path_line_text(base: Path) -> None:
    """Matches come back as `path:line: text`, files in path order."""
    assert call(Workspace(root=base), "grep", pattern=r"return \d") == (
        False,
        "src/new.py:2:     return 2\nsrc/old.py:2:     return 1",
    )


def test_grep_sees_unflushed_edits(base: Path) -> None:
    """grep searches the workspace's version of a file, not the disk's."""
    ws = Workspace(root=base)
    ws.write("src/old.py", "def old():\n    return 42\n")
    assert call(ws, "grep", pattern="42") == (False, "src/old.py:2:     return 42")


def test_grep_path_and_glob_filter(base: Path) -> None:
    """path and glob_filter narrow the files searched."""
    ws = Workspace(root=base)
    assert call(ws, "grep", pattern="def|Demo", path="src", glob_filter="n*.py") == (
        False,
        "src/new.py:1: def new():",
    )


def test_grep_case_insensitive() -> None:
    """case_insensitive matches regardless of case."""
    ws = Workspace({"a.txt": "Hello\nhello\n"})
    assert call(ws, "grep", pattern="HELLO", case_insensitive=True) == (
        False,
        "a.txt:1: Hello\na.txt:2: hello",
    )


def test_grep_skips_binary_files(base: Path) -> None:
    """Binary files never match."""
    assert call(Workspace(root=base), "grep", pattern="PNG") == (False, "No matches for 'PNG'.")


def test_grep_no_matches_names_path() -> None:
    """No matches says so, with the path searched."""
    ws = Workspace({"src/a.py": "x\n"})
    assert call(ws, "grep", pattern="nothing", path="src") == (
        False,
        "No matches for 'nothing' in src.",
    )


def test_grep_cap_is_noted() -> None:
    """Hitting max_results keeps that many matches and says it stopped."""
    ws = Workspace({"a.txt": "x\n" * 5})
    assert call(ws, "grep", pattern="x", max_results=2) == (
        False,
        "a.txt:1: x\na.txt:2: x\n[Stopped at 2 matches; narrow the pattern, path or glob_filter, "
        "or raise max_results]",
    )


def test_grep_exactly_max_results_is_not_capped() -> None:
    """Exactly max_results matches carries no cap note."""
    ws = Workspace({"a.txt": "x\n" * 2})
    assert call(ws, "grep", pattern="x", max_results=2) == (False, "a.txt:1: x\na.txt:2: x")


def test_grep_cuts_long_lines() -> None:
    """A matching line over 500 characters is cut."""
    ws = Workspace({"a.txt": "x" * 600})
    assert call(ws, "grep", pattern="x") == (
        False,
        f"a.txt:1: {'x' * 500}... [100 more characters]",
    )


def test_grep_invalid_regex() -> None:
    """An invalid regex is an error result naming the problem."""
    assert call(Workspace({"a": "x"}), "grep", pattern="(") == (
        True,
        "Tool error (grep): Invalid regex '(' (RE2 syntax): missing ): (",
    )


def test_grep_missing_path() -> None:
    """Searching a path that does not exist is an error."""
    is_error, output = call(Workspace({"a": "x"}), "grep", pattern="x", path="nope")
    assert (is_error, output.startswith("Tool error (grep): File not found: nope")) == (True, True)


# -- glob -----------------------------------------------------------------------


def test_glob_newest_first(base: Path) -> None:
    """Matches come newest first: overlay files, then base files by mtime."""
    ws = Workspace(root=base)
    ws.write("src/added.py", "")
    assert call(ws, "glob", pattern="**/*.py") == (
        False,
        "src/added.py\nsrc/new.py\nsrc/old.py",
    )


def test_glob_relative_to_path(base: Path) -> None:
    """The pattern is relative to path; results are workspace paths."""
    assert call(Workspace(root=base), "glob", pattern="o*.py", path="src") == (
        False,
        "src/old.py",
    )


def test_glob_no_match() -> None:
    """No match says so."""
    assert call(Workspace({"a.txt": ""}), "glob", pattern="*.py") == (
        False,
        "No files matched '*.py'.",
    )


def test_glob_no_match_under_path() -> None:
    """No match under a path names the path."""
    assert call(Workspace({"src/a.txt": ""}), "glob", pattern="*.py", path="src") == (
        False,
        "No files matched '*.py' under src.",
    )


def test_glob_path_is_a_file() -> None:
    """A file as the search path is an error."""
    assert call(Workspace({"a.txt": ""}), "glob", pattern="*", path="a.txt") == (
        True,
        "Tool error (glob): a.txt is a file, not a directory",
    )


def test_glob_empty_pattern_is_schema_violation() -> None:
    """An empty pattern is refused by the schema."""
    assert call(Workspace(), "glob", pattern="") == (
        True,
        "Invalid arguments for tool: glob: $.pattern: '' should be non-empty",
    )


# -- list_dir -------------------------------------------------------------------


def test_list_dir_root(base: Path) -> None:
    """The root's entries, one per line, directories with a slash."""
    assert call(Workspace(root=base), "list_dir") == (
        False,
        "README.md\nlogo.png\nsrc/",
    )


def test_list_dir_subdirectory(base: Path) -> None:
    """A subdirectory's entries include unflushed files."""
    ws = Workspace(root=base)
    ws.write("src/pkg/mod.py", "")
    assert call(ws, "list_dir", path="src") == (False, "new.py\nold.py\npkg/")


def test_list_dir_empty_workspace() -> None:
    """An empty root says it is empty."""
    assert call(Workspace(), "list_dir") == (False, "The workspace root is empty.")


def test_list_dir_missing_directory() -> None:
    """Listing a missing directory is an error."""
    is_error, output = call(Workspace({"a": ""}), "list_dir", path="nope")
    assert (is_error, output.startswith("Tool error (list_dir): ")) == (True, True)


def test_list_dir_of_a_file() -> None:
    """Listing a file is an error."""
    assert call(Workspace({"a.txt": ""}), "list_dir", path="a.txt") == (
        True,
        "Tool error (list_dir): a.txt is a file, not a directory",
    )


@pytest.mark.parametrize("path", ["dir/", "dir/."])
def test_write_file_with_trailing_slash_is_an_error(path: str) -> None:
    """`write_file("dir/")` names a directory: an error, not a file called `dir`."""
    ws = Workspace()
    failed, output = call(ws, "write_file", file_path=path, content="x")
    assert (failed, "names a directory" in output, ws.files()) == (True, True, {})
