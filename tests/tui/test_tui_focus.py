"""The focus model and the prompt's keys (DESIGN §7): typing always lands in the prompt,
in the order typed, unless a dialog is open or the person chose a pane to navigate."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from textual import events
from textual.widgets import Button
from tui_helpers import make_app, model_of, notices, reached, screen_text, settle, started, until

from tiller.prompt_history import PromptHistory, history_path
from tiller.testing.scripted import Step, call
from tiller.tui.app import TillerApp
from tiller.tui.conversation import UserMessage
from tiller.tui.diff_view import DiffView
from tiller.tui.prompt import Prompt
from tiller.tui.screens.help import HelpScreen
from tiller.tui.status_bar import StatusBar
from tiller.tui.workspace_tree import WorkspaceTree

pytestmark = pytest.mark.anyio

WRITE_HELLO = call("write_file", file_path="hello.py", content="print('hello')\n")


def prompt_of(app: TillerApp) -> Prompt:
    return app.main.query_one(Prompt)


def burst(app: TillerApp, *keys: str) -> None:
    """Post `keys` to the app at once, as a fast typist or a paste of keystrokes does."""
    for key in keys:
        character = {"space": " ", "at": "@"}.get(key, key if len(key) == 1 else None)
        app.post_message(events.Key(key, character))


async def test_a_burst_keeps_its_order(project: Path) -> None:
    """`abc`, Ctrl+J, `def` typed in one burst gives two lines in that order."""
    app = make_app(project)
    async with app.run_test() as pilot:
        await started(pilot)
        burst(app, "a", "b", "c", "ctrl+j", "d", "e", "f")
        await until(pilot, lambda: prompt_of(app).text == "abc\ndef")


async def test_enter_in_a_burst_sends_only_what_came_before(project: Path) -> None:
    """`hi`, Enter, `there` in one burst sends `hi` and leaves `there` in the prompt."""
    app = make_app(project, ["Hello."])
    async with app.run_test() as pilot:
        await started(pilot)
        burst(app, "h", "i", "enter", "t", "h", "e", "r", "e")
        await settle(pilot)
        await until(pilot, lambda: prompt_of(app).text == "there")
        assert model_of(app).requests[0].messages[-1] == {"role": "user", "content": "hi"}


async def test_enter_typed_as_the_ui_appears_is_sent(project: Path) -> None:
    """`hi` Enter typed before the session exists is sent once it does."""
    app = make_app(project, ["Hello."])
    async with app.run_test() as pilot:
        burst(app, "h", "i", "enter")
        await started(pilot)
        await settle(pilot)
        await until(pilot, lambda: len(model_of(app).requests) == 1)
        assert model_of(app).requests[0].messages[-1] == {"role": "user", "content": "hi"}
        assert prompt_of(app).text == ""


async def test_a_letter_typed_in_the_tree_goes_to_the_prompt(project: Path) -> None:
    """With the tree clicked, typing a word moves the focus back and types the word."""
    app = make_app(project)
    async with app.run_test() as pilot:
        await started(pilot)
        await pilot.click(WorkspaceTree)
        assert isinstance(app.focused, WorkspaceTree)
        await pilot.press(*"hello")
        assert (prompt_of(app).text, app.focused) == ("hello", prompt_of(app))


async def test_the_diff_command_leaves_the_focus_in_the_prompt(project: Path) -> None:
    """After /diff, `s` is typed in the prompt instead of switching the diff to columns."""
    app = make_app(project)
    async with app.run_test() as pilot:
        await started(pilot)
        await pilot.press(*"/diff", "enter")
        await pilot.press("s")
        assert (app.focused, prompt_of(app).text) == (prompt_of(app), "s")
        assert app.main.query_one(DiffView).split is False


async def test_a_chosen_pane_keeps_its_own_keys(project: Path) -> None:
    """Clicked on purpose, the diff takes `s` (split view); the prompt stays empty."""
    app = make_app(project)
    async with app.run_test() as pilot:
        await started(pilot)
        await pilot.click(DiffView)
        await pilot.press("s")
        assert (app.main.query_one(DiffView).split, prompt_of(app).text) == (True, "")


async def test_escape_when_idle_returns_to_the_prompt(project: Path) -> None:
    """Esc in a pane (nothing running) puts the focus back in the prompt."""
    app = make_app(project)
    async with app.run_test() as pilot:
        await started(pilot)
        await pilot.click(WorkspaceTree)
        await pilot.press("escape")
        assert app.focused is prompt_of(app)


async def test_tab_with_text_and_nothing_to_complete_stays(project: Path) -> None:
    """Tab after a plain word neither moves the focus nor changes the text."""
    app = make_app(project)
    async with app.run_test() as pilot:
        await started(pilot)
        await pilot.press(*"explain", "tab")
        assert (app.focused, prompt_of(app).text) == (prompt_of(app), "explain")


async def test_tab_on_an_empty_prompt_moves_to_a_pane(project: Path) -> None:
    """Tab on an empty prompt is how a pane is reached from the keyboard (the tree next)."""
    app = make_app(project)
    async with app.run_test() as pilot:
        await started(pilot)
        await pilot.press("tab")
        assert isinstance(app.focused, WorkspaceTree)


async def test_tool_rows_are_not_tab_stops(project: Path) -> None:
    """After five tool calls, Shift+Tab from the prompt visits only the four panes."""
    calls = [call("read_file", file_path="README.md") for _ in range(5)]
    app = make_app(project, [Step(tool_calls=[c.tool_calls[0] for c in calls]), "Read it."])
    async with app.run_test() as pilot:
        await started(pilot)
        await pilot.press(*"read", "enter")
        await settle(pilot)
        assert len(app.main.conversation.query("ToolCallBlock")) == 5
        visited = []
        await pilot.press("shift+tab")
        while app.focused is not prompt_of(app) and len(visited) < 20:
            visited.append(type(app.focused).__name__)
            await pilot.press("shift+tab")
        assert visited == ["Conversation", "DiffView", "WorkspaceTree"]


async def test_closing_a_dialog_returns_to_the_prompt(project: Path) -> None:
    """Help opened from a pane closes back into the prompt."""
    app = make_app(project)
    async with app.run_test() as pilot:
        await started(pilot)
        await pilot.click(WorkspaceTree)
        await pilot.press("f1")
        await until(pilot, lambda: isinstance(app.screen, HelpScreen))
        await pilot.press("escape")
        await until(pilot, lambda: app.screen is app.main)
        await pilot.press("x")
        assert (app.focused, prompt_of(app).text) == (prompt_of(app), "x")


async def test_a_paste_in_a_pane_lands_in_the_prompt(project: Path) -> None:
    """Pasted text goes to the prompt even when a pane has the focus."""
    app = make_app(project)
    async with app.run_test() as pilot:
        await started(pilot)
        await pilot.click(WorkspaceTree)
        app.post_message(events.Paste("pasted text"))
        await until(pilot, lambda: prompt_of(app).text == "pasted text")


async def test_tab_completes_an_at_path(project: Path) -> None:
    """`@src/ca` + Tab becomes `@src/calc.py ` (from the workspace)."""
    app = make_app(project)
    async with app.run_test() as pilot:
        await started(pilot)
        await pilot.press(*"explain @src/ca", "tab")
        assert prompt_of(app).text == "explain @src/calc.py "


async def test_tab_completes_a_file_only_the_agent_created(project: Path) -> None:
    """A file that exists only in the overlay is completed."""
    app = make_app(project, [WRITE_HELLO, "Wrote it."])
    async with app.run_test() as pilot:
        await started(pilot)
        await pilot.press(*"write", "enter")
        await settle(pilot)
        await pilot.press(*"run @hel", "tab")
        assert prompt_of(app).text == "run @hello.py "


async def test_tab_into_a_directory_keeps_completing(project: Path) -> None:
    """`@sr` + Tab gives `@src/`; the next Tab takes the first entry inside."""
    app = make_app(project)
    async with app.run_test() as pilot:
        await started(pilot)
        await pilot.press(*"@sr", "tab")
        assert prompt_of(app).text == "@src/"
        await pilot.press("tab")
        assert prompt_of(app).text == "@src/__init__.py "


async def test_tab_with_text_while_running_still_queues(project: Path) -> None:
    """During a run, Tab after plain text queues a follow-up (completion does not take it)."""
    held = Step(text="Done.", gate=threading.Event())
    app = make_app(project, [held, "Second."])
    async with app.run_test() as pilot:
        await started(pilot)
        await pilot.press(*"one", "enter")
        await reached(held)
        await pilot.press(*"two", "tab")
        await pilot.pause()
        assert app.main.session.queued == ([], ["two"])
        held.gate.set()
        await settle(pilot)


async def test_up_recalls_the_last_prompt_and_down_the_draft(project: Path) -> None:
    """Up shows what was sent last; Down brings back what was being typed."""
    app = make_app(project, ["One.", "Two."])
    async with app.run_test() as pilot:
        await started(pilot)
        await pilot.press(*"first", "enter")
        await settle(pilot)
        await pilot.press(*"dra", "up")
        assert prompt_of(app).text == "first"
        await pilot.press("down")
        assert prompt_of(app).text == "dra"


async def test_history_is_kept_in_the_data_dir(project: Path) -> None:
    """A prompt sent in one app is the first Up in the next (and in `tiller chat`)."""
    PromptHistory(history_path()).add("from last time")
    app = make_app(project)
    async with app.run_test() as pilot:
        await started(pilot)
        await pilot.press("up")
        assert prompt_of(app).text == "from last time"


async def test_up_inside_a_multi_line_prompt_moves_the_cursor(project: Path) -> None:
    """On the second line Up moves to the first line; the text stays."""
    PromptHistory(history_path()).add("old")
    app = make_app(project)
    async with app.run_test() as pilot:
        await started(pilot)
        await pilot.press("a", "ctrl+j", "b", "up")
        assert (prompt_of(app).text, prompt_of(app).cursor_location[0]) == ("a\nb", 0)


async def test_ctrl_z_with_text_undoes_typing_not_the_turn(project: Path) -> None:
    """With text in the prompt Ctrl+Z undoes the typing; on an empty prompt, the turn."""
    app = make_app(project, [WRITE_HELLO, "Wrote it."])
    async with app.run_test() as pilot:
        await started(pilot)
        await pilot.press(*"write", "enter")
        await settle(pilot)
        await pilot.press(*"oops", "ctrl+z")
        assert prompt_of(app).text == ""
        assert app.main.session.workspace.changes() == [("hello.py", "added")]
        await pilot.press("ctrl+z")
        assert app.main.session.workspace.changes() == []


@pytest.mark.parametrize(
    ("keys", "expected"),
    [
        (["ctrl+a", "X"], "Xab cd"),
        (["ctrl+a", "ctrl+e", "X"], "ab cdX"),
        (["ctrl+b", "X"], "ab cXd"),
        (["ctrl+a", "ctrl+f", "X"], "aXb cd"),
        (["ctrl+b", "ctrl+b", "ctrl+k"], "ab "),
        (["ctrl+b", "ctrl+u"], "d"),
        (["ctrl+w"], "ab "),
    ],
    ids=["ctrl+a", "ctrl+e", "ctrl+b", "ctrl+f", "ctrl+k", "ctrl+u", "ctrl+w"],
)
async def test_readline_keys_edit_the_prompt(project: Path, keys: list[str], expected: str) -> None:
    """Ctrl+A/E/B/F/K/U/W move and delete as in readline; no pane toggles."""
    app = make_app(project)
    async with app.run_test() as pilot:
        await started(pilot)
        await pilot.press(*"ab", "space", *"cd", *keys)
        assert prompt_of(app).text == expected
        assert (app.main.query_one("#sidebar").display, app.main.events_pane.display) == (
            True,
            False,
        )


async def test_interrupt_without_queued_messages_says_only_interrupted(project: Path) -> None:
    """Esc with nothing queued does not claim that queued messages came back."""
    held = Step(text="never", gate=threading.Event())
    app = make_app(project, [held])
    async with app.run_test() as pilot:
        await started(pilot)
        await pilot.press(*"work", "enter")
        await reached(held)
        await pilot.press("escape")
        await settle(pilot)
        assert [t for t in notices(app) if "Interrupted" in t] == ["Interrupted."]


async def test_continue_removes_the_continue_button(project: Path) -> None:
    """After Continue is pressed the button is gone (the notice stays)."""
    app = make_app(project, [WRITE_HELLO, "Done."], max_turns=1)
    async with app.run_test() as pilot:
        await started(pilot)
        await pilot.press(*"go", "enter")
        await settle(pilot)
        assert len(app.main.conversation.query(Button)) == 1
        await pilot.press(*"/continue", "enter")
        await settle(pilot)
        assert len(app.main.conversation.query(Button)) == 0
        assert len(app.main.conversation.query("TurnLimitNotice")) == 1


async def test_new_resets_the_round_counter(project: Path) -> None:
    """/new starts again at round 0."""
    app = make_app(project, [WRITE_HELLO, "Done."])
    async with app.run_test() as pilot:
        await started(pilot)
        await pilot.press(*"go", "enter")
        await settle(pilot)
        assert app.main.query_one(StatusBar).round > 0
        await pilot.press(*"/new", "enter")
        await pilot.pause()
        assert app.main.query_one(StatusBar).round == 0


async def test_a_prompt_from_the_command_line_is_sent(project: Path) -> None:
    """`tiller "fix the bug"` sends it once the session is up."""
    app = make_app(project, ["On it."], prompt="fix the bug")
    async with app.run_test() as pilot:
        await started(pilot)
        await settle(pilot)
        assert [m.text for m in app.main.conversation.query(UserMessage)] == ["fix the bug"]
        assert model_of(app).requests[0].messages[-1] == {"role": "user", "content": "fix the bug"}


async def test_a_theme_picked_in_the_app_is_remembered(project: Path, tmp_path: Path) -> None:
    """Changing the theme writes it to the config file the next start reads."""
    config = tmp_path / "config.toml"
    config.write_text('model = "openai/x"\n\n[limits]\ncompact_ratio = 0.5\n')
    app = make_app(project, theme_file=config)
    async with app.run_test() as pilot:
        await started(pilot)
        app.theme = "nord"
        await pilot.pause()
    assert config.read_text() == (
        'theme = "nord"\nmodel = "openai/x"\n\n[limits]\ncompact_ratio = 0.5\n'
    )


async def test_enter_on_a_path_menu_takes_the_path(project: Path) -> None:
    """`@src/ca` + Enter completes the path instead of sending half a name."""
    app = make_app(project)
    async with app.run_test() as pilot:
        await started(pilot)
        await pilot.press(*"@src/ca", "enter")
        assert (prompt_of(app).text, model_of(app).requests) == ("@src/calc.py ", [])


async def test_enter_after_a_complete_path_sends(project: Path) -> None:
    """`/diff src/calc.py` + Enter runs the command even though the path menu is open."""
    app = make_app(project, [WRITE_HELLO, "Wrote it."])
    async with app.run_test() as pilot:
        await started(pilot)
        await pilot.press(*"write", "enter")
        await settle(pilot)
        await pilot.press(*"/diff hello.py", "enter")
        assert prompt_of(app).text == ""
        assert app.main.query_one(DiffView).path == "hello.py"


async def test_tab_in_a_burst_completes_what_was_typed(project: Path) -> None:
    """`@READ` and Tab in one burst complete `@README.md` (the menu keeps up with the text)."""
    app = make_app(project)
    async with app.run_test() as pilot:
        await started(pilot)
        burst(app, "at", "R", "E", "A", "D", "tab")
        await until(pilot, lambda: prompt_of(app).text == "@README.md ")


async def test_up_walks_past_a_recalled_command(project: Path) -> None:
    """A recalled `/diff` opens no menu, so the next Up goes further back."""
    history = PromptHistory(history_path())
    history.add("older prompt")
    history.add("/diff")
    app = make_app(project)
    async with app.run_test() as pilot:
        await started(pilot)
        await pilot.press("up")
        assert (prompt_of(app).text, prompt_of(app).menu.is_open) == ("/diff", False)
        await pilot.press("up")
        assert prompt_of(app).text == "older prompt"


async def test_hiding_the_focused_sidebar_returns_to_the_prompt(project: Path) -> None:
    """F2 while the tree has the focus hides it and puts the focus in the prompt."""
    app = make_app(project)
    async with app.run_test() as pilot:
        await started(pilot)
        await pilot.click(WorkspaceTree)
        await pilot.press("f2")
        assert (app.main.query_one("#sidebar").display, app.focused) == (False, prompt_of(app))


async def test_a_maximised_pane_keeps_its_keys(project: Path) -> None:
    """With the diff maximised the prompt is hidden: `s` is the diff's, nothing is typed."""
    app = make_app(project)
    async with app.run_test() as pilot:
        await started(pilot)
        await pilot.click(DiffView)
        app.main.maximized = app.main.query_one(DiffView)  # as review mode does
        await pilot.press("s", "x")
        assert (app.main.query_one(DiffView).split, prompt_of(app).text) == (True, "")


async def test_the_footer_keeps_help_at_80_columns_while_running(project: Path) -> None:
    """At 80 columns during a run the footer still ends with F1 Help (Flush/Export step aside)."""
    gate = threading.Event()
    first = Step(tool_calls=[("write_file", {"file_path": "a.txt", "content": "a"})], gate=gate)
    app = make_app(project, [WRITE_HELLO, "Wrote it.", first, "ok"])
    async with app.run_test(size=(80, 24)) as pilot:
        await started(pilot)
        await pilot.press(*"one", "enter")
        await settle(pilot)
        await pilot.press(*"two", "enter")
        await reached(first)
        await pilot.press("x")  # Queue shows once there is text to queue
        footer = screen_text(app).splitlines()[-1]
        assert ("Steer" in footer, "Queue" in footer, "Help" in footer) == (True, True, True)
        gate.set()
        await settle(pilot)


async def test_ctrl_x_still_exports_while_running(project: Path) -> None:
    """Export is out of the footer during a run, but Ctrl+X still writes the patch."""
    gate = threading.Event()
    first = Step(tool_calls=[("write_file", {"file_path": "a.txt", "content": "a"})], gate=gate)
    app = make_app(project, [WRITE_HELLO, "Wrote it.", first, "ok"])
    async with app.run_test() as pilot:
        await started(pilot)
        await pilot.press(*"one", "enter")
        await settle(pilot)
        await pilot.press(*"two", "enter")
        await reached(first)
        await pilot.press("ctrl+x")
        await until(pilot, lambda: any("Exported" in text for text in notices(app)))
        gate.set()
        await settle(pilot)


async def test_the_configured_theme_is_not_written_back(project: Path, tmp_path: Path) -> None:
    """Starting with a theme from the config leaves the config file alone."""
    config = tmp_path / "config.toml"
    app = make_app(project, theme="nord", theme_file=config)
    async with app.run_test() as pilot:
        await started(pilot)
        assert app.theme == "nord"
    assert not config.exists()
