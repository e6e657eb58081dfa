"""One file's diff in review mode: lines wrapped, one widget per hunk to jump between."""

from __future__ import annotations

from rich.console import RenderableType
from rich.text import Text
from textual.containers import VerticalScroll
from textual.widgets import Static

from tiller.tui.diff_render import (
    FileDiff,
    Palette,
    clip,
    clipped_note,
    highlight,
    render_hunk_split,
    render_hunk_unified,
)


class ReviewDiff(VerticalScroll, can_focus=True):
    """A file's hunks, unified or side by side, long lines wrapped instead of cut."""

    DEFAULT_CSS = """
    ReviewDiff > Static { width: 1fr; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.hunks: list[Static] = []
        self.hunk_index = -1

    def show(
        self,
        header: RenderableType,
        diff: FileDiff | None,
        palette: Palette,
        *,
        split: bool,
        empty: str = "",
    ) -> None:
        """Replace what is shown: `header`, then each hunk of `diff` (or `empty`)."""
        self.remove_children()
        widgets: list[Static] = [Static(header, classes="review-header")]
        self.hunks = []
        if diff is None or diff.binary or not diff.hunks:
            note = "binary file" if diff is not None and diff.binary else empty
            widgets.append(Static(Text(note, style="dim"), classes="review-note"))
        else:
            diff, left_out = clip(diff)
            highlighted = highlight(diff, palette)
            render = render_hunk_split if split else render_hunk_unified
            self.hunks = [
                Static(render(diff, hunk, highlighted, palette, wrap=True), classes="hunk")
                for hunk in diff.hunks
            ]
            widgets += self.hunks
            if left_out:
                widgets.append(Static(clipped_note(left_out), classes="review-note"))
        self.hunk_index = -1
        self.mount_all(widgets)
        self.scroll_home(animate=False)

    def jump(self, step: int) -> bool:
        """Scroll to the next (`step` 1) or previous (-1) hunk; False when there is none."""
        target = self.hunk_index + step
        if not self.hunks or not 0 <= target < len(self.hunks):
            return False
        if 0 <= self.hunk_index < len(self.hunks):
            self.hunks[self.hunk_index].remove_class("-current")
        self.hunk_index = target
        hunk = self.hunks[target]
        hunk.add_class("-current")
        self.scroll_to_widget(hunk, top=True, animate=False)
        return True

    def jump_to_last(self) -> None:
        """Make the last hunk current (coming back from the next file)."""
        self.hunk_index = len(self.hunks)
        self.jump(-1)
