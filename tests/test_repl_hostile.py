"""Hostile text in `tiller chat`: model text, output, names, commands never drive the terminal."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import pytest
from rich.console import Console
from rich.text import Text

from test_repl import Driver, running
from tiller import Session
from tiller.events import Event, EventKind
from tiller.repl_approvals import describe_request
from tiller.repl_output import LINE_CHARS, DropControls, EventPrinter
from tiller.terminal_text import MAX_COMMAND_CHARS
from tiller.testing.scripted import ScriptedModel, call

OSC_TITLE = "\x1b]0;PWNED\x07"
OSC_CLIPBOARD = "\x1b]52;c;cm0gLXJmIH4=\x1b\\"


@pytest.fixture
def model() -> ScriptedModel:
    return ScriptedModel()


@pytest.fixture
def chat(model: ScriptedModel, tmp_path: Path) -> Iterator[Driver]:
    (tmp_path / "app.py").write_text("print('old')\n")
    with running(Session(model, root=tmp_path, skills_dirs=[])) as driver:
        yield driver


def test_model_text_prints_without_escape_sequences(chat: Driver, model: ScriptedModel) -> None:
    """An answer holding a clipboard write and a title change prints only its words."""
    model.add(f"copy{OSC_CLIPBOARD} this{OSC_TITLE} now")
    chat.line("hi")
    chat.wait_runs(1)
    assert ("copy this now" in chat.text, "\x1b" in chat.text) == (True, False)


def test_tool_row_shows_a_hostile_path_escaped(chat: Driver, model: ScriptedModel) -> None:
    """A written path holding an escape sequence is printed with it as `\\x1b`."""
    model.add(call("write_file", file_path=f"x{OSC_TITLE}.py", content="1\n"), "ok")
    chat.line("go")
    chat.wait_runs(1)
    assert "✓ write_file x\\x1b]0;PWNED\\x07.py" in chat.text


def test_diff_shows_escapes_in_file_content(chat: Driver, model: ScriptedModel) -> None:
    """/diff prints a written escape sequence as `\\x1b`, so the reviewer sees it."""
    model.add(call("write_file", file_path="app.py", content=f"print('{OSC_TITLE}')\n"), "ok")
    chat.line("go")
    chat.wait_runs(1)
    chat.line("/diff")
    expected = "+print('\\x1b]0;PWNED\\x07')"
    assert chat.repl.wait_until(lambda: expected in chat.text), chat.text


def test_approval_shows_the_command_behind_a_carriage_return() -> None:
    """`echo safe\\rrm -rf ~` is shown with its `\\r`, so the hidden half is read."""
    lines = describe_request({"command": "echo safe\rrm -rf ~"})
    assert lines[1] == "  $ echo safe\\x0drm -rf ~"


def test_approval_shows_each_line_of_a_multiline_command() -> None:
    """A command over two lines is shown as two lines, the second indented under the first."""
    lines = describe_request({"command": "cd src\nmake\x1b[2K"})
    assert lines[1:3] == ["  $ cd src", "    make\\x1b[2K"]


def test_render_hook_drops_controls_from_anything_printed() -> None:
    """Whatever a printout forgot, the REPL's console writes no ESC, C1 or bidi override."""
    out = io.StringIO()
    console = Console(file=out, width=80)
    console.push_render_hook(DropControls())
    console.print(Text(f"a{OSC_TITLE}b\x9b2J\u202ec"))
    assert out.getvalue() == "a]0;PWNEDb2Jc\n"


def test_a_huge_output_line_prints_cut_with_a_count() -> None:
    """One 5,000-character line of command output prints as its start and a count."""
    out = io.StringIO()
    printer = EventPrinter(Console(file=out, width=80_000))
    printer.show(
        Event(
            EventKind.TOOL_CALL_OUTPUT_DELTA, "s", data={"call_id": "c", "delta": "a" * 5000 + "\n"}
        )
    )
    assert out.getvalue() == f"│ {'a' * LINE_CHARS} … {5000 - LINE_CHARS:,} more characters\n"


def test_approval_of_a_huge_command_says_how_much_is_not_shown() -> None:
    """A 30,000-character command is shown up to the limit, then the rest is counted."""
    lines = describe_request({"command": "x" * (MAX_COMMAND_CHARS + 10_000)})
    assert lines[-1] == "  … 10,000 more characters of this command are not shown"
