"""What review mode stands on: per-file revert, rename detection, changed-on-disk checks."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tiller.model import ToolCall
from tiller.tools import file_tools
from tiller.tools.registry import ToolRegistry
from tiller.workspace import Workspace
from tiller.workspace.renames import (
    MAX_CANDIDATE_PAIRS,
    MAX_SCORED_BYTES,
    Rename,
    find_renames,
    similarity,
)

BODY = "".join(f"line {n}\n" for n in range(1, 21))
OTHER = "".join(f"something else entirely {n}\n" for n in range(1, 21))


@pytest.fixture
def base(tmp_path: Path) -> Path:
    root = tmp_path / "base"
    root.mkdir()
    (root / "old.py").write_text(BODY)
    (root / "keep.txt").write_text("keep\n")
    (root / "other.txt").write_text("other\n")
    return root


def _apply(base: Path, target: Path, patch: str) -> dict[str, str]:
    """`git apply` the patch to a copy of `base`; returns the copy's text files."""
    shutil.copytree(base, target)
    for args in (["git", "apply", "--check", "-"], ["git", "apply", "-"]):
        done = subprocess.run(
            args, cwd=target, input=patch, capture_output=True, text=True, check=False
        )
        assert done.returncode == 0, f"{done.stderr}\n{patch}"
    return {p.name: p.read_text() for p in sorted(target.iterdir()) if p.is_file()}


# -- revert ---------------------------------------------------------------------


def test_revert_drops_the_overlay_change(base: Path) -> None:
    """A reverted file reads from the base again and leaves the other changes alone."""
    ws = Workspace(root=base)
    ws.write("keep.txt", "changed\n")
    ws.write("new.txt", "new\n")
    assert (ws.revert("keep.txt"), ws.read("keep.txt"), ws.changes()) == (
        ["keep.txt"],
        "keep\n",
        [("new.txt", "added")],
    )


def test_revert_brings_a_deleted_file_back(base: Path) -> None:
    """Reverting a delete makes the base file exist again."""
    ws = Workspace(root=base)
    ws.delete("other.txt")
    ws.revert(["other.txt"])
    assert (ws.exists("other.txt"), ws.changes()) == (True, [])


def test_revert_of_an_added_file_removes_it(base: Path) -> None:
    """Reverting an added file removes it from the workspace."""
    ws = Workspace(root=base)
    ws.write("new.txt", "new\n")
    ws.revert("new.txt")
    assert ws.exists("new.txt") is False


def test_undo_brings_a_revert_back(base: Path) -> None:
    """The normal undo restores the reverted change; redo reverts it again."""
    ws = Workspace(root=base)
    ws.checkpoint()
    ws.write("keep.txt", "changed\n")
    ws.revert("keep.txt")
    ws.undo()
    after_undo = ws.read("keep.txt")
    ws.redo()
    assert (after_undo, ws.read("keep.txt")) == ("changed\n", "keep\n")


def test_undo_after_revert_is_labelled(base: Path) -> None:
    """next_step says the next undo takes back a revert, and the one after a turn."""
    ws = Workspace(root=base)
    ws.checkpoint()
    ws.write("keep.txt", "changed\n")
    ws.revert("keep.txt")
    first = (ws.next_step("undo"), ws.next_step("redo"))
    ws.undo()
    assert (first, ws.next_step("undo"), ws.next_step("redo")) == (
        ("revert", None),
        "turn",
        "revert",
    )


def test_revert_of_unchanged_path_is_a_no_op(base: Path) -> None:
    """Nothing to revert: no checkpoint is taken, so undo still goes to the last turn."""
    ws = Workspace(root=base)
    assert (ws.revert("keep.txt"), ws.can_undo) == ([], False)


def test_revert_keeps_the_pinned_base_for_undo(base: Path) -> None:
    """A disk edit made before the revert is still a conflict once undo brings the change back."""
    ws = Workspace(root=base)
    ws.write("keep.txt", "mine\n")
    (base / "keep.txt").write_text("theirs\n")
    ws.revert("keep.txt")
    ws.undo()
    assert ws.conflicts() == ["keep.txt"]


def test_revert_tells_listeners(base: Path) -> None:
    """Listeners hear `revert` for each reverted path (the journal records it)."""
    ws = Workspace(root=base)
    heard: list[tuple[str, str]] = []
    ws.write("keep.txt", "changed\n")
    ws.write("other.txt", "changed\n")
    ws.subscribe(lambda path, action: heard.append((path, action)))
    ws.revert(["keep.txt", "other.txt"])
    assert heard == [("keep.txt", "revert"), ("other.txt", "revert")]


def test_revert_of_a_directory_reverts_what_is_under_it(base: Path) -> None:
    """A directory path reverts every change under it."""
    ws = Workspace(root=base)
    ws.write("pkg/a.py", "a\n")
    ws.write("pkg/b.py", "b\n")
    ws.write("keep.txt", "changed\n")
    assert (ws.revert("pkg"), [path for path, _ in ws.changes()]) == (
        ["pkg/a.py", "pkg/b.py"],
        ["keep.txt"],
    )


def test_revert_of_a_file_under_a_file_that_replaced_its_directory(base: Path) -> None:
    """Bringing back `d/x` also drops the new file `d` that took its directory's place."""
    (base / "d").mkdir()
    (base / "d" / "x").write_text("x\n")
    ws = Workspace(root=base)
    ws.delete("d/x")
    ws.write("d", "now a file\n")
    assert (ws.revert("d/x"), ws.changes(), ws.is_dir("d")) == (["d", "d/x"], [], True)


# -- renames --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ("a\nb\n", "a\nb\n", 100),
        ("a\nb\nc\nd\n", "a\nb\nc\nX\n", 75),
        ("a\n", "b\n", 0),
        ("a\nb\n", "a\nb", 50),
    ],
)
def test_similarity_is_the_share_of_copied_bytes(old: str, new: str, expected: int) -> None:
    """Similarity counts bytes of unchanged lines over the larger file, in percent."""
    assert similarity(old, new) == expected


def test_similarity_is_below_100_unless_identical() -> None:
    """A tiny change in a big file still rounds below 100%."""
    big = "x\n" * 1000
    assert similarity(big, big + "y\n") == 99


def test_exact_move_is_one_rename(base: Path) -> None:
    """Write new + delete old with the same text: a pure rename with similarity 100%."""
    ws = Workspace(root=base)
    ws.write("new.py", BODY)
    ws.delete("old.py")
    assert ws.diff() == (
        "diff --git a/old.py b/new.py\n"
        "similarity index 100%\n"
        "rename from old.py\n"
        "rename to new.py\n"
    )


def test_moved_and_edited_file_applies_with_git(base: Path, tmp_path: Path) -> None:
    """A move with an edit is a rename with hunks that `git apply` accepts."""
    ws = Workspace(root=base)
    ws.write("new.py", BODY.replace("line 7\n", "line seven\n"))
    ws.delete("old.py")
    files = _apply(base, tmp_path / "checkout", ws.diff())
    assert (files, ws.diff().splitlines()[1]) == (
        {"keep.txt": "keep\n", "new.py": ws.read("new.py"), "other.txt": "other\n"},
        "similarity index 92%",
    )


def test_executable_move_says_the_mode_flush_writes(base: Path, tmp_path: Path) -> None:
    """A flush writes the new file without the exec bit; the rename says so, and applies."""
    (base / "old.py").chmod(0o755)
    ws = Workspace(root=base)
    ws.write("new.py", BODY)
    ws.delete("old.py")
    target = tmp_path / "checkout"
    _apply(base, target, ws.diff())
    assert (ws.diff().splitlines()[1:3], os.stat(target / "new.py").st_mode & 0o777) == (
        ["old mode 100755", "new mode 100644"],
        0o644,
    )


def test_dissimilar_add_and_delete_stay_apart(base: Path) -> None:
    """Under the threshold, a delete and an add are not a rename."""
    ws = Workspace(root=base)
    ws.write("new.py", OTHER)
    ws.delete("old.py")
    assert (ws.renames(), "rename from" in ws.diff()) == ([], False)


def test_renames_lists_the_pair(base: Path) -> None:
    """renames() names old, new and the similarity; changes() keeps both sides."""
    ws = Workspace(root=base)
    ws.write("new.py", BODY + "line 21\n")
    ws.delete("old.py")
    assert (ws.renames(), ws.changes()) == (
        [Rename("old.py", "new.py", 94)],
        [("new.py", "added"), ("old.py", "deleted")],
    )


def test_diff_of_either_side_shows_the_rename(base: Path) -> None:
    """diff(new) and diff(old) both give the rename, not half of it."""
    ws = Workspace(root=base)
    ws.write("new.py", BODY)
    ws.delete("old.py")
    assert ws.diff("new.py") == ws.diff("old.py") == ws.diff()


def test_apply_patch_move_is_a_rename(base: Path, tmp_path: Path) -> None:
    """apply_patch's `*** Move to:` shows as a rename in diff()."""
    ws = Workspace(root=base)
    patch = (
        "*** Begin Patch\n*** Update File: old.py\n*** Move to: moved/new.py\n"
        "@@\n line 1\n-line 2\n+line two\n line 3\n*** End Patch\n"
    )
    registry = ToolRegistry(file_tools(ws, edit_style="apply_patch"))
    result = registry.execute(ToolCall("c1", "apply_patch", json.dumps({"patch": patch})))
    assert (result.is_error, ws.renames()) == (False, [Rename("old.py", "moved/new.py", 94)])


def test_empty_files_are_never_a_rename() -> None:
    """Deleting one empty file and adding another is a delete and an add."""
    assert find_renames({"a/__init__.py": ""}, {"b/__init__.py": ""}) == []


def test_each_file_is_in_one_rename_at_most() -> None:
    """Two copies of one deleted file: one becomes the rename, the other stays added."""
    renames = find_renames({"a": BODY}, {"b": BODY, "c": BODY})
    assert renames == [Rename("a", "b", 100)]


def test_best_match_wins() -> None:
    """The most similar added file is paired with the deleted one."""
    close = BODY.replace("line 3\n", "line three\n")
    far = BODY.replace("line 3\n", "x\n").replace("line 4\n", "y\n").replace("line 5\n", "z\n")
    assert find_renames({"a": BODY}, {"far": far, "close": close}) == [Rename("a", "close", 92)]


def test_too_many_candidates_pair_only_identical_content() -> None:
    """Over the candidate limit only identical content pairs (a bounded search)."""
    count = int(MAX_CANDIDATE_PAIRS**0.5) + 1
    deleted = {f"d{n}": BODY + f"{n}\n" for n in range(count)}
    added = {f"a{n}": BODY + f"changed {n}\n" for n in range(count)}
    added["same"] = deleted["d0"]
    assert find_renames(deleted, added) == [Rename("d0", "same", 100)]


def test_too_much_text_to_compare_pairs_only_identical_content() -> None:
    """Pairs whose text adds up past the byte budget are not scored (a UI refresh stays fast)."""
    count = 50  # 2500 pairs, under MAX_CANDIDATE_PAIRS
    size = MAX_SCORED_BYTES // (2 * count * count) + 1
    deleted = {f"d{n}": "x" * size + f"\n{n}\n" for n in range(count)}
    added = {f"a{n}": "x" * size + f"\nchanged {n}\n" for n in range(count)}
    deleted["gone"] = added["same"] = BODY
    assert find_renames(deleted, added) == [Rename("gone", "same", 100)]


# -- changed on disk --------------------------------------------------------------


def test_changed_on_disk_names_a_future_conflict(base: Path) -> None:
    """A changed file whose disk copy moved on is listed; an untouched disk is not."""
    ws = Workspace(root=base)
    ws.write("keep.txt", "mine\n")
    ws.write("other.txt", "mine\n")
    (base / "keep.txt").write_text("theirs\n")
    assert ws.changed_on_disk() == ["keep.txt"] == ws.conflicts()


def test_changed_on_disk_sees_a_same_size_rewrite(base: Path) -> None:
    """A rewrite that keeps the size is still caught (a fresh file is read, not trusted)."""
    ws = Workspace(root=base)
    ws.write("keep.txt", "mine\n")
    (base / "keep.txt").write_text("KEEP\n")
    assert ws.changed_on_disk("keep.txt") == ["keep.txt"]


def test_changed_on_disk_trusts_an_old_signature(base: Path) -> None:
    """A file untouched for longer than the racy window is judged by its stat alone."""
    old = os.stat(base / "keep.txt").st_mtime_ns - 10_000_000_000
    os.utime(base / "keep.txt", ns=(old, old))
    ws = Workspace(root=base)
    ws.write("keep.txt", "mine\n")
    # Same size and mtime, different bytes: only a read would notice; a marker need not.
    (base / "keep.txt").write_text("KEEP\n")
    os.utime(base / "keep.txt", ns=(old, old))
    assert (ws.changed_on_disk(), ws.conflicts()) == ([], ["keep.txt"])


def test_disk_diff_is_from_base_to_disk(base: Path) -> None:
    """disk_diff shows what someone else changed on disk since Tiller read the file."""
    ws = Workspace(root=base)
    ws.write("keep.txt", "mine\n")
    (base / "keep.txt").write_text("theirs\n")
    assert ws.disk_diff("keep.txt").splitlines()[-2:] == ["-keep", "+theirs"]


def test_disk_diff_of_a_file_deleted_on_disk(base: Path) -> None:
    """A file deleted on disk after Tiller read it shows as a deletion."""
    ws = Workspace(root=base)
    ws.write("keep.txt", "mine\n")
    (base / "keep.txt").unlink()
    assert ws.disk_diff("keep.txt").splitlines()[1] == "deleted file mode 100644"


def test_disk_diff_is_empty_when_disk_matches(base: Path) -> None:
    """No disk change, no disk diff."""
    ws = Workspace(root=base)
    ws.write("keep.txt", "mine\n")
    assert ws.disk_diff("keep.txt") == ""


def test_similarity_ignores_line_order() -> None:
    """Like git's, the measure counts content kept, wherever it moved in the file."""
    assert similarity("a\nb\nc\nd\n", "d\nc\nb\na\n") == 99


def test_renames_are_cached_until_the_next_change(base: Path) -> None:
    """renames() is scored once per overlay state, and a change is seen at once."""
    ws = Workspace(root=base)
    ws.write("new.py", BODY)
    ws.delete("old.py")
    first = ws.renames()
    ws.write("moved.txt", "other\n")
    ws.delete("other.txt")
    assert (first, ws.renames()) == (
        [Rename("old.py", "new.py", 100)],
        [Rename("other.txt", "moved.txt", 100), Rename("old.py", "new.py", 100)],
    )


# -- property: moves with edits, exported as renames, rebuild the workspace via git --

MOVE_SOURCES = ["a.txt", "dir/b.txt", "sp ace.txt", "é.txt"]
MOVE_TARGETS = ["moved.txt", "dir/sub/moved.txt", "new dir/é 2.txt", "a.txt"]
MOVE_LINES = st.lists(st.sampled_from(["alpha", "beta", "gamma", "", "delta epsilon"]), max_size=10)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    base_files=st.dictionaries(
        st.sampled_from(MOVE_SOURCES), MOVE_LINES.map(lambda ls: "".join(f"{x}\n" for x in ls))
    ),
    moves=st.lists(
        st.tuples(st.sampled_from(MOVE_SOURCES), st.sampled_from(MOVE_TARGETS), st.booleans()),
        max_size=4,
    ),
)
def test_moves_export_as_renames_git_applies(
    base_files: dict[str, str], moves: list[tuple[str, str, bool]]
) -> None:
    """Random moves (some edited) give a diff that `git apply` turns into the workspace."""
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp) / "base"
        base.mkdir()
        for path, content in base_files.items():
            (base / path).parent.mkdir(parents=True, exist_ok=True)
            (base / path).write_text(content, encoding="utf-8")
        ws = Workspace(root=base)
        for source, target, edit in moves:
            if source == target or not ws.exists(source) or ws.exists(target):
                continue
            content = ws.read(source)
            ws.write(target, content + "edited\n" if edit else content)
            ws.delete(source)
        repo = Path(tmp) / "checkout"
        shutil.copytree(base, repo)
        patch = ws.diff()
        if patch:
            for args in (["git", "apply", "--check", "-"], ["git", "apply", "-"]):
                done = subprocess.run(
                    args, cwd=repo, input=patch.encode(), capture_output=True, check=False
                )
                assert done.returncode == 0, f"{done.stderr!r}\n{patch}"
        expected = {path: ws.read(path) for path in ws.glob("**/*")}
        found = {
            p.relative_to(repo).as_posix(): p.read_text(encoding="utf-8")
            for p in sorted(repo.rglob("*"))
            if p.is_file()
        }
        assert found == expected
