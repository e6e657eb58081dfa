"""The TUI's last line of defence: no terminal control in any line Textual draws.

Textual writes a widget's text to the terminal as it is; an escape sequence in a
file name, a command's output or the model's text would reach the terminal
(set its title, write the clipboard, clear the screen). Widgets show such text
through `tiller.terminal_text` already; this filter catches whatever a widget
missed. The characters it drops are zero cells wide, so no line changes width.
"""

from __future__ import annotations

from rich.segment import Segment
from textual.color import Color
from textual.filter import LineFilter

from tiller.terminal_text import has_controls, without_controls


class ControlFilter(LineFilter):
    """Drops C0/C1 controls and bidi reordering characters from drawn text."""

    def apply(self, segments: list[Segment], background: Color) -> list[Segment]:
        if not any(has_controls(segment.text) for segment in segments if not segment.control):
            return segments
        return [
            segment
            if segment.control or not has_controls(segment.text)
            else Segment(without_controls(segment.text), segment.style)
            for segment in segments
        ]
