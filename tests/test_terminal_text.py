"""The one sanitiser for text shown on a terminal: names read exactly, prose reads cleanly."""

from __future__ import annotations

import unicodedata

from hypothesis import given
from hypothesis import strategies as st
from rich.cells import cell_len

from tiller.completion import complete_prompt
from tiller.terminal_text import readable, unfinished_end, visible, without_controls
from tiller.workspace import Workspace

ATTACK = "a\x1b]0;title\x07b\x1b]52;c;ZXZpbA==\x1b\\c\x1b[2Jd\x9b31me\x1bPq#0\x1b\\f"


def test_visible_shows_each_control_as_an_escape() -> None:
    """A name's escape, C1, bell, line break and bidi override each show as an escape."""
    assert visible("x\x1b[1m\x9b\x07\n\u202e.py") == "x\\x1b[1m\\x9b\\x07\\x0a\\u202e.py"


def test_visible_shows_invisible_characters() -> None:
    """A zero-width space and a byte order mark in a name are shown, not hidden."""
    assert visible("a\u200bb\ufeff") == "a\\u200bb\\ufeff"


def test_visible_shows_non_utf8_bytes_as_hex() -> None:
    """A non-UTF-8 byte (a surrogate escape) shows as `\\xNN`, as the tools show it."""
    assert visible("caf\udce9.txt") == "caf\\xe9.txt"


def test_visible_keeps_plain_and_wide_text() -> None:
    """Accents, CJK and emoji are not controls."""
    assert visible("café 漢字 🎉.md") == "café 漢字 🎉.md"


def test_readable_drops_escape_sequences_whole() -> None:
    """OSC title and clipboard writes, CSI clears, C1 CSI and DCS leave nothing behind."""
    assert readable(ATTACK) == "abcdef"


def test_readable_drops_an_unterminated_osc_up_to_the_next_escape() -> None:
    """An OSC string without its terminator cannot swallow the text after the next escape."""
    assert readable("x\x1b]8;;http://evil\x1b[0my") == "xy"


def test_readable_turns_carriage_returns_into_line_breaks() -> None:
    """A `\\r` cannot paint over what came before it on the line."""
    assert readable("safe\rrm -rf ~\r\n") == "safe\nrm -rf ~\n"


def test_readable_escapes_backspace_and_bidi_overrides() -> None:
    """Backspaces and a right-to-left override show as escapes; tabs and newlines stay."""
    assert readable("a\bb\u202ec\td\n") == "a\\x08b\\u202ec\td\n"


def test_readable_keeps_emoji_joiners() -> None:
    """A zero-width joiner inside an emoji sequence is kept (prose needs it)."""
    assert readable("👩\u200d💻 done") == "👩\u200d💻 done"


@given(st.text())
def test_readable_output_holds_no_control_a_terminal_acts_on(text: str) -> None:
    """Whatever comes in, no ESC, C1 control, CR, backspace or bidi override comes out."""
    shown = readable(text).replace("\n", "").replace("\t", "")
    assert without_controls(shown) == shown


@given(st.text())
def test_visible_output_has_no_control_or_invisible_character(text: str) -> None:
    """Whatever comes in, `visible` gives text with no control, format or separator character."""
    categories = {unicodedata.category(c) for c in visible(text)}
    assert categories & {"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"} == set()


def test_without_controls_keeps_the_cell_width() -> None:
    """Dropping the controls leaves the text as wide as it was drawn."""
    text = "漢\x1b[2J\u202ex\x9b"
    assert cell_len(without_controls(text)) == cell_len(text)


def test_completion_shows_a_hostile_name_escaped() -> None:
    """An `@` completion of a file named with an escape sequence displays it escaped."""
    workspace = Workspace(files={"a\x1b]0;t\x07.py": "x\n"})
    [candidate] = complete_prompt("@a", workspace).candidates
    assert candidate.display == "a\\x1b]0;t\\x07.py"


def test_unfinished_end_holds_back_a_cut_escape_sequence() -> None:
    """A chunk ending inside an OSC string is cut before the ESC; a finished one is not held."""
    assert (unfinished_end("ab\x1b]0;PW"), unfinished_end("ab\x1b]0;x\x07cd")) == (2, 10)
