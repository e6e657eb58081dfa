"""The main screen's key actions on the workspace and the panes (flush, export, undo, toggles).

A mixin so `main.py` stays about sessions and events; which keys the footer
shows follows `check_action`. Review mode and the sidebar's width have their
keys here (`PANE_BINDINGS`, spliced into the main screen's bindings).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar, cast

from textual.binding import Binding, BindingType

from tiller.terminal_text import visible
from tiller.tui.markup import escape

if TYPE_CHECKING:
    from textual.widget import Widget

    from tiller.chat import Chat, Notice
    from tiller.session import Session
    from tiller.tui.app import TillerApp
    from tiller.tui.conversation import Conversation
    from tiller.tui.screens.main import MainScreen


SIDEBAR_WIDTHS = (20, 25, 30, 38, 45, 50, 55, 60, 65, 70, 75)
"""The sidebar widths (percent of the screen) F8 / F9 step through; 38 is the default."""


class WorkspaceActions:
    """Actions bound on the main screen. Expects the attributes `MainScreen` defines."""

    PANE_BINDINGS: ClassVar[list[BindingType]] = [
        Binding("f4", "review", "Review"),
        Binding("f8", "sidebar_width(-1)", "Sidebar narrower", show=False),
        Binding("f9", "sidebar_width(1)", "Sidebar wider", show=False),
    ]
    """Function keys no text widget uses (TextArea takes F6 and F7, terminals F10 and F11)."""

    sidebar_width = 38
    """The sidebar's width in percent, kept for the whole session."""

    session: Session | None
    chat: Chat | None
    running: bool
    change_count: int
    tiller: TillerApp
    conversation: Conversation

    if TYPE_CHECKING:

        def query_one(self, selector: str) -> Widget: ...
        def notify(self, message: str, **kwargs: object) -> None: ...
        def refresh_bindings(self) -> None: ...
        def _schedule_refresh(self) -> None: ...
        def tell(self, notice: Notice) -> None: ...

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Show only the keys that matter now (False hides, None greys out)."""
        if action == "interrupt":
            return self.running
        if self.session is None:
            return action in ("toggle_sidebar", "toggle_events", "help")
        workspace = self.session.workspace
        if action in ("flush", "export"):
            if not self.change_count:
                return False
            return None if action == "flush" and self.running else True
        if action == "undo":
            return workspace.can_undo and not self.running
        if action == "redo":
            return workspace.can_redo and not self.running
        return True

    def _idle_or_say(self, what: str) -> bool:
        if self.running:
            self.notify(f"The agent is working; {what} after it stops (Esc interrupts).")
            return False
        if self.session is None:
            self.notify("The session is still starting.")
            return False
        return True

    def action_flush(self) -> None:
        """Ctrl+S: confirm, then write the changes to disk."""
        from tiller.tui.screens.flush import FlushScreen

        if not self._idle_or_say("flush") or self.session is None:
            return

        def done(written: list[str] | None) -> None:
            if written:
                listed = ", ".join(escape(visible(path)) for path in written[:8])
                more = f" and {len(written) - 8} more" if len(written) > 8 else ""
                self.conversation.add_notice(
                    f"Flushed {len(written)} file(s) to disk: {listed}{more}"
                )
            self._schedule_refresh()

        self.tiller.push_screen(FlushScreen(self.session.workspace), callback=done)

    def action_export(self, path: str = "") -> None:
        """Ctrl+X: write the patch (into Tiller's data dir), say where, and name stale files."""
        if self.chat is None or self.chat.current is None:
            return
        for notice in self.chat.export(path):
            self.tell(notice)

    def action_undo(self) -> None:
        """Ctrl+Z: put the workspace back as it was before the last turn; name the files."""
        if not self._idle_or_say("undo") or self.chat is None:
            return
        self.tell(self.chat.undo().notice)
        self._schedule_refresh()

    def action_redo(self) -> None:
        """Ctrl+Y: re-apply what undo took back."""
        if not self._idle_or_say("redo") or self.chat is None:
            return
        self.tell(self.chat.redo().notice)
        self._schedule_refresh()

    def refresh_sidebar(self) -> None:
        """Re-read the workspace into the tree, the diff and the status bar (soon, coalesced)."""
        self._schedule_refresh()

    def action_review(self) -> None:
        """F4: review mode, the diff full screen; back to the prompt when it closes."""
        from tiller.tui.diff_view import DiffView
        from tiller.tui.screens.review import ReviewScreen

        if self.session is None:
            self.notify("The session is still starting.")
            return
        selected = cast("DiffView", self.query_one("#diff")).path

        def closed(_: None) -> None:
            self.query_one("#prompt").focus()
            self._schedule_refresh()

        if not self.tiller.is_screen_installed("review"):
            screen = ReviewScreen(cast("MainScreen", self), self.session.workspace)
            self.tiller.install_screen(screen, "review")
        review = cast("ReviewScreen", self.tiller.get_screen("review"))
        review.open_on(self.session.workspace, selected)
        self.tiller.push_screen("review", callback=closed)

    def action_sidebar_width(self, step: int) -> None:
        """F8 / F9: a narrower or wider sidebar (shown first if hidden)."""
        sidebar = self.query_one("#sidebar")
        if sidebar.display:
            widths = SIDEBAR_WIDTHS
            index = min(range(len(widths)), key=lambda i: abs(widths[i] - self.sidebar_width))
            self.sidebar_width = widths[max(0, min(len(widths) - 1, index + step))]
        else:
            sidebar.display = True
            self._schedule_refresh()
        sidebar.styles.width = f"{self.sidebar_width}%"

    def action_toggle_sidebar(self) -> None:
        sidebar = self.query_one("#sidebar")
        sidebar.display = not sidebar.display
        if sidebar.display:
            self._schedule_refresh()

    def action_toggle_events(self) -> None:
        events = self.query_one("#events")
        events.display = not events.display

    def action_help(self) -> None:
        from tiller.tui.screens.help import HelpScreen

        self.tiller.push_screen(HelpScreen())
