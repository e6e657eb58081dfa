"""apply_patch: the v4a parser, the all-or-nothing planner, and the tool over a workspace."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tiller.errors import FileNotFoundInWorkspace
from tiller.model import ToolCall
from tiller.tools import file_tools
from tiller.tools.patch_format import AddFile, DeleteFile, Hunk, PatchError, UpdateFile, parse_patch
from tiller.tools.patch_plan import PatchPlan, plan_patch
from tiller.tools.registry import ToolRegistry
from tiller.workspace import Workspace

NOT_APPLIED = "The patch was not applied; no file was changed."

CLASS_SRC = "class A:\n    def f(self):\n        return 1\n\n    def g(self):\n        return 1\n"


def patch(*lines: str) -> str:
    """A patch envelope around `lines`."""
    return "\n".join(["*** Begin Patch", *lines, "*** End Patch"]) + "\n"


def apply(workspace: Workspace, text: str) -> tuple[bool, str]:
    """Run apply_patch through the registry; returns (is_error, output)."""
    registry = ToolRegistry(file_tools(workspace, edit_style="apply_patch"))
    result = registry.execute(ToolCall("call-1", "apply_patch", json.dumps({"patch": text})))
    return result.is_error, result.output


def plan(files: dict[str, str], text: str) -> PatchPlan:
    """Plan a patch against a plain dict of files."""

    def read(path: str) -> str:
        if path not in files:
            raise FileNotFoundInWorkspace(f"File not found: {path}")
        return files[path]

    return plan_patch(parse_patch(text), read, files.__contains__)


# -- parsing --------------------------------------------------------------------


def test_parse_every_operation() -> None:
    """Add, update with move, stacked anchors and End of File, and delete all parse."""
    text = patch(
        "*** Add File: new.txt",
        "+hello",
        "+",
        "*** Update File: a.py",
        "*** Move to: b.py",
        "@@ class A:",
        "@@     def g(self):",
        "-        return 1",
        "+        return 2",
        "*** End of File",
        "*** Delete File: old.txt",
    )
    assert parse_patch(text) == [
        AddFile("new.txt", "hello\n\n", 2),
        UpdateFile(
            "a.py",
            (
                Hunk(
                    ("class A:", "    def g(self):"),
                    (("-", "        return 1"), ("+", "        return 2")),
                    True,
                    7,
                ),
            ),
            "b.py",
            5,
        ),
        DeleteFile("old.txt", 12),
    ]


def test_parse_first_hunk_may_omit_header() -> None:
    """Lines right after `*** Update File:` form a hunk without `@@`."""
    assert parse_patch(patch("*** Update File: a", " x", "-y", "+z")) == [
        UpdateFile("a", (Hunk((), ((" ", "x"), ("-", "y"), ("+", "z")), False, 3),), None, 2)
    ]


def test_parse_unified_diff_header_keeps_only_the_anchor() -> None:
    """`@@ -1,2 +1,2 @@ def f():` anchors on `def f():` and ignores the numbers."""
    ops = parse_patch(patch("*** Update File: a", "@@ -1,2 +1,2 @@ def f():", "-x", "+y"))
    assert ops[0].hunks[0].anchors == ("def f():",)  # type: ignore[union-attr]


def test_parse_empty_line_in_hunk_is_empty_context() -> None:
    """A bare empty line inside a hunk stands for an empty context line."""
    ops = parse_patch(patch("*** Update File: a", " x", "", "-y"))
    assert ops[0].hunks[0].lines == ((" ", "x"), (" ", ""), ("-", "y"))  # type: ignore[union-attr]


def test_parse_tolerates_crlf_and_surrounding_blank_lines() -> None:
    """`\\r\\n` line ends and blank lines around the envelope are ignored."""
    text = "\n\n*** Begin Patch\r\n*** Delete File: a\r\n*** End Patch\r\n\n"
    assert parse_patch(text) == [DeleteFile("a", 4)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", "The patch is empty; it must start with '*** Begin Patch'"),
        (
            "*** Update File: a\n-x\n+y\n*** End Patch",
            "Malformed patch, line 1: expected '*** Begin Patch', got '*** Update File: a'",
        ),
        (
            "*** Begin Patch\n*** Delete File: a\n",
            "Malformed patch, line 2: the patch must end with '*** End Patch'; "
            "the last line is '*** Delete File: a'",
        ),
        ("*** Begin Patch\n*** End Patch", "The patch has no file sections"),
        (
            patch("*** Rename File: a"),
            "Malformed patch, line 2: unknown directive '*** Rename File: a'; expected "
            "'*** Add File:', '*** Update File:', '*** Delete File:' or '*** End Patch'",
        ),
        (
            patch("hello"),
            "Malformed patch, line 2: expected a file section ('*** Add File:', "
            "'*** Update File:' or '*** Delete File:'), got 'hello'",
        ),
        (
            patch("*** Update File: a", " x", "?y"),
            "Malformed patch, line 4: expected a hunk line starting with ' ' (context), "
            "'-' (remove) or '+' (add), or an '@@' header; got '?y'",
        ),
        (
            patch("*** Add File: a", "+x", "y"),
            "Malformed patch, line 4: every line of '*** Add File: a' must start with '+' "
            "(a lone '+' for an empty line); got 'y'",
        ),
        (
            patch("*** Add File: a", "+x", "", "+y"),
            "Malformed patch, line 4: every line of '*** Add File: a' must start with '+' "
            "(a lone '+' for an empty line); got ''",
        ),
        (
            "*** Begin Patch\n*** Add File:\n*** End Patch",
            "Malformed patch, line 2: missing a path after '*** Add File:'",
        ),
        (
            patch("*** Delete File: a", "+x"),
            "Malformed patch, line 3: '*** Delete File: a' takes no lines after it; got '+x'",
        ),
        (patch("*** Update File: a"), "Malformed patch, line 2: '*** Update File: a' has no hunks"),
        (
            patch("*** Update File: a", "@@", " x"),
            "Malformed patch, line 3: the hunk for a has no '+' or '-' lines; nothing to do",
        ),
        (
            patch("*** Update File: a", "@@ def f():"),
            "Malformed patch, line 3: the '@@' header for a has no lines after it",
        ),
        (
            patch("*** Update File: a", "-x", "*** Move to: b"),
            "Malformed patch, line 4: '*** Move to:' must come right after '*** Update File: a'",
        ),
        (
            patch("*** Update File: a", "*** End of File"),
            "Malformed patch, line 3: '*** End of File' must follow a hunk",
        ),
        (
            patch("*** Update File: a", "-x", "*** End of File", "-y"),
            "Malformed patch, line 5: expected '@@' to start the next hunk, got '-y'",
        ),
        (
            patch("*** Delete File: a", "*** End Patch", "*** Begin Patch", "*** Delete File: b"),
            "Malformed patch, line 3: '*** End Patch' before the end; send one patch",
        ),
    ],
    ids=[
        "empty",
        "missing-begin",
        "missing-end",
        "no-sections",
        "unknown-directive",
        "stray-text",
        "bad-hunk-prefix",
        "add-line-without-plus",
        "add-blank-line-inside",
        "add-without-path",
        "delete-with-lines",
        "update-without-hunks",
        "hunk-without-changes",
        "header-without-lines",
        "late-move",
        "bare-end-of-file",
        "hunk-after-end-of-file-without-header",
        "two-envelopes",
    ],
)
def test_malformed_patches(text: str, expected: str) -> None:
    """A malformed patch names the line and what was expected there."""
    with pytest.raises(PatchError) as caught:
        parse_patch(text)
    assert str(caught.value) == expected


# -- planning (pure) ------------------------------------------------------------


def test_plan_add_update_delete() -> None:
    """The plan lists each path's new content (None for deleted) and a summary."""
    files = {"a.txt": "x\ny\n", "gone.txt": "bye\n"}
    text = patch(
        "*** Add File: n.txt",
        "+new",
        "*** Update File: a.txt",
        " x",
        "-y",
        "+z",
        "*** Delete File: gone.txt",
    )
    assert plan(files, text) == PatchPlan(
        (("n.txt", "new\n"), ("a.txt", "x\nz\n"), ("gone.txt", None)),
        ("A n.txt", "M a.txt", "D gone.txt"),
        (),
    )


def test_plan_does_not_touch_the_files() -> None:
    """Planning only reads; the callbacks' files are unchanged."""
    files = {"a.txt": "x\n"}
    plan(files, patch("*** Update File: a.txt", "-x", "+y"))
    assert files == {"a.txt": "x\n"}


def test_plan_later_ops_see_earlier_ones() -> None:
    """An update after an add in the same patch applies to the added file."""
    text = patch("*** Add File: n.txt", "+a", "*** Update File: n.txt", "-a", "+b")
    assert plan({}, text).changes == (("n.txt", "b\n"),)


def test_plan_move() -> None:
    """A move deletes the old path and writes the new one."""
    text = patch("*** Update File: a.py", "*** Move to: pkg/b.py", "-x", "+y")
    assert plan({"a.py": "x\n"}, text) == PatchPlan(
        (("a.py", None), ("pkg/b.py", "y\n")), ("R a.py -> pkg/b.py",), ()
    )


def test_plan_pure_rename() -> None:
    """A move with no hunks keeps the content."""
    text = patch("*** Update File: a.py", "*** Move to: b.py")
    assert plan({"a.py": "x\n"}, text).changes == (("a.py", None), ("b.py", "x\n"))


@pytest.mark.parametrize(
    ("source", "hunk", "expected"),
    [
        ("a\nb\nc\n", ["@@", " a", "-b", "+B"], "a\nB\nc\n"),
        ("a\nb\n", ["@@", "-a", "-b"], ""),
        ("a\nb", ["@@", " a", "-b", "+c"], "a\nc"),
        ("", ["@@", "+first"], "first\n"),
        ("a\n", ["@@", "+b"], "a\nb\n"),
        ("x\nend\nx\nend\n", ["@@", "-x", "+y", " end", "*** End of File"], "x\nend\ny\nend\n"),
        ("a\r\nb\r\n", ["@@", " a", "-b", "+c"], "a\r\nc\r\n"),
    ],
    ids=[
        "replace-middle",
        "remove-everything",
        "keeps-missing-final-newline",
        "add-to-empty-file",
        "pure-addition-appends",
        "end-of-file-picks-last-occurrence",
        "keeps-crlf",
    ],
)
def test_plan_hunk_results(source: str, hunk: list[str], expected: str) -> None:
    """Hunks produce the expected file content."""
    assert plan({"f": source}, patch("*** Update File: f", *hunk)).changes == (("f", expected),)


def test_plan_anchor_selects_the_right_occurrence() -> None:
    """Stacked `@@` anchors move the search past the named lines."""
    text = patch(
        "*** Update File: a.py",
        "@@ class A:",
        "@@     def g(self):",
        "-        return 1",
        "+        return 2",
    )
    expected = (
        "class A:\n    def f(self):\n        return 1\n\n    def g(self):\n        return 2\n"
    )
    assert plan({"a.py": CLASS_SRC}, text).changes == (("a.py", expected),)


def test_plan_anchor_ignores_indentation() -> None:
    """An anchor written without the file's indentation still finds its line."""
    text = patch("*** Update File: a.py", "@@ def g(self):", "-        return 1", "+        pass")
    new = CLASS_SRC.removesuffix("        return 1\n") + "        pass\n"
    assert plan({"a.py": CLASS_SRC}, text).changes == (("a.py", new),)


def test_plan_anchor_already_passed_keeps_position() -> None:
    """A second hunk naming the same anchor searches on from the first hunk."""
    source = "def f():\n    a = 1\n    b = 1\n"
    text = patch(
        "*** Update File: f.py",
        "@@ def f():",
        "-    a = 1",
        "+    a = 2",
        "@@ def f():",
        "-    b = 1",
        "+    b = 2",
    )
    assert plan({"f.py": source}, text).changes == (("f.py", "def f():\n    a = 2\n    b = 2\n"),)


def test_plan_missing_anchor() -> None:
    """An anchor that names no line is a clear error."""
    text = patch("*** Update File: a.py", "@@ def nowhere():", "-x", "+y")
    with pytest.raises(PatchError) as caught:
        plan({"a.py": "x\n"}, text)
    assert str(caught.value) == (
        "a.py hunk 1 (patch line 3): could not find the line '@@ def nowhere():' in a.py"
    )


@pytest.mark.parametrize(
    ("source", "expected_content", "how"),
    [
        ("x  \ny\t\n", "x  \nz\n", "after ignoring trailing whitespace"),
        (
            "  x\n  y\n",
            "  x\nz\n",
            "after ignoring leading and trailing whitespace (indentation)",
        ),
    ],
    ids=["trailing-whitespace", "indentation"],
)
def test_plan_fuzzy_match_is_reported(source: str, expected_content: str, how: str) -> None:
    """A looser match applies, keeps the file's own context lines, and is noted."""
    result = plan({"f": source}, patch("*** Update File: f", " x", "-y", "+z"))
    assert (result.changes, result.notes) == (
        (("f", expected_content),),
        (f"f hunk 1 (patch line 3) matched only {how}; check the result.",),
    )


def test_plan_exact_match_is_preferred_over_earlier_fuzzy_one() -> None:
    """An exact match later in the file beats a whitespace-only match earlier."""
    result = plan({"f": "x \ny\nx\ny\n"}, patch("*** Update File: f", " x", "-y", "+z"))
    assert (result.changes, result.notes) == ((("f", "x \ny\nx\nz\n"),), ())


def test_plan_end_of_file_match_elsewhere_is_reported() -> None:
    """An `*** End of File` hunk that only matches earlier applies there, with a note."""
    result = plan({"f": "a\nb\nc\n"}, patch("*** Update File: f", "-a", "+A", "*** End of File"))
    assert (result.changes, result.notes) == (
        (("f", "A\nb\nc\n"),),
        (
            "f hunk 1 (patch line 3) matched only away from the end of the file despite "
            "'*** End of File'; check the result.",
        ),
    )


def test_plan_context_not_found_shows_expected_lines() -> None:
    """Unmatched context names the file and hunk and shows the lines it expected."""
    with pytest.raises(PatchError) as caught:
        plan({"f.py": "a\nb\nc\n"}, patch("*** Update File: f.py", " a", "-x", "+y"))
    assert str(caught.value) == (
        "Context not found: f.py hunk 1 (patch line 3) expects these lines:\n"
        "a\n"
        "x\n"
        "The closest match starts at line 1, but then line 2 is 'b' where the hunk expects 'x'.\n"
        "Read the file again and rebuild the hunk from its current text."
    )


def test_plan_hunks_out_of_order_are_explained() -> None:
    """Context found only before the previous hunk says hunks must be in file order."""
    text = patch("*** Update File: f", "@@", "-c", "+C", "@@", "-a", "+A")
    with pytest.raises(PatchError) as caught:
        plan({"f": "a\nb\nc\n"}, text)
    assert "They occur at line 1, before the previous hunk; list hunks in file order." in str(
        caught.value
    )


@pytest.mark.parametrize(
    ("files", "lines", "expected"),
    [
        (
            {"a": "x\n"},
            ["*** Add File: a", "+y"],
            "Cannot add a: it already exists (use '*** Update File:' to change it, "
            "or delete it first)",
        ),
        (
            {},
            ["*** Update File: a", "-x"],
            "Cannot update a: no such file (use '*** Add File:' to create it)",
        ),
        ({}, ["*** Delete File: a"], "Cannot delete a: no such file"),
        (
            {"a": "x\n", "b": "y\n"},
            ["*** Update File: a", "*** Move to: b", "-x", "+z"],
            "Cannot move a to b: b already exists",
        ),
        (
            {"a": "x\n"},
            ["*** Delete File: a", "*** Delete File: a"],
            "Cannot delete a: no such file (it was deleted or moved earlier in this patch)",
        ),
    ],
    ids=["add-existing", "update-missing", "delete-missing", "move-onto-existing", "delete-twice"],
)
def test_plan_file_state_errors(files: dict[str, str], lines: list[str], expected: str) -> None:
    """Operations that do not fit the files are refused with a clear reason."""
    with pytest.raises(PatchError) as caught:
        plan(files, patch(*lines))
    assert str(caught.value) == expected


# -- the tool over a workspace ----------------------------------------------------


def test_tool_summarises_every_kind_of_change() -> None:
    """The output lists A, M, D and R lines in patch order."""
    ws = Workspace({"a.py": "x\n", "b.py": "y\n", "c.py": "z\n"})
    text = patch(
        "*** Add File: n.py",
        "+new",
        "*** Update File: a.py",
        "-x",
        "+X",
        "*** Delete File: b.py",
        "*** Update File: c.py",
        "*** Move to: pkg/c.py",
        "-z",
        "+Z",
    )
    assert (apply(ws, text), ws.files()) == (
        (False, "Applied the patch:\nA n.py\nM a.py\nD b.py\nR c.py -> pkg/c.py"),
        {"a.py": "X\n", "n.py": "new\n", "pkg/c.py": "Z\n"},
    )


def test_tool_reports_fuzzy_match() -> None:
    """A whitespace-tolerant match is applied and reported in the output."""
    ws = Workspace({"f.py": "if x:   \n    y = 1\n"})
    text = patch("*** Update File: f.py", " if x:", "-    y = 1", "+    y = 2")
    assert (apply(ws, text), ws.read("f.py")) == (
        (
            False,
            "Applied the patch:\nM f.py\nNote: f.py hunk 1 (patch line 3) matched only after "
            "ignoring trailing whitespace; check the result.",
        ),
        "if x:   \n    y = 2\n",
    )


def test_tool_is_all_or_nothing() -> None:
    """When the second operation fails, the first is not applied either."""
    ws = Workspace({"a.py": "x\n", "b.py": "y\n"})
    text = patch("*** Update File: a.py", "-x", "+X", "*** Update File: b.py", "-nope", "+Y")
    is_error, output = apply(ws, text)
    assert (is_error, output.endswith(NOT_APPLIED), ws.files()) == (
        True,
        True,
        {"a.py": "x\n", "b.py": "y\n"},
    )


def test_tool_add_existing_file() -> None:
    """Adding a file that exists is an error result; nothing changes."""
    ws = Workspace({"a.py": "x\n"})
    assert (apply(ws, patch("*** Add File: a.py", "+y")), ws.files()) == (
        (
            True,
            "Tool error (apply_patch): Cannot add a.py: it already exists (use "
            f"'*** Update File:' to change it, or delete it first)\n{NOT_APPLIED}",
        ),
        {"a.py": "x\n"},
    )


def test_tool_malformed_patch_is_error_result() -> None:
    """A malformed patch comes back as a tool error naming the line."""
    assert apply(Workspace(), "*** Add File: a\n+x\n*** End Patch") == (
        True,
        "Tool error (apply_patch): Malformed patch, line 1: expected '*** Begin Patch', "
        f"got '*** Add File: a'\n{NOT_APPLIED}",
    )


def test_tool_escaping_path_is_error_result() -> None:
    """A patch touching a path outside the root is refused, and nothing changes."""
    ws = Workspace({"a.py": "x\n"})
    text = patch("*** Update File: a.py", "-x", "+y", "*** Add File: ../evil.py", "+boom")
    assert (apply(ws, text), ws.files()) == (
        (
            True,
            "Tool error (apply_patch): Path '../evil.py' escapes the workspace root\n"
            f"{NOT_APPLIED}",
        ),
        {"a.py": "x\n"},
    )


def test_tool_write_refused_midway_rolls_back() -> None:
    """If the workspace refuses a write, earlier writes of the patch are undone."""
    ws = Workspace({"a.py": "x\n", "f": "file\n"})
    text = patch("*** Update File: a.py", "-x", "+y", "*** Add File: f/inner.py", "+z")
    is_error, output = apply(ws, text)
    assert (is_error, output.endswith(NOT_APPLIED), ws.files()) == (
        True,
        True,
        {"a.py": "x\n", "f": "file\n"},
    )


def test_tool_deletes_binary_file(tmp_path: Path) -> None:
    """A binary base file can be deleted (it is never read as text)."""
    (tmp_path / "logo.png").write_bytes(b"\x89PNG\x00\x00")
    ws = Workspace(root=tmp_path)
    assert (apply(ws, patch("*** Delete File: logo.png")), ws.changes()) == (
        (False, "Applied the patch:\nD logo.png"),
        [("logo.png", "deleted")],
    )


def test_tool_update_binary_file_is_error(tmp_path: Path) -> None:
    """Updating a binary file is an error result."""
    (tmp_path / "logo.png").write_bytes(b"\x89PNG\x00\x00")
    assert apply(Workspace(root=tmp_path), patch("*** Update File: logo.png", "-x", "+y")) == (
        True,
        "Tool error (apply_patch): logo.png is a binary file and cannot be read as text\n"
        f"{NOT_APPLIED}",
    )


def test_tool_delete_directory_is_error(tmp_path: Path) -> None:
    """Deleting a directory is refused before anything changes."""
    ws = Workspace({"a.py": "x\n", "pkg/m.py": ""})
    text = patch("*** Delete File: a.py", "*** Delete File: pkg")
    is_error, output = apply(ws, text)
    assert (is_error, output.endswith(NOT_APPLIED), ws.files()) == (
        True,
        True,
        {"a.py": "x\n", "pkg/m.py": ""},
    )


def test_tool_patch_is_required() -> None:
    """Calling apply_patch without a patch is a schema violation."""
    registry = ToolRegistry(file_tools(Workspace(), edit_style="apply_patch"))
    result = registry.execute(ToolCall("c", "apply_patch", "{}"))
    assert (result.is_error, result.output) == (
        True,
        "Invalid arguments for tool: apply_patch: $: 'patch' is a required property",
    )


def test_tool_change_shows_in_workspace_diff(tmp_path: Path) -> None:
    """Patching a file on disk changes only memory, and the diff shows exactly that change."""
    (tmp_path / "a.py").write_text("one\ntwo\nthree\n")
    ws = Workspace(root=tmp_path)
    apply(ws, patch("*** Update File: a.py", " one", "-two", "+2", " three"))
    lines = ws.diff().splitlines()
    body = [line for line in lines if line[:1] in " +-" and not line.startswith(("---", "+++"))]
    assert (body, (tmp_path / "a.py").read_text()) == (
        [" one", "-two", "+2", " three"],
        "one\ntwo\nthree\n",
    )


class RacingWorkspace(Workspace):
    """A workspace where another agent rewrites a file right after its first read."""

    def __init__(self, files: dict[str, str], path: str, other: str) -> None:
        super().__init__(files)
        self.race = (path, other)

    def read(self, path: str) -> str:
        text = super().read(path)
        if self.race and path == self.race[0]:
            _, other = self.race
            self.race = None  # type: ignore[assignment]
            self.write(path, other)
        return text


def test_tool_refuses_when_file_changed_during_patch() -> None:
    """A file changed by someone else between planning and writing is not overwritten."""
    ws = RacingWorkspace({"a.py": "x\n"}, "a.py", "theirs\n")
    assert (apply(ws, patch("*** Update File: a.py", "-x", "+mine")), ws.files()) == (
        (
            True,
            "Tool error (apply_patch): a.py changed while the patch was being applied; "
            f"read it again\n{NOT_APPLIED}",
        ),
        {"a.py": "theirs\n"},
    )


@pytest.mark.parametrize("second", ["./dup.txt", "sub/../dup.txt"])
def test_adding_one_file_under_two_spellings_is_an_error(second: str) -> None:
    """`Add File: dup.txt` then `Add File: ./dup.txt` in one patch: the second is refused."""
    ws = Workspace()
    failed, output = apply(
        ws, patch("*** Add File: dup.txt", "+one", f"*** Add File: {second}", "+two")
    )
    assert (failed, "Cannot add dup.txt: it already exists" in output, ws.files()) == (
        True,
        True,
        {},
    )
