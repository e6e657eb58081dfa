"""Conversation, sidebar and status bar follow the engine's events; errors stay readable."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from tui_helpers import make_app, model_of, notices, reached, settle, started, until

from tiller.errors import AuthError, ProviderError
from tiller.testing.scripted import Step, call
from tiller.tui.conversation import AssistantMessage, UserMessage
from tiller.tui.diff_view import DiffView
from tiller.tui.prompt import Prompt
from tiller.tui.status_bar import StatusBar
from tiller.tui.tool_call import ToolCallBlock
from tiller.tui.workspace_tree import WorkspaceTree

pytestmark = pytest.mark.anyio


async def send(pilot, text: str) -> None:
    await pilot.press(*text, "enter")


async def test_streamed_text_updates_one_widget(project: Path) -> None:
    """Each delta lands in the same Markdown widget; earlier widgets are never rebuilt."""
    app = make_app(project, ["First.", Step(chunks=["# Title\n\n", "Some ", "**bold** text."])])
    async with app.run_test() as pilot:
        await started(pilot)
        await send(pilot, "one")
        await settle(pilot)
        before = list(app.main.conversation.children)
        await send(pilot, "two")
        await settle(pilot)
        after = list(app.main.conversation.children)
        assert after[: len(before)] == before
        answers = app.main.conversation.query(AssistantMessage)
        assert [a.source for a in answers] == ["First.", "# Title\n\nSome **bold** text."]


async def test_tool_calls_are_collapsed_unless_they_fail(project: Path) -> None:
    """A tool block is collapsed after success and opened after an error."""
    steps = [
        call("read_file", file_path="README.md"),
        call("read_file", file_path="missing.txt"),
        "Done.",
    ]
    app = make_app(project, steps)
    async with app.run_test() as pilot:
        await started(pilot)
        await send(pilot, "read")
        await settle(pilot)
        ok, failed = app.main.conversation.query(ToolCallBlock)
        assert (ok.tool_name, ok.collapsed, ok.has_class("-error")) == ("read_file", True, False)
        assert "# Demo" in ok.output
        assert (failed.collapsed, failed.has_class("-error")) == (False, True)
        assert "missing.txt" in failed.output


async def test_mid_run_status_bar(project: Path) -> None:
    """While held after a tool call: working, round 2 of 50, tokens counted, one change."""
    gate = threading.Event()
    held = Step(text="done", gate=gate)
    write = call("write_file", file_path="a.txt", content="a\n")
    app = make_app(project, [write, held])
    async with app.run_test() as pilot:
        await started(pilot)
        await send(pilot, "go")
        await reached(held)
        status = app.main.query_one(StatusBar)
        await until(pilot, lambda: status.changes == 1)
        assert (status.state, status.round, status.max_turns) == ("working", 2, 50)
        assert (status.input_tokens, status.output_tokens, status.cost) == (10, 5, 0.0)
        assert status.context_percent == 0
        gate.set()
        await settle(pilot)
        assert status.state == "idle"


async def test_unknown_cost_shows_a_question_mark(project: Path) -> None:
    """A provider without a price shows `$?`."""
    from tiller.model import Usage

    app = make_app(project, [Step(text="ok", usage=Usage(100, 20, cost_usd=None))])
    async with app.run_test() as pilot:
        await started(pilot)
        await send(pilot, "hi")
        await settle(pilot)
        assert "$?" in str(app.main.query_one(StatusBar).render())


async def test_tree_marks_changes_and_shows_the_diff(project: Path) -> None:
    """A new file appears marked A (its directory revealed); selecting it shows its diff."""
    app = make_app(project, [call("write_file", file_path="src/new.py", content="x = 1\n"), "ok"])
    async with app.run_test(size=(120, 40)) as pilot:
        await started(pilot)
        await send(pilot, "add")
        await settle(pilot)
        tree = app.main.query_one(WorkspaceTree)
        src = next(node for node in tree.root.children if node.data == "src/")
        assert src.is_expanded
        new = next(node for node in src.children if node.data == "src/new.py")
        assert str(new.label) == "new.py A"
        tree.move_cursor(new)
        await pilot.pause()
        view = app.main.query_one(DiffView)
        assert view.path == "src/new.py" and not view.showing_all


async def test_tree_loads_directories_lazily(project: Path) -> None:
    """Base directories are listed only when expanded."""
    app = make_app(project)
    async with app.run_test() as pilot:
        await started(pilot)
        tree = app.main.query_one(WorkspaceTree)
        tests = next(node for node in tree.root.children if node.data == "tests/")
        assert not tests.children
        tests.expand()
        await pilot.pause()
        assert [node.data for node in tests.children] == ["tests/test_calc.py"]


async def test_no_api_key_says_what_to_set(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without OPENAI_API_KEY the prompt is kept and the message names the variable and /model."""
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    app = make_app(project, model="openai/gpt-5", client=None, preload=False)
    async with app.run_test() as pilot:
        await started(pilot)
        await send(pilot, "hello")
        await pilot.pause()
        (message,) = notices(app)[1:]
        assert "OPENAI_API_KEY" in message and "/model" in message and "--model" in message
        assert app.main.query_one(Prompt).text == "hello"
        assert not app.main.running


async def test_provider_error_is_shown_and_the_app_goes_on(project: Path) -> None:
    """A provider error appears in the conversation; the next prompt works."""
    app = make_app(project, [Step(error=ProviderError("503 upstream overloaded")), "Back."])
    async with app.run_test() as pilot:
        await started(pilot)
        await send(pilot, "hi")
        await settle(pilot)
        assert any("503 upstream overloaded" in text for text in notices(app))
        await send(pilot, "again")
        await settle(pilot)
        assert app.main.conversation.query(AssistantMessage).last().source == "Back."


async def test_auth_error_keeps_the_conversation_in_a_fresh_session(project: Path) -> None:
    """An auth error says what to check; the closed session is replaced, history kept."""
    app = make_app(project, [Step(error=AuthError("invalid x-api-key")), "Works now."])
    async with app.run_test() as pilot:
        await started(pilot)
        first = app.main.session
        await send(pilot, "hi")
        await settle(pilot)
        assert any("rejected the credentials" in text for text in notices(app))
        assert app.main.session is not first
        await send(pilot, "retry")
        await settle(pilot)
        assert [m.text for m in app.main.conversation.query(UserMessage)] == ["hi", "retry"]
        contents = [
            m["content"] for m in model_of(app).requests[-1].messages if m["role"] == "user"
        ]
        assert contents == ["hi", "retry"]
