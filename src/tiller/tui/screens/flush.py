"""Ctrl+S / `/flush`: list the files (and any conflicts) before writing them to disk.

Review mode's per-file accept opens the same dialog for just that file's paths.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Static

from tiller.errors import FlushConflict, WorkspaceError
from tiller.terminal_text import readable, visible
from tiller.tui.diff_render import palette_for
from tiller.tui.markup import escape
from tiller.tui.workspace_tree import marker
from tiller.workspace.paths import is_under

if TYPE_CHECKING:
    from tiller.workspace import Workspace


class FlushScreen(ModalScreen[list[str] | None]):
    """Confirm a flush. Dismisses with the paths written, or None when nothing was."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, workspace: Workspace, paths: list[str] | None = None) -> None:
        super().__init__()
        self.workspace = workspace
        self.paths = paths
        # The rule `flush` itself follows: a path names itself and everything under it
        # (a deleted file's name may now be a directory of new files), so the list
        # shows every file the flush writes.
        self.changes = [
            (path, kind)
            for path, kind in workspace.changes()
            if paths is None or any(is_under(path, wanted) for wanted in paths)
        ]
        self.conflicts: list[str] = []

    def compose(self) -> ComposeResult:
        root = self.workspace.root
        with Vertical(id="dialog", classes="flush") as dialog:
            dialog.border_title = "Flush to disk"
            dialog.border_subtitle = "Esc cancels"
            yield Static(
                f"Write {len(self.changes)} change(s) to [b]{escape(visible(str(root)))}[/b]?"
                if self.changes
                else "Nothing to flush: the workspace matches the disk.",
                id="flush-summary",
            )
            palette = palette_for(self.app.current_theme)
            with VerticalScroll(id="flush-files"):
                for path, kind in self.changes:
                    letter, colour = marker(kind, palette)
                    yield Static(
                        f"[b {colour}]{letter}[/] {escape(visible(path))}", classes="flush-file"
                    )
            yield Static("", id="flush-conflicts")
            with Horizontal(classes="buttons"):
                yield Button("Flush", variant="primary", id="flush")
                yield Button("Overwrite all", variant="error", id="force")
                yield Button("Flush the others", variant="warning", id="others")
                yield Button("Cancel", id="cancel")

    def on_mount(self) -> None:
        try:
            self.conflicts = self.workspace.conflicts(self.paths)
        except WorkspaceError as exc:
            self._say(f"[b]Cannot flush:[/b] {escape(readable(str(exc)))}")
        self._show_conflicts()
        ready = bool(self.changes) and not self.conflicts
        self.query_one("#flush" if ready else "#cancel", Button).focus()

    def _show_conflicts(self) -> None:
        others = [path for path, _ in self.changes if path not in self.conflicts]
        if self.conflicts:
            listed = "\n".join(f"  ! {escape(visible(path))}" for path in self.conflicts)
            self._say(
                "[b]Changed on disk since Tiller read them[/b] (overwriting loses those edits):\n"
                + listed
            )
        self.query_one("#flush").display = bool(self.changes) and not self.conflicts
        self.query_one("#force").display = bool(self.conflicts)
        self.query_one("#others").display = bool(self.conflicts) and bool(others)

    def _say(self, text: str) -> None:
        note = self.query_one("#flush-conflicts", Static)
        note.update(text)
        note.add_class("-shown")

    def _write(self, paths: list[str] | None, force: bool | list[str]) -> None:
        try:
            written = self.workspace.flush(paths, force=force)
        except FlushConflict as exc:
            # The disk changed while the dialog was open (the error names only new conflicts
            # when some were already shown: keep those listed too).
            self.conflicts = sorted({*self.conflicts, *exc.conflicts})
            self._show_conflicts()
            self.query_one("#cancel", Button).focus()
            return
        except WorkspaceError as exc:
            self._say(f"[b]Flush failed:[/b] {escape(readable(str(exc)))}")
            return
        self.dismiss(written)

    @on(Button.Pressed, "#flush")
    def _flush_all(self) -> None:
        self._write(self.paths, force=False)

    @on(Button.Pressed, "#force")
    def _overwrite(self) -> None:
        # Only the conflicts shown: a file edited on disk while the dialog was open is refused.
        self._write(self.paths, force=list(self.conflicts))

    @on(Button.Pressed, "#others")
    def _flush_others(self) -> None:
        self._write([path for path, _ in self.changes if path not in self.conflicts], force=False)

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)
