"""Hostile text on the TUI's screens: names, output and model text are shown, never obeyed.

File names, file contents, command output and the model's text come from places
an attacker can write to. Escape sequences in them must not reach the terminal,
names and commands must read exactly as they are (controls shown as escapes),
and brackets in them must never become Textual markup (`[@click=...]` is an action).
"""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
from rich.console import Console
from rich.segment import ControlType, Segment
from textual.color import Color
from textual.content import Content
from textual.widgets import Static
from tui_helpers import make_app, notices, screen_text, settle, started, until

from tiller.config import SessionConfig
from tiller.terminal_text import MAX_COMMAND_CHARS
from tiller.testing.clock import ManualClock
from tiller.testing.scripted import call
from tiller.tui.command_view import command_view
from tiller.tui.control_filter import ControlFilter
from tiller.tui.conversation import MAX_DRAWN_CHARS, MAX_DRAWN_LINES, Thinking
from tiller.tui.diff_render import MAX_LINE_CHARS, highlight, parse_diff
from tiller.tui.diff_view import DiffView
from tiller.tui.markup import escape
from tiller.tui.screens.approval import ApprovalScreen
from tiller.tui.tool_call import MAX_LINE_CHARS as OUTPUT_LINE_CHARS
from tiller.tui.tool_call import shown_output
from tiller.tui.workspace_tree import MAX_LISTED, WorkspaceTree
from tiller.workspace import Workspace

pytestmark = pytest.mark.anyio

OSC_TITLE = "\x1b]0;PWNED\x07"
OSC_CLIPBOARD = "\x1b]52;c;cm0gLXJmIH4=\x1b\\"
CLEAR = "\x1b[2J"
C1_CSI = "\x9b31m"
ATTACK = OSC_TITLE + OSC_CLIPBOARD + CLEAR + C1_CSI
_TERMINAL_CONTROL = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def controls_on(app: object) -> list[str]:
    """The terminal controls anywhere on the screen as drawn."""
    return _TERMINAL_CONTROL.findall(screen_text(app))  # type: ignore[arg-type]


async def run(pilot, text: str = "go") -> None:
    await started(pilot)
    await pilot.press(*text, "enter")
    await settle(pilot)


def test_control_filter_drops_controls_and_keeps_width() -> None:
    """The app's last filter drops ESC, C1 and bidi overrides from drawn text, nothing else."""
    segments = [
        Segment("a\x1b]0;x\x07b\x9b\u202e漢"),
        Segment("\x1b[H", None, [(ControlType.HOME,)]),
    ]
    out = ControlFilter().apply(segments, Color(0, 0, 0))
    assert [s.text for s in out] == ["a]0;xb漢", "\x1b[H"]


@pytest.mark.parametrize(
    "text", ["[@click=app.quit]q[/]", "ends in \\", "[$accent]x", "\\[b]x", "[[b]]"]
)
def test_markup_escape_renders_the_text_itself(text: str) -> None:
    """Escaped text inside markup renders as exactly itself, with no style or action."""
    content = Content.from_markup(f"[dim]{escape(text)}[/dim]")
    assert (content.plain.replace("\u200b", ""), len(content.spans)) == (text, 1)


async def test_an_escape_in_any_widget_never_reaches_the_screen(project: Path) -> None:
    """A widget that shows raw text with escapes still draws none of them."""
    app = make_app(project)
    async with app.run_test(size=(100, 30)) as pilot:
        await started(pilot)
        await app.main.conversation.mount(Static("x" + ATTACK + "y", markup=False))
        await pilot.pause()
        assert controls_on(app) == []


async def test_a_hostile_file_name_shows_escaped_in_the_tree(project: Path) -> None:
    """A file named with a title-setting OSC and a bidi override reads as escapes in the tree."""
    (project / f"evil{OSC_TITLE}\u202etxt.py").write_text("x = 1\n")
    app = make_app(project)
    async with app.run_test(size=(140, 30)) as pilot:
        await started(pilot)
        assert "evil\\x1b]0;PWNED\\x07\\u202etxt.py" in screen_text(app)


async def test_streamed_model_text_loses_its_escape_sequences(project: Path) -> None:
    """The model's text with a clipboard write and a screen clear shows only its words."""
    app = make_app(project, [f"copy{OSC_CLIPBOARD} this{CLEAR} now"])
    async with app.run_test(size=(100, 30)) as pilot:
        await run(pilot)
        assert ("copy this now" in screen_text(app), controls_on(app)) == (True, [])


async def test_command_output_loses_its_escape_sequences(project: Path) -> None:
    """A command that prints a title change and a clear shows its text, no sequence."""
    command = "printf 'a\\033]0;PWNED\\007b\\033[2Jc\\r\\n'"
    config = SessionConfig(shell=True, shell_approval="allow")
    app = make_app(project, [call("shell", command=command), "done"], config=config)
    async with app.run_test(size=(100, 30)) as pilot:
        await run(pilot)
        assert ("abc" in screen_text(app), controls_on(app)) == (True, [])


async def test_approval_shows_a_carriage_return_in_the_command(project: Path) -> None:
    """A command hiding `rm` behind `\\r` and a bidi override is shown with both as escapes."""
    command = "echo safe\rrm -rf ~ #\u202e"
    app = make_app(
        project, [call("shell", command=command), "ok"], config=SessionConfig(shell=True)
    )
    async with app.run_test(size=(120, 40)) as pilot:
        await started(pilot)
        app.main.approvals.clock = ManualClock()
        await pilot.press(*"go", "enter")
        await until(pilot, lambda: isinstance(app.screen, ApprovalScreen) and app.screen.is_mounted)
        await pilot.pause()
        assert "echo safe\\x0drm -rf ~ #\\u202e" in screen_text(app)


async def test_tool_title_shows_what_follows_a_carriage_return(project: Path) -> None:
    """A write_file path holding `\\r` is titled whole, not cut at the `\\r`."""
    step = call("write_file", file_path="ok.txt\rreal.sh", content="x\n")
    app = make_app(project, [step, "done"])
    async with app.run_test(size=(120, 30)) as pilot:
        await run(pilot)
        assert "write_file ok.txt\\x0dreal.sh" in screen_text(app)


async def test_diff_shows_the_text_after_a_form_feed(project: Path) -> None:
    """A changed line holding a form feed is drawn whole: the rest is not dropped."""
    step = call("write_file", file_path="ff.py", content="a = 1\x0cimport os\n")
    app = make_app(project, [step, "done"])
    async with app.run_test(size=(140, 40)) as pilot:
        await run(pilot)
        app.main.query_one(DiffView).refresh_diff()
        await pilot.pause()
        assert screen_text(app).count("a = 1\\x0cimport os") == 2


async def test_diff_title_names_a_non_ascii_file_as_it_is(project: Path) -> None:
    """A new `café.py` is titled `café.py` in the diff, not git's quoted octal bytes."""
    app = make_app(project, [call("write_file", file_path="café.py", content="x\n"), "done"])
    async with app.run_test(size=(140, 40)) as pilot:
        await run(pilot)
        assert "café.py  +1 -0" in screen_text(app)


async def test_a_markup_action_in_the_root_path_is_shown_not_made_clickable(
    tmp_path: Path,
) -> None:
    """A workspace directory named `[@click=app.quit]x` appears literally in the welcome."""
    root = tmp_path / "[@click=app.quit]x"
    root.mkdir()
    (root / "a.txt").write_text("a\n")
    app = make_app(root)
    async with app.run_test(size=(160, 30)) as pilot:
        await started(pilot)
        assert "[@click=app.quit]x" in screen_text(app)


def test_a_ten_megabyte_line_is_drawn_cut_with_a_count() -> None:
    """A minified 10 MB line is drawn as its first characters and how many more there are."""
    workspace = Workspace(files={})
    workspace.write("big.js", "x" * 10_000_000 + "\n")
    [diff] = parse_diff(workspace.diff())
    [drawn] = highlight(diff).values()
    assert (
        drawn.plain == "x" * MAX_LINE_CHARS + f" … {10_000_000 - MAX_LINE_CHARS:,} more characters"
    )


def test_a_huge_output_line_is_drawn_cut_with_a_count() -> None:
    """One 50,000-character line of output is cut, and the cut is said."""
    assert shown_output("ok\n" + "a" * 50_000).split("\n")[1] == (
        "a" * OUTPUT_LINE_CHARS + f" … {50_000 - OUTPUT_LINE_CHARS:,} more characters"
    )


async def test_a_huge_directory_lists_its_first_entries_changes_and_a_count(
    tmp_path: Path,
) -> None:
    """Past MAX_LISTED entries the tree lists the first ones, every change, and `… N more`."""
    root = tmp_path / "big"
    root.mkdir()
    for index in range(MAX_LISTED + 5):
        (root / f"f{index:05}.txt").write_text("")
    app = make_app(root, [call("write_file", file_path="zz.txt", content="z\n"), "done"])
    async with app.run_test(size=(100, 30)) as pilot:
        await run(pilot)
        labels = [str(node.label) for node in app.main.query_one(WorkspaceTree).root.children]
        assert (len(labels), labels[-2:]) == (MAX_LISTED + 2, ["zz.txt A", "… 5 more not listed"])


def test_a_huge_command_is_drawn_cut_with_a_count() -> None:
    """A 100,000-character command shows its first part and says how much is not shown."""
    console = Console(width=80, file=io.StringIO())
    view = command_view("rm -f " + "a" * 100_000)
    with console.capture() as captured:
        console.print(view)
    more = 100_006 - MAX_COMMAND_CHARS
    assert captured.get().endswith(f"… {more:,} more characters of this command are not shown\n")


async def test_an_escape_sequence_cut_between_stream_chunks_leaves_nothing(
    project: Path,
) -> None:
    """A title-setting OSC split across two drawn chunks shows neither half."""
    app = make_app(project)
    async with app.run_test(size=(100, 30)) as pilot:
        await started(pilot)
        conversation = app.main.conversation
        await conversation.append_assistant("copy\x1b]0;PW")
        await until(pilot, lambda: "copy" in screen_text(app))
        await conversation.append_assistant("NED\x07 this")
        await conversation.end_assistant()
        await pilot.pause()
        assert ("copy this" in screen_text(app), "NED" in screen_text(app)) == (True, False)


async def test_a_long_answer_draws_its_first_lines_and_counts_the_rest(project: Path) -> None:
    """An answer past MAX_DRAWN_LINES is drawn up to there, then a notice counts the rest."""
    lines = [f"l{n}\n" for n in range(MAX_DRAWN_LINES + 500)]
    drawn = "".join(lines[:MAX_DRAWN_LINES]) + lines[MAX_DRAWN_LINES].rstrip("\n")
    hidden = len("".join(lines)) - len(drawn)
    app = make_app(project, ["".join(lines)])
    async with app.run_test(size=(100, 30)) as pilot:
        await run(pilot)
        assert notices(app)[-1].startswith(f"… {hidden:,} more characters of this answer")


def test_long_thinking_draws_its_newest_part_and_counts_the_rest() -> None:
    """Thinking past MAX_DRAWN_CHARS shows its newest characters and how many came before."""
    thinking = Thinking()
    thinking.add("a" * 10 + "b" * MAX_DRAWN_CHARS)
    assert str(thinking.render()) == f"… 10 earlier characters not drawn\n{'b' * MAX_DRAWN_CHARS}"
