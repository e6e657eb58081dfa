"""Tiller's own copying into and out of the sandbox never follows a link a command planted."""

from __future__ import annotations

import shutil
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from tiller.approvals import Approval, ApprovalPolicy, Decision
from tiller.shell.runner import ShellRunner, ShellSettings
from tiller.workspace import Workspace


@pytest.fixture
def outside() -> Iterator[Path]:
    """A directory outside /tmp (which the sandbox hides anyway) that commands may name."""
    where = Path(tempfile.mkdtemp(prefix="tiller-outside-", dir="/var/tmp"))
    yield where
    shutil.rmtree(where, ignore_errors=True)


@pytest.fixture
def runner(tmp_path: Path) -> Iterator[ShellRunner]:
    root = tmp_path / "root"
    root.mkdir()
    (root / "notes.txt").write_text("notes\n")
    shell = ShellRunner(
        Workspace(root=root),
        policy=ApprovalPolicy("allow"),
        ask=lambda _: Approval(Decision.ALLOW),
        settings=ShellSettings(sandbox_parent=tmp_path),
    )
    yield shell
    shell.close()


def run(runner: ShellRunner, command: str) -> str:
    return runner.run(
        command, timeout_ms=20_000, description="", cancel=threading.Event(), on_output=print
    )


def test_collect_never_reads_through_a_link(runner: ShellRunner, outside: Path) -> None:
    """A tracked file swapped for a link to a host secret comes back deleted, not as the secret."""
    (outside / "secret.txt").write_text("host secret\n")
    run(runner, f"rm notes.txt && ln -s {outside}/secret.txt notes.txt")
    assert runner.workspace.files() == {}


def test_new_link_is_reported_not_imported(runner: ShellRunner, outside: Path) -> None:
    """A link a command makes is named in the result with its target and left out."""
    out = run(runner, f"ln -s {outside} escape")
    assert ("escape -> " + str(outside) in out, runner.workspace.files()) == (True, {})


def test_link_is_reported_once(runner: ShellRunner, outside: Path) -> None:
    """A later command does not report the same link again."""
    run(runner, f"ln -s {outside} escape")
    assert "Symlinks" not in run(runner, "true")


def test_write_into_a_linked_directory_stays_in_the_sandbox(
    runner: ShellRunner, outside: Path
) -> None:
    """Writing below a path a command turned into a link never writes the link's target."""
    run(runner, f"ln -s {outside} escape")
    runner.workspace.write("escape/pwned.txt", "PWNED\n")
    out = run(runner, "cat escape/pwned.txt")
    assert (list(outside.iterdir()), out.endswith("PWNED")) == ([], True)


def test_deleting_below_a_link_leaves_the_target(tmp_path: Path, outside: Path) -> None:
    """A tracked directory swapped for a link: removing its file spares the link target."""
    root = tmp_path / "root"
    (root / "sub").mkdir(parents=True)
    (root / "sub" / "keep.txt").write_text("real\n")
    (outside / "keep.txt").write_text("keep\n")
    shell = ShellRunner(
        Workspace(root=root),
        policy=ApprovalPolicy("allow"),
        ask=lambda _: Approval(Decision.ALLOW),
        settings=ShellSettings(sandbox_parent=tmp_path),
    )
    try:
        run(shell, f"rm -rf sub && ln -s {outside} sub")
        run(shell, "true")
    finally:
        shell.close()
    assert ((outside / "keep.txt").read_text(), shell.workspace.changes()) == (
        "keep\n",
        [("sub/keep.txt", "deleted")],
    )


def test_cwd_behind_a_link_is_not_created_on_the_host(tmp_path: Path, outside: Path) -> None:
    """The session's cwd, once a link, is replaced in the sandbox rather than created through."""
    root = tmp_path / "root"
    (root / "pkg" / "sub").mkdir(parents=True)
    (root / "pkg" / "sub" / "f.txt").write_text("f\n")
    shell = ShellRunner(
        Workspace(root=root),
        policy=ApprovalPolicy("allow"),
        ask=lambda _: Approval(Decision.ALLOW),
        settings=ShellSettings(cwd="pkg/sub", sandbox_parent=tmp_path),
    )
    try:
        run(shell, f"cd ../.. && rm -rf pkg && ln -s {outside} pkg")
        run(shell, "true")
    finally:
        shell.close()
    assert list(outside.iterdir()) == []


def test_fifo_does_not_block_collect(runner: ShellRunner) -> None:
    """A FIFO a command leaves is skipped, never opened for reading."""
    out = run(runner, "mkfifo pipe.txt && echo made")
    assert ("made" in out, runner.workspace.changes()) == (True, [])


def test_text_file_over_the_cap_stays_in_the_sandbox(runner: ShellRunner) -> None:
    """An 11 MB text file is not read back; the model is told."""
    out = run(runner, "head -c 11000000 /dev/zero | tr '\\0' a > big.txt")
    assert ("big.txt" in out.split("Files over 10 MB")[-1], runner.workspace.changes()) == (
        True,
        [],
    )


def test_one_command_cannot_make_tiller_read_more_than_the_budget(runner: ShellRunner) -> None:
    """Twelve 9 MB text files: what passes 100 MB in all stays in the sandbox, named."""
    out = run(
        runner, "for i in $(seq 12); do head -c 9000000 /dev/zero | tr '\\0' a > f$i.txt; done"
    )
    kept = sum(len(text) for text in runner.workspace.files().values())
    assert (kept <= 100 * 1024 * 1024, "past 100 MB" in out) == (True, True)


@pytest.mark.parametrize(("gitignore", "expected"), [("", ["b\udcffd"]), ("b*\n", [])])
def test_non_utf8_file_name_does_not_break_collect(
    runner: ShellRunner, gitignore: str, expected: list[str]
) -> None:
    """A file whose name is not UTF-8 comes back (or is ignored) like any other."""
    (runner.workspace.root / ".gitignore").write_text(gitignore)  # type: ignore[operator]
    run(runner, "printf 'x\\n' > \"$(printf 'b\\xffd')\"")
    assert [path for path, _ in runner.workspace.changes()] == expected


@pytest.mark.parametrize(
    ("command", "expected"),
    [
        ("rm -r sub && echo file > sub", [("sub", "added"), ("sub/a.txt", "deleted")]),
        ("rm sub/a.txt && mkdir sub/a.txt && echo in > sub/a.txt/b.txt",
         [("sub/a.txt", "deleted"), ("sub/a.txt/b.txt", "added")]),
    ],
)  # fmt: skip
def test_directory_and_file_swapped_come_back_in_one_command(
    tmp_path: Path, command: str, expected: list[tuple[str, str]]
) -> None:
    """A directory replaced by a file (or the reverse) is brought back whole, at once."""
    root = tmp_path / "root"
    (root / "sub").mkdir(parents=True)
    (root / "sub" / "a.txt").write_text("a\n")
    runner = ShellRunner(
        Workspace(root=root),
        policy=ApprovalPolicy("allow"),
        ask=lambda _: Approval(Decision.ALLOW),
        settings=ShellSettings(sandbox_parent=tmp_path),
    )
    try:
        run(runner, command)
        changes = sorted(runner.workspace.changes())
    finally:
        runner.close()
    assert changes == expected
