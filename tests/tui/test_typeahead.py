"""Keys typed before the TUI takes the terminal (`tiller.tui.typeahead`), on a real pty."""

from __future__ import annotations

import os
import pty
import select
import termios
from collections.abc import Iterator

import pytest

from tiller.tui.typeahead import keys_of, take_typeahead


@pytest.fixture
def terminal() -> Iterator[tuple[int, int]]:
    """(the keyboard side, the program side) of a pty in its cooked mode."""
    keyboard, program = pty.openpty()
    try:
        yield keyboard, program
    finally:
        os.close(keyboard)
        os.close(program)


class Stream:
    """The program's stdin: only `fileno` is used."""

    def __init__(self, fd: int) -> None:
        self.fd = fd

    def fileno(self) -> int:
        return self.fd


def test_enter_typed_before_the_ui_is_enter(terminal: tuple[int, int]) -> None:
    """`hi` + Enter typed early comes back as h, i, Enter (the tty had made it a newline)."""
    keyboard, program = terminal
    os.write(keyboard, b"hi\r")
    # The line reaches the program's side asynchronously: readable once it is there.
    assert select.select([program], [], [], 10)[0] == [program]
    typed, restore = take_typeahead(Stream(program))  # type: ignore[arg-type]
    restore()
    assert typed == "hi\n"
    assert [(k.key, k.character) for k in keys_of(typed)] == [
        ("h", "h"),
        ("i", "i"),
        ("enter", "\r"),
    ]


def test_the_terminal_is_put_back(terminal: tuple[int, int]) -> None:
    """After `restore` the terminal has its cooked mode again."""
    _, program = terminal
    before = termios.tcgetattr(program)
    _, restore = take_typeahead(Stream(program))  # type: ignore[arg-type]
    assert termios.tcgetattr(program)[3] & termios.ICANON == 0
    restore()
    assert termios.tcgetattr(program) == before


def test_nothing_typed_is_nothing(terminal: tuple[int, int]) -> None:
    """No keys waiting: nothing to replay."""
    _, program = terminal
    typed, restore = take_typeahead(Stream(program))  # type: ignore[arg-type]
    restore()
    assert typed == ""


def test_not_a_terminal_is_left_alone(tmp_path) -> None:
    """A file for stdin: nothing taken, nothing to restore."""
    with (tmp_path / "in").open("w+") as stream:
        assert take_typeahead(stream)[0] == ""


def test_control_sequences_are_dropped() -> None:
    """An arrow key's escape sequence typed early is not typed as text."""
    assert [k.key for k in keys_of("a\x1b[Ab\x1bOP\x7f")] == ["a", "b", "backspace"]
