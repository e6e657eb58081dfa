"""Every slash command, its completion, and the same actions in the command palette."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.command import CommandList, CommandPalette
from tui_helpers import make_app, model_of, notices, settle, started, until

from tiller.testing.scripted import call
from tiller.tui.commands import SLASH_COMMANDS, complete, parse_command
from tiller.tui.conversation import TurnLimitNotice, UserMessage
from tiller.tui.diff_view import DiffView
from tiller.tui.prompt import Prompt, SlashMenu
from tiller.tui.screens.confirm import ConfirmScreen
from tiller.tui.screens.flush import FlushScreen
from tiller.tui.screens.help import HelpScreen
from tiller.tui.screens.model_picker import ModelPickerScreen
from tiller.tui.screens.sessions import SessionsScreen
from tiller.tui.status_bar import StatusBar

pytestmark = pytest.mark.anyio

WRITE_HELLO = call("write_file", file_path="hello.py", content="print('hello')\n")


async def slash(pilot, text: str) -> None:
    await pilot.press(*text, "enter")
    await pilot.pause()


def test_parse_and_complete() -> None:
    """`/name arg` parses for known names; completion lists commands by prefix."""
    assert parse_command("/export out.patch") == (SLASH_COMMANDS[4], "out.patch")
    assert parse_command("/nope") is None
    assert parse_command("hello") is None
    assert [c.name for c in complete("/re")] == ["redo", "resume", "reasoning"]
    assert complete("/model x") == []


async def test_completion_menu_and_tab(project: Path) -> None:
    """Typing `/re` shows the matching commands; Tab completes the highlighted one."""
    app = make_app(project)
    async with app.run_test() as pilot:
        await started(pilot)
        await pilot.press("slash", "r", "e")
        menu = app.main.query_one(SlashMenu)
        assert [c.text for c in menu.matches] == ["/redo", "/resume", "/reasoning"]
        assert menu.display
        await pilot.press("down", "tab")
        assert app.main.query_one(Prompt).text == "/resume "
        assert not menu.is_open


async def test_enter_runs_the_highlighted_command(project: Path) -> None:
    """`/he` + Enter runs /help."""
    app = make_app(project)
    async with app.run_test() as pilot:
        await started(pilot)
        await slash(pilot, "/he")
        assert isinstance(app.screen, HelpScreen)


async def test_unknown_command_is_kept_in_the_prompt(project: Path) -> None:
    """An unknown /word is not sent to the model."""
    app = make_app(project)
    async with app.run_test() as pilot:
        await started(pilot)
        await slash(pilot, "/frobnicate")
        assert app.main.query_one(Prompt).text == "/frobnicate"
        assert model_of(app).requests == []


async def test_help_command(project: Path) -> None:
    """/help opens the help screen."""
    app = make_app(project)
    async with app.run_test() as pilot:
        await started(pilot)
        await slash(pilot, "/help")
        assert isinstance(app.screen, HelpScreen)


async def test_flush_command(project: Path) -> None:
    """/flush opens the flush dialog."""
    app = make_app(project, [WRITE_HELLO, "ok"])
    async with app.run_test() as pilot:
        await started(pilot)
        await slash(pilot, "write")
        await settle(pilot)
        await slash(pilot, "/flush")
        assert isinstance(app.screen, FlushScreen)


async def test_export_command_with_a_path(project: Path) -> None:
    """/export PATH writes the patch there (relative to where the person stands)."""
    app = make_app(project, [WRITE_HELLO, "ok"])
    async with app.run_test() as pilot:
        await started(pilot)
        await slash(pilot, "write")
        await settle(pilot)
        await slash(pilot, "/export out/change.patch")
        assert (project / "out/change.patch").read_text() == app.main.session.workspace.diff()


async def test_diff_command_shows_every_change(project: Path) -> None:
    """/diff shows the diff of all changes in the sidebar."""
    app = make_app(project, [WRITE_HELLO, "ok"])
    async with app.run_test() as pilot:
        await started(pilot)
        await pilot.press("f2")
        await slash(pilot, "write")
        await settle(pilot)
        await slash(pilot, "/diff")
        view = app.main.query_one(DiffView)
        assert app.main.query_one("#sidebar").display
        assert view.showing_all and view.border_title == "all changes"


async def test_undo_and_redo_commands(project: Path) -> None:
    """/undo and /redo act like Ctrl+Z and Ctrl+Y."""
    app = make_app(project, [WRITE_HELLO, "ok"])
    async with app.run_test() as pilot:
        await started(pilot)
        await slash(pilot, "write")
        await settle(pilot)
        await slash(pilot, "/undo")
        assert app.main.session.workspace.changes() == []
        await slash(pilot, "/redo")
        assert app.main.session.workspace.changes() == [("hello.py", "added")]


async def test_new_and_resume(project: Path) -> None:
    """/new starts a conversation on the same workspace; /resume ID switches back."""
    app = make_app(project, [WRITE_HELLO, "first", "second"])
    async with app.run_test() as pilot:
        await started(pilot)
        first = app.main.session
        await slash(pilot, "write")
        await settle(pilot)
        await slash(pilot, "/new")
        second = app.main.session
        assert second is not first and second.workspace is first.workspace
        assert not app.main.conversation.query(UserMessage)
        await slash(pilot, "again")
        await settle(pilot)
        assert len(second.history) == 2
        await slash(pilot, f"/resume {first.id}")
        assert app.main.session is first
        assert [m.text for m in app.main.conversation.query(UserMessage)] == ["write"]


async def test_sessions_lists_this_window_and_resumes(project: Path) -> None:
    """/sessions lists the sessions of this window (saying none are saved) and resumes one."""
    app = make_app(project, ["one"])
    async with app.run_test() as pilot:
        await started(pilot)
        first = app.main.session
        await slash(pilot, "hello")
        await settle(pilot)
        await slash(pilot, "/new")
        await slash(pilot, "/sessions")
        assert isinstance(app.screen, SessionsScreen)
        assert [s.id for s in app.screen.sessions] == [first.id, app.main.session.id]
        assert app.screen.sessions[0].title == "hello"
        await pilot.press("enter")  # the first (highlighted) entry
        await until(pilot, lambda: app.main.session is first)


async def test_resume_without_id_opens_the_list(project: Path) -> None:
    """/resume alone opens the sessions list."""
    app = make_app(project)
    async with app.run_test() as pilot:
        await started(pilot)
        await slash(pilot, "/resume")
        assert isinstance(app.screen, SessionsScreen)


async def test_model_command_with_an_id(project: Path) -> None:
    """/model ID switches the session's model and the status bar."""
    app = make_app(project)
    async with app.run_test() as pilot:
        await started(pilot)
        await slash(pilot, "/model anthropic/claude-test")
        assert app.main.session.model == "anthropic/claude-test"
        assert app.main.query_one(StatusBar).model == "anthropic/claude-test"


async def test_model_picker(project: Path) -> None:
    """/model alone opens the picker; typing an id and Enter switches."""
    app = make_app(project)
    async with app.run_test() as pilot:
        await started(pilot)
        await slash(pilot, "/model")
        assert isinstance(app.screen, ModelPickerScreen)
        await pilot.press(*"ollama_chat/qwen3", "enter")
        await until(pilot, lambda: app.main.session.model == "ollama_chat/qwen3")


async def test_skills_command(project: Path) -> None:
    """/skills lists the skills the agent can load."""
    skill = project / "skills" / "tidy-up"
    skill.mkdir(parents=True)
    (skill / "SKILL.md").write_text("---\nname: tidy-up\ndescription: Tidy things.\n---\nBody\n")
    app = make_app(project)
    async with app.run_test() as pilot:
        await started(pilot)
        await slash(pilot, "/skills")
        assert any("tidy-up" in text and "Tidy things." in text for text in notices(app))


async def test_cost_command(project: Path) -> None:
    """/cost reports tokens and cost."""
    app = make_app(project, ["ok"])
    async with app.run_test() as pilot:
        await started(pilot)
        await slash(pilot, "hi")
        await settle(pilot)
        await slash(pilot, "/cost")
        assert any("10 input, 5 output" in text for text in notices(app))


async def test_continue_after_turn_limit(project: Path) -> None:
    """A turn limit shows a Continue offer; /continue (or the button) goes on."""
    app = make_app(project, [WRITE_HELLO, "finished"], max_turns=1)
    async with app.run_test() as pilot:
        await started(pilot)
        await slash(pilot, "write")
        await settle(pilot)
        assert app.main.conversation.query(TurnLimitNotice)
        await pilot.click(".continue")
        await settle(pilot)
        assert model_of(app).requests[-1].messages[-1]["content"].startswith("Continue")
        assert app.main.conversation.query("AssistantMessage").last().source == "finished"


async def test_quit_command(project: Path) -> None:
    """/quit asks first when there are unflushed changes."""
    app = make_app(project, [WRITE_HELLO, "ok"])
    async with app.run_test() as pilot:
        await started(pilot)
        await slash(pilot, "write")
        await settle(pilot)
        await slash(pilot, "/quit")
        assert isinstance(app.screen, ConfirmScreen)


async def test_palette_runs_slash_commands(project: Path) -> None:
    """The command palette offers the slash commands and runs them."""
    app = make_app(project)
    async with app.run_test() as pilot:
        await started(pilot)
        await pilot.press("ctrl+p")
        await until(pilot, lambda: isinstance(app.screen, CommandPalette))
        await pilot.press(*"/help")
        await until(pilot, lambda: app.screen.query_one(CommandList).option_count > 0)
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, HelpScreen))


async def test_compact_command_marks_the_conversation(project: Path) -> None:
    """/compact [focus] summarises in the worker and leaves a one-line marker."""
    from tiller.tui.conversation import CompactionMarker

    app = make_app(project, ["ok", "the summary"])
    async with app.run_test() as pilot:
        await started(pilot)
        await slash(pilot, "hi")
        await settle(pilot)
        await slash(pilot, "/compact the parser")
        await settle(pilot)
        markers = list(app.main.conversation.query(CompactionMarker))
        assert [(m.summary, m.collapsed) for m in markers] == [("the summary", True)]
        assert str(model_of(app).requests[1].messages[-1]["content"]).endswith("the parser")
        assert (app.main.running, app.main.query_one(StatusBar).state) == (False, "idle")


async def test_every_command_of_the_table_has_a_handler(project: Path) -> None:
    """Each command in the shared table does something in the TUI (a new one needs a line)."""
    app = make_app(project)
    async with app.run_test() as pilot:
        await started(pilot)
        assert set(app.main._commands()) == {command.name for command in SLASH_COMMANDS}
