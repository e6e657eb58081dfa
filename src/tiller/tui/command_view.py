"""A shell command as the person reads it, in its row and in the approval dialog.

The command shows as it will run: escapes, `\\r` and bidi overrides as escapes
(`terminal_text.visible`). Highlighting is for commands a person reads at a
glance: a long one is drawn plain (Rich's bash highlighting with wrapping took
over a second for 60,000 characters, freezing the UI), and past
`terminal_text.MAX_COMMAND_CHARS` it is cut with the rest counted, so nobody mistakes the part
for the whole.
"""

from __future__ import annotations

from rich.console import Group, RenderableType
from rich.syntax import Syntax
from rich.text import Text

from tiller.terminal_text import shown_command

HIGHLIGHT_CHARS = 2_000
"""Longer commands are drawn without colours."""


def command_view(command: str) -> RenderableType:
    """`command` drawn: highlighted when short, plain when long, cut with a count when huge."""
    shown, more = shown_command(command)
    if not more and len(shown) <= HIGHLIGHT_CHARS:
        return Syntax(shown or "(empty)", "bash", theme="ansi_dark", word_wrap=True)
    if not more:
        return Text(shown)
    note = Text(f"… {more:,} more characters of this command are not shown", style="bold")
    return Group(Text(shown), note)
