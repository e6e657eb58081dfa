"""The diff of the selected file (or of every change), unified or side by side."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from rich.console import Group, RenderableType
from rich.syntax import Syntax
from rich.text import Text
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.reactive import reactive
from textual.widgets import Static

from tiller.terminal_text import visible
from tiller.tui.diff_render import (
    Palette,
    clip,
    clipped_note,
    file_title,
    palette_for,
    parse_diff,
    render_split,
    render_unified,
    shown_line,
)
from tiller.tui.markup import escape

if TYPE_CHECKING:
    from tiller.workspace import Workspace

MAX_PREVIEW_LINES = 2000
MAX_ALL_LINES = 600
"""The "all changes" view stops after the file that passes this many diff lines (F4 shows all)."""


class DiffView(VerticalScroll):
    """Shows what changed in one file, or in the whole workspace (`path` None).

    An unchanged file shows its content, so the tree doubles as a file browser.
    """

    DEFAULT_CSS = """
    DiffView { height: 1fr; }
    DiffView > Static { width: 1fr; }
    """

    BINDINGS: ClassVar[list[BindingType]] = [Binding("s", "toggle_split", "Split/unified")]

    split: reactive[bool] = reactive(False)
    """Side by side instead of unified."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, can_focus=True)
        self.workspace: Workspace | None = None
        self.path: str | None = None
        self.showing_all = False
        self._body = Static("", id="diff-body")

    def compose(self):
        yield self._body

    def on_mount(self) -> None:
        self._body.update(Text("Select a file in the tree to see its diff.", style="dim"))
        self.watch(self.app, "theme", lambda: self.refresh_diff(), init=False)

    @property
    def palette(self) -> Palette:
        """The diff colours for the app's current theme."""
        return palette_for(self.app.current_theme)

    def show(self, workspace: Workspace, path: str | None) -> None:
        """Show `path`'s diff (None: every change)."""
        self.workspace = workspace
        self.path = path
        self.showing_all = path is None
        self.refresh_diff()

    def watch_split(self) -> None:
        self.refresh_diff()

    def action_toggle_split(self) -> None:
        self.split = not self.split

    def refresh_diff(self) -> None:
        """Re-read the diff (after the workspace changed)."""
        if self.workspace is None:
            return
        self._body.update(self._renderable())
        self.border_title = "all changes" if self.showing_all else escape(visible(self.path or ""))

    def _renderable(self) -> RenderableType:
        assert self.workspace is not None
        try:
            text = self.workspace.diff(None if self.showing_all else self.path)
        except Exception as exc:
            return Text(str(exc), style="red")
        files = parse_diff(text)
        if not files:
            if self.showing_all:
                return Text(
                    "No changes yet: the workspace matches the disk.\n"
                    "Select a file in the tree to view it.",
                    style="dim",
                )
            return self._preview()
        palette = self.palette
        render = render_split if self.split else render_unified
        # Both names of a move: a disk edit under the old one is a conflict too.
        shown = None if self.showing_all else [p for d in files for p in (d.path, d.old_path) if p]
        on_disk = set(self.workspace.changed_on_disk(shown))
        parts: list[RenderableType] = []
        shown_lines = 0
        for index, diff in enumerate(files):
            if self.showing_all and shown_lines > MAX_ALL_LINES:
                rest = files[index:]
                added = sum(d.stats[0] for d in rest)
                removed = sum(d.stats[1] for d in rest)
                parts.append(
                    Text(
                        f"… and {len(rest)} more file(s), +{added} -{removed}: "
                        "select one in the tree, or F4 to review them all.",
                        style="dim",
                    )
                )
                break
            shown_lines += sum(len(hunk.lines) + 1 for hunk in diff.hunks)
            title = file_title(diff, palette)
            if diff.path in on_disk or diff.old_path in on_disk:
                title.append("  ! changed on disk", style=f"bold {palette.warning}")
            parts.append(title)
            if diff.binary:
                parts.append(Text("binary file", style="dim"))
                continue
            drawn, left_out = clip(diff)
            parts.append(render(drawn, palette))
            if left_out:
                parts.append(clipped_note(left_out))
        return Group(*parts)

    def _preview(self) -> RenderableType:
        """An unchanged file: its content, highlighted."""
        assert self.workspace is not None and self.path is not None
        try:
            content = self.workspace.read(self.path)
        except Exception as exc:
            return Text(str(exc), style="dim")
        lines = content.removesuffix("\n").split("\n")
        clipped = "\n".join(shown_line(line) for line in lines[:MAX_PREVIEW_LINES])
        note = Text(f"{visible(self.path)}  unchanged", style="dim")
        if len(lines) > MAX_PREVIEW_LINES:
            note.append(f" (first {MAX_PREVIEW_LINES} of {len(lines)} lines)")
        syntax = Syntax(
            clipped,
            Syntax.guess_lexer(self.path, clipped),
            theme=self.palette.syntax,
            line_numbers=True,
            background_color="default",
        )
        return Group(note, syntax)
