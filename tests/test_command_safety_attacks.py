"""Attacks on the approval decision that once let a command run unasked, or crashed the check."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tiller import Session, SessionConfig
from tiller.command_safety import review
from tiller.events import Event, EventKind
from tiller.testing.scripted import ScriptedModel, call


@pytest.mark.parametrize(
    "command",
    [
        "true {HOME}>/dev/null; git diff",
        "echo hi {PATH}>/dev/null",
        "pwd {HOME}>&2",
        "ls {fd}>/dev/null",
    ],
)
def test_a_descriptor_variable_redirection_asks(command: str) -> None:
    """`{NAME}>...` makes bash assign NAME (in the shell itself for a builtin), so it asks."""
    verdict = review(command)
    assert (verdict.allowed, "assigns" in verdict.reason) == (False, True), verdict.reason


def test_bash_assigns_the_variable_of_a_descriptor_redirection(tmp_path: Path) -> None:
    """The attack is real: `true {HOME}>/dev/null` changes HOME for the next command."""
    done = subprocess.run(
        ["bash", "--norc", "--noprofile", "-c", 'true {HOME}>/dev/null; printf %s "$HOME"'],
        env={"HOME": str(tmp_path), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=10,
        check=False,
    )
    assert done.stdout.isdigit() is True


@pytest.mark.parametrize("operator", ["&&", "||"])
def test_a_long_chain_asks_instead_of_crashing(operator: str) -> None:
    """Thousands of `&&` nest the grammar's tree deeply; the check still answers."""
    verdict = review(f"true {operator} " * 5000 + "true")
    assert verdict.allowed is True


def test_a_long_chain_with_one_unknown_command_asks() -> None:
    """The walk reaches every command of a deep chain, the last one included."""
    verdict = review("true && " * 3000 + "rm -rf src")
    assert (verdict.allowed, verdict.reason) == (False, "`rm -rf src` is not on the allow-list")


def test_headless_run_does_not_run_git_config_planted_through_home(tmp_path: Path) -> None:
    """End to end: a planted `~/.gitconfig` reached through `{HOME}>` never runs unasked."""
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True, timeout=30)
    (tmp_path / "f.txt").write_text("a\n")
    config = "[diff]\n\texternal = sh -c 'id > PWNED'\n"
    steps: list[object] = [
        call("write_file", file_path=f"{n}/.gitconfig", content=config) for n in (10, 11, 12)
    ]
    steps += [
        call("shell", command="true {HOME}>/dev/null; git diff --no-index f.txt g.txt"),
        "done",
    ]
    (tmp_path / "g.txt").write_text("b\n")
    session = Session(
        ScriptedModel(steps),  # type: ignore[arg-type]
        root=tmp_path,
        skills_dirs=[],
        config=SessionConfig(shell=True, shell_approval="deny"),
    )
    events: list[Event] = []
    session.subscribe(events.append)
    try:
        session.send("diff")
        planted = "PWNED" in session.workspace.files()
    finally:
        session.close()
    outputs = [str(e.data["output"]) for e in events if e.kind is EventKind.TOOL_CALL_END]
    assert (planted, "needs approval" in outputs[-1]) == (False, True)
