"""Every key of DESIGN §7, driven through Pilot with the scripted model held on gates."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from tui_helpers import (
    FROZEN_NOW,
    make_app,
    model_of,
    notices,
    reached,
    screen_text,
    settle,
    started,
    until,
)

from tiller.journal import data_dir
from tiller.testing.scripted import Step, call
from tiller.tui.conversation import UserMessage
from tiller.tui.events_pane import EventsPane
from tiller.tui.pending import PendingMessages
from tiller.tui.prompt import Prompt
from tiller.tui.screens.confirm import ConfirmScreen
from tiller.tui.screens.flush import FlushScreen
from tiller.tui.screens.help import HelpScreen
from tiller.tui.workspace_tree import WorkspaceTree

pytestmark = pytest.mark.anyio

WRITE_HELLO = call("write_file", file_path="hello.py", content="print('hello')\n")


def user_messages(app) -> list[tuple[str, str]]:
    return [(m.kind, m.text) for m in app.main.conversation.query(UserMessage)]


def shown_actions(app) -> set[str]:
    return {b.binding.action for b in app.screen.active_bindings.values() if b.binding.show}


async def test_enter_sends(project: Path) -> None:
    """Enter sends the prompt; the answer appears under it."""
    app = make_app(project, ["Hi there."])
    async with app.run_test() as pilot:
        await started(pilot)
        await pilot.press(*"hello", "enter")
        await settle(pilot)
        assert user_messages(app) == [("user", "hello")]
        assert model_of(app).requests[0].messages[-1] == {"role": "user", "content": "hello"}
        assert app.main.conversation.query("AssistantMessage").last().source == "Hi there."
        assert app.main.query_one(Prompt).text == ""


async def test_enter_steers_while_running(project: Path) -> None:
    """While the agent works, Enter queues steering that reaches the model after the tool."""
    gate = threading.Event()
    first = Step(tool_calls=[("write_file", {"file_path": "a.txt", "content": "a"})], gate=gate)
    app = make_app(project, [first, "Using tabs."])
    async with app.run_test() as pilot:
        await started(pilot)
        await pilot.press(*"go", "enter")
        await reached(first)
        await pilot.press(*"use tabs", "enter")
        await pilot.pause()
        assert app.main.session.queued == (["use tabs"], [])
        assert app.main.query_one(PendingMessages).items == [("steering", "use tabs")]
        gate.set()
        await settle(pilot)
        assert user_messages(app) == [("user", "go"), ("steering", "use tabs")]
        assert model_of(app).requests[1].messages[-1] == {"role": "user", "content": "use tabs"}
        assert app.main.query_one(PendingMessages).items == []


async def test_tab_queues_follow_up(project: Path) -> None:
    """While the agent works, Tab queues a follow-up that runs after the current input."""
    gate = threading.Event()
    first = Step(text="Done with one.", gate=gate)
    app = make_app(project, [first, "Done with two."])
    async with app.run_test() as pilot:
        await started(pilot)
        await pilot.press(*"one", "enter")
        await reached(first)
        await pilot.press(*"two", "tab")
        await pilot.pause()
        assert app.main.session.queued == ([], ["two"])
        gate.set()
        await settle(pilot)
        assert user_messages(app) == [("user", "one"), ("follow_up", "two")]
        assert model_of(app).requests[1].messages[-1] == {"role": "user", "content": "two"}


@pytest.mark.parametrize("newline_key", ["shift+enter", "ctrl+j"])
async def test_newline_keys(project: Path, newline_key: str) -> None:
    """Shift+Enter and Ctrl+J insert a newline instead of sending."""
    app = make_app(project)
    async with app.run_test() as pilot:
        await started(pilot)
        await pilot.press("a", newline_key, "b")
        assert app.main.query_one(Prompt).text == "a\nb"
        assert model_of(app).requests == []


async def test_escape_interrupts_and_returns_queued_text(project: Path) -> None:
    """Esc stops a held run within a second; queued messages go back into the prompt."""
    held = Step(text="never", gate=threading.Event())
    app = make_app(project, [held])
    async with app.run_test() as pilot:
        await started(pilot)
        await pilot.press(*"work", "enter")
        await reached(held)
        await pilot.press(*"steer me", "enter")
        await pilot.press(*"later", "tab")
        started_at = time.monotonic()
        await pilot.press("escape")
        await settle(pilot)
        assert time.monotonic() - started_at < 2.0  # promised 1 s; slack for a loaded machine
        assert app.main.running is False
        assert app.main.query_one(Prompt).text == "steer me\n\nlater"
        assert any("Interrupted" in text for text in notices(app))
        assert app.main.session.queued == ([], [])


async def test_ctrl_c_interrupts_a_run(project: Path) -> None:
    """Ctrl+C stops a held run (as Esc does) and the app keeps running."""
    held = Step(text="never", gate=threading.Event())
    app = make_app(project, [held])
    async with app.run_test() as pilot:
        await started(pilot)
        await pilot.press(*"work", "enter")
        await reached(held)
        await pilot.press("ctrl+c")
        await settle(pilot)
        assert (app.main.running, app.is_running) == (False, True)


async def test_idle_ctrl_c_clears_the_prompt(project: Path) -> None:
    """Idle, Ctrl+C clears what is typed instead of quitting."""
    app = make_app(project)
    async with app.run_test() as pilot:
        await started(pilot)
        await pilot.press(*"draft")
        await pilot.press("ctrl+c")
        await pilot.pause()
        assert (app.main.query_one(Prompt).text, app.is_running) == ("", True)


async def test_ctrl_s_flushes_after_the_dialog(project: Path) -> None:
    """Ctrl+S lists the files in a dialog; confirming writes them to disk."""
    app = make_app(project, [WRITE_HELLO, "Wrote it."])
    async with app.run_test() as pilot:
        await started(pilot)
        await pilot.press(*"write", "enter")
        await settle(pilot)
        await pilot.press("ctrl+s")
        await until(pilot, lambda: isinstance(app.screen, FlushScreen))
        assert "hello.py" in str(app.screen.query_one(".flush-file").render())
        await pilot.press("enter")
        await until(pilot, lambda: not isinstance(app.screen, FlushScreen))
        await pilot.pause()
        assert (project / "hello.py").read_text() == "print('hello')\n"
        assert app.main.session.workspace.changes() == []
        assert any("Flushed 1 file(s)" in text for text in notices(app))


async def test_ctrl_s_shows_conflicts_and_can_overwrite(project: Path) -> None:
    """A file changed on disk is listed as a conflict; Overwrite all forces the flush."""
    edit = call("write_file", file_path="README.md", content="# Agent\n")
    app = make_app(project, [edit, "Edited."])
    async with app.run_test() as pilot:
        await started(pilot)
        await pilot.press(*"edit", "enter")
        await settle(pilot)
        (project / "README.md").write_text("# Someone else\n")
        await pilot.press("ctrl+s")
        await until(pilot, lambda: isinstance(app.screen, FlushScreen))
        dialog = app.screen
        assert dialog.conflicts == ["README.md"]
        assert "README.md" in str(dialog.query_one("#flush-conflicts").render())
        assert dialog.query_one("#flush").display is False
        await pilot.click("#force")
        await until(pilot, lambda: not isinstance(app.screen, FlushScreen))
        assert (project / "README.md").read_text() == "# Agent\n"


async def test_overwrite_all_keeps_a_file_edited_while_the_dialog_was_open(
    project: Path,
) -> None:
    """Overwrite all covers the conflicts listed; a file edited on disk meanwhile keeps the edit."""
    readme = call("write_file", file_path="README.md", content="# Agent\n")
    app = make_app(project, [readme, WRITE_HELLO, "Edited."])
    async with app.run_test() as pilot:
        await started(pilot)
        await pilot.press(*"edit", "enter")
        await settle(pilot)
        (project / "README.md").write_text("# Someone else\n")
        await pilot.press("ctrl+s")
        await until(pilot, lambda: isinstance(app.screen, FlushScreen))
        (project / "hello.py").write_text("print('mine')\n")
        await pilot.click("#force")
        await pilot.pause()
        assert (project / "hello.py").read_text() == "print('mine')\n"


async def test_ctrl_x_exports_a_patch(project: Path) -> None:
    """Ctrl+X writes the workspace diff into the data dir (never the project) and says where."""
    app = make_app(project, [WRITE_HELLO, "Wrote it."])
    async with app.run_test() as pilot:
        await started(pilot)
        await pilot.press(*"write", "enter")
        await settle(pilot)
        await pilot.press("ctrl+x")
        await pilot.pause()
        stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(FROZEN_NOW))
        patch = data_dir() / "patches" / f"{app.main.session.id}-{stamp}.patch"
        assert patch.read_text() == app.main.session.workspace.diff()
        assert not list(project.glob("*.patch"))
        assert any(str(patch) in text for text in notices(app))


async def test_ctrl_z_and_ctrl_y_undo_and_redo(project: Path) -> None:
    """Ctrl+Z takes back the last turn's edits, Ctrl+Y puts them back; the tree follows."""
    app = make_app(project, [WRITE_HELLO, "Wrote it."])
    async with app.run_test() as pilot:
        await started(pilot)
        await pilot.press(*"write", "enter")
        await settle(pilot)
        tree = app.main.query_one(WorkspaceTree)
        assert tree.changes == {"hello.py": "added"}
        await pilot.press("ctrl+z")
        await pilot.pause()
        assert app.main.session.workspace.changes() == []
        assert tree.changes == {}
        assert "hello.py" not in [node.data for node in tree.root.children]
        await pilot.press("ctrl+y")
        await pilot.pause()
        assert app.main.session.workspace.changes() == [("hello.py", "added")]
        assert tree.changes == {"hello.py": "added"}


async def test_f2_and_f3_toggle_panes(project: Path) -> None:
    """F2 hides and shows the sidebar; F3 shows and hides the events pane."""
    app = make_app(project, ["ok"])
    async with app.run_test() as pilot:
        await started(pilot)
        sidebar, events = app.main.query_one("#sidebar"), app.main.query_one(EventsPane)
        assert (sidebar.display, events.display) == (True, False)
        await pilot.press("f2", "f3")
        assert (sidebar.display, events.display) == (False, True)
        await pilot.press(*"hi", "enter")
        await settle(pilot)
        assert len(events.lines) >= 4  # session_start, user_input, ..., processing_end
        await pilot.press("f2", "f3")
        assert (sidebar.display, events.display) == (True, False)


async def test_f1_help_lists_every_key(project: Path) -> None:
    """F1 opens help naming every key of DESIGN §7; Esc closes it."""
    app = make_app(project)
    async with app.run_test(size=(120, 50)) as pilot:
        await started(pilot)
        await pilot.press("f1")
        assert isinstance(app.screen, HelpScreen)
        text = screen_text(app)
        for key in ("Enter", "Tab", "Shift+Enter", "Ctrl+J", "Esc", "Ctrl+S", "Ctrl+X"):
            assert key in text
        for key in ("Ctrl+Z", "Ctrl+Y", "F2", "F3", "F1", "Ctrl+Q", "Up / Down"):
            assert key in text
        await pilot.press("escape")
        assert not isinstance(app.screen, HelpScreen)


async def test_ctrl_q_quits_at_once_without_changes(project: Path) -> None:
    """With nothing unflushed, Ctrl+Q exits without asking."""
    app = make_app(project)
    async with app.run_test() as pilot:
        await started(pilot)
        await pilot.press("ctrl+q")
        await pilot.pause()
        assert app._exit is True


async def test_ctrl_q_asks_when_changes_are_unflushed(project: Path) -> None:
    """With unflushed changes Ctrl+Q asks; No stays, Yes quits."""
    app = make_app(project, [WRITE_HELLO, "Wrote it."])
    async with app.run_test() as pilot:
        await started(pilot)
        await pilot.press(*"write", "enter")
        await settle(pilot)
        await pilot.press("ctrl+q")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("n")
        await pilot.pause()
        assert not app._exit
        await pilot.press("ctrl+q")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("y")
        await pilot.pause()
        assert app._exit is True


async def test_footer_shows_the_keys_that_matter(project: Path) -> None:
    """Idle without changes: Send; running: Steer, Queue and Interrupt; after edits: Flush."""
    gate = threading.Event()
    first = Step(tool_calls=[("write_file", {"file_path": "a.txt", "content": "a"})], gate=gate)
    app = make_app(project, [first, "ok"])
    async with app.run_test() as pilot:
        await started(pilot)
        idle = shown_actions(app)
        assert "submit('send')" in idle and "flush" not in idle and "interrupt" not in idle
        await pilot.press(*"go", "enter")
        await reached(first)
        await pilot.press("x")
        running = shown_actions(app)
        assert {"submit('steer')", "submit('follow_up')", "interrupt"} <= running
        gate.set()
        await settle(pilot)
        await pilot.press("backspace")  # Ctrl+Z is the prompt's text undo while it holds text
        after = shown_actions(app)
        assert {"flush", "export", "undo", "submit('send')"} <= after
        assert "interrupt" not in after
