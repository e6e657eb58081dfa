"""A shell command as the person reads it, in its row and in the approval dialog.

The command shows as it will run: escapes, `\\r` and bidi overrides as escapes
(`terminal_text.visible`). Highlighting is for commands a person reads at a
glance: a long one is drawn plain (Rich's bash highlighting with wrapping took
over a second for 60,000 characters, freezing the UI), and past
`MAX_COMMAND_CHARS` it is cut with the rest counted, so nobody mistakes the part
for the whole.
"""

from __future__ import annotations

from rich.console import Group, RenderableType
from rich.syntax import Syntax
from rich.text import Text

from tiller.terminal_text import visible

MAX_COMMAND_CHARS = 20_000
"""Characters of a command drawn; the rest is counted."""
HIGHLIGHT_CHARS = 2_000
"""Longer commands are drawn without colours."""


def command_view(command: str) -> RenderableType:
    """`command` drawn: highlighted when short, plain when long, cut with a count when huge."""
    shown = visible(command, keep="\n\t") or "(empty)"
    if len(shown) <= HIGHLIGHT_CHARS:
        return Syntax(shown, "bash", theme="ansi_dark", word_wrap=True)
    if len(shown) <= MAX_COMMAND_CHARS:
        return Text(shown)
    more = len(shown) - MAX_COMMAND_CHARS
    note = Text(f"… {more:,} more characters of this command are not shown", style="bold")
    return Group(Text(shown[:MAX_COMMAND_CHARS]), note)
