"""Snapshots of the screens a person sees, with the clock, paths and spinners frozen.

Each SVG under `__snapshots__/` was looked at before it was accepted; update one
(`pytest --snapshot-update`) only after looking at the new picture.
"""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from tui_helpers import make_app, reached, settle, started, until

from tiller.config import SessionConfig
from tiller.errors import ProviderError
from tiller.testing.scripted import Step, call
from tiller.tui.screens.approval import ApprovalScreen
from tiller.tui.screens.flush import FlushScreen
from tiller.tui.shell_call import ShellCallBlock
from tiller.tui.workspace_tree import WorkspaceTree

# Every snapshot uses the same fixed project path, so they share one xdist worker.
pytestmark = pytest.mark.xdist_group("snapshots")

SIZE = (120, 36)
EDIT_CALC = call(
    "edit_file",
    file_path="src/calc.py",
    old_string="def sub(a, b):\n    return a - b\n",
    new_string='def sub(a: int, b: int) -> int:\n    """a minus b."""\n    return a - b\n',
)


async def send(pilot, text: str) -> None:
    await pilot.press(*text, "enter")


def test_empty_start(snap_compare, frozen_project: Path) -> None:
    """The first screen: welcome, empty prompt, the tree of the project, no changes."""

    async def run_before(pilot) -> None:
        await started(pilot)

    assert snap_compare(make_app(frozen_project), run_before=run_before, terminal_size=SIZE)


def test_mid_run_with_a_tool_call(snap_compare, frozen_project: Path) -> None:
    """Held after a write: the tool block, the new file marked A, steering queued, working."""
    gate = threading.Event()
    held = Step(text="done", gate=gate)
    write = call("write_file", file_path="src/hello.py", content="print('hello')\n")
    first = Step(text="I'll add the file.", tool_calls=write.tool_calls)
    app = make_app(frozen_project, [first, held])

    async def run_before(pilot) -> None:
        await started(pilot)
        await send(pilot, "add a hello script")
        await reached(held)
        await pilot.press(*"and a test please", "enter")
        await until(pilot, lambda: app.main.query_one(WorkspaceTree).changes)
        await pilot.pause()

    try:
        assert snap_compare(app, run_before=run_before, terminal_size=SIZE)
    finally:
        gate.set()


def test_diff_view(snap_compare, frozen_project: Path) -> None:
    """An edited file selected in the tree: a highlighted unified diff with line numbers."""
    app = make_app(frozen_project, [EDIT_CALC, "Added type hints to `sub`."])

    async def run_before(pilot) -> None:
        await started(pilot)
        await send(pilot, "type sub")
        await settle(pilot)
        tree = app.main.query_one(WorkspaceTree)
        src = next(node for node in tree.root.children if node.data == "src/")
        tree.move_cursor(next(node for node in src.children if node.data == "src/calc.py"))
        await pilot.pause()

    assert snap_compare(app, run_before=run_before, terminal_size=SIZE)


def test_side_by_side_diff(snap_compare, frozen_project: Path) -> None:
    """`s` in the diff switches to old | new columns."""
    app = make_app(frozen_project, [EDIT_CALC, "Done."])

    async def run_before(pilot) -> None:
        await started(pilot)
        await send(pilot, "type sub")
        await settle(pilot)
        await pilot.press("f2")  # hide, then show the sidebar wider via /diff
        await send(pilot, "/diff src/calc.py")
        await pilot.pause()
        await pilot.click("#diff")  # keys go to the prompt unless a pane is chosen
        await pilot.press("s")
        await pilot.pause()

    assert snap_compare(app, run_before=run_before, terminal_size=SIZE)


def test_flush_dialog(snap_compare, frozen_project: Path) -> None:
    """Ctrl+S: the files to write, and a conflict for a file changed on disk meanwhile."""
    readme = call("write_file", file_path="README.md", content="# Demo\n\nBetter words.\n")
    app = make_app(frozen_project, [EDIT_CALC, readme, "Done."])

    async def run_before(pilot) -> None:
        await started(pilot)
        await send(pilot, "tidy")
        await settle(pilot)
        (frozen_project / "README.md").write_text("# Changed by someone else\n")
        await pilot.press("ctrl+s")
        await until(pilot, lambda: isinstance(app.screen, FlushScreen))
        await pilot.pause()

    assert snap_compare(app, run_before=run_before, terminal_size=SIZE)


def test_approval_modal(snap_compare, frozen_project: Path) -> None:
    """A shell command waits for approval: command, description, cwd, timeout and the keys."""
    command = "pytest -q tests/ && ruff check src --fix"
    shell = call("shell", command=command, description="Run the tests, then fix lint")
    app = make_app(
        frozen_project,
        [Step(text="Let me run the tests.", tool_calls=shell.tool_calls), "done"],
        config=SessionConfig(shell=True),
    )

    async def run_before(pilot) -> None:
        await started(pilot)
        await send(pilot, "run the tests")
        await until(pilot, lambda: isinstance(app.screen, ApprovalScreen) and app.screen.armed)
        await pilot.pause()

    assert snap_compare(app, run_before=run_before, terminal_size=SIZE)


def test_help(snap_compare, frozen_project: Path) -> None:
    """F1: every key and every slash command."""

    async def run_before(pilot) -> None:
        await started(pilot)
        await pilot.press("f1")
        await pilot.pause()

    assert snap_compare(make_app(frozen_project), run_before=run_before, terminal_size=(120, 44))


def test_provider_error(snap_compare, frozen_project: Path) -> None:
    """A provider error in the conversation, with what to do next."""
    app = make_app(frozen_project, [Step(error=ProviderError("openai: 503 Service Unavailable"))])

    async def run_before(pilot) -> None:
        await started(pilot)
        await send(pilot, "hello")
        await settle(pilot)

    assert snap_compare(app, run_before=run_before, terminal_size=SIZE)


def test_missing_api_key(
    snap_compare, frozen_project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No key for the chosen model: which variable to set, and how to pick another model."""
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    app = make_app(frozen_project, model="openai/gpt-5", client=None, preload=False)

    async def run_before(pilot) -> None:
        await started(pilot)
        await send(pilot, "hello")
        await pilot.pause()

    assert snap_compare(app, run_before=run_before, terminal_size=SIZE)


def test_inline_edit_diff(snap_compare, frozen_project: Path) -> None:
    """An edit row in the conversation: the coloured diff of that call, numbered, +1 −1."""
    app = make_app(frozen_project, [EDIT_CALC, "Added type hints to `sub`."])

    async def run_before(pilot) -> None:
        await started(pilot)
        await send(pilot, "type sub")
        await settle(pilot)

    assert snap_compare(app, run_before=run_before, terminal_size=SIZE)


def test_inline_edit_diff_light_theme(snap_compare, frozen_project: Path) -> None:
    """The same edit in `textual-light`: added and removed lines stay readable."""
    app = make_app(frozen_project, [EDIT_CALC, "Added type hints to `sub`."])

    async def run_before(pilot) -> None:
        await started(pilot)
        app.theme = "textual-light"
        await send(pilot, "type sub")
        await settle(pilot)

    assert snap_compare(app, run_before=run_before, terminal_size=SIZE)


def test_shell_row_at_80_columns(snap_compare, frozen_project: Path) -> None:
    """At 80 columns: the command cut, `✓ exit 0` whole, the last 5 lines, `0 unflushed`."""
    command = "for i in $(seq 1 9); do echo line $i of the test output; done # and a long tail"
    shell = call("shell", command=command, description="Print nine lines")
    config = SessionConfig(shell=True, shell_approval="allow")
    app = make_app(frozen_project, [shell, "Done."], config=config)

    async def run_before(pilot) -> None:
        await started(pilot)
        await send(pilot, "run it")
        await settle(pilot)
        block = app.main.conversation.query_one(ShellCallBlock)
        block.set_status("✓ exit 0")  # the duration varies from run to run

    assert snap_compare(app, run_before=run_before, terminal_size=(80, 24))


def test_nested_subagent(snap_compare, frozen_project: Path) -> None:
    """A subagent's own tool rows inside its block, inside the spawn_agent call."""
    spawn = Step(
        tool_calls=[
            ("spawn_agent", {"task": "Add a hello script and check the calc module"}),
            ("wait", {"agent_id": "agent_1"}),
        ]
    )
    child = Step(
        tool_calls=[
            ("read_file", {"file_path": "src/calc.py"}),
            ("write_file", {"file_path": "src/hello.py", "content": "print('hello')\n"}),
        ]
    )
    app = make_app(frozen_project, [spawn, child, "Child: done.", "The subagent added it."])

    async def run_before(pilot) -> None:
        await started(pilot)
        await send(pilot, "delegate")
        await settle(pilot)

    assert snap_compare(app, run_before=run_before, terminal_size=SIZE)
