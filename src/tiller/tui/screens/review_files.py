"""Review mode's list of changed files: one line each, only the visible lines drawn.

An `OptionList` lays out every option on each rebuild, and one `Static` holding
every line renders them all for its height; with two hundred changed files
either took a noticeable part of opening review mode. A `ScrollView` draws the
lines on screen and nothing else.
"""

from __future__ import annotations

from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual import events
from textual.geometry import Region, Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

CURSOR = Style(reverse=True)


class FileList(ScrollView, can_focus=False):
    """Labels one per line; `highlighted` is the current one (None when empty)."""

    class Highlighted(Message):
        """The person clicked a file; `index` is its line."""

        def __init__(self, index: int) -> None:
            self.index = index
            super().__init__()

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.labels: list[Text] = []
        self.highlighted: int | None = None

    def set_labels(self, labels: list[Text], highlighted: int | None) -> None:
        """Show `labels`, the cursor on `highlighted`."""
        self.labels = labels
        self.virtual_size = Size(0, len(labels))
        self.highlight(highlighted)

    def highlight(self, index: int | None) -> None:
        """Move the cursor to line `index` (None: no cursor) and keep it in view."""
        if index is not None and not 0 <= index < len(self.labels):
            index = None
        self.highlighted = index
        self.refresh()
        if index is not None:
            self.scroll_to_region(Region(0, index, 1, 1), animate=False, immediate=True)

    def render_line(self, y: int) -> Strip:
        index = y + self.scroll_offset.y
        width = self.size.width
        base = self.rich_style
        if not 0 <= index < len(self.labels):
            return Strip.blank(width, base)
        extra = CURSOR if index == self.highlighted else Style()
        label = self.labels[index]
        if len(label) > width > 4:
            # Keep the marker and the end of the path (the file name), not its start.
            label = label[:2] + Text("…") + label[len(label) - (width - 3) :]
        segments = [
            Segment(text, base + style + extra if style else base + extra)
            for text, style, _ in label.render(self.app.console)
        ]
        return Strip(segments).crop_extend(0, width, base + extra)

    def on_click(self, event: events.Click) -> None:
        offset = event.get_content_offset(self)
        if offset is None:
            return
        index = offset.y + self.scroll_offset.y
        if 0 <= index < len(self.labels):
            self.post_message(self.Highlighted(index))
