"""Messages typed while the agent works, shown until the engine takes them."""

from __future__ import annotations

from textual.widgets import Static

from tiller.terminal_text import visible
from tiller.tui.markup import escape

_LABELS = {"steering": "steer", "follow_up": "follow-up", "send": "sent once the session is up"}


class PendingMessages(Static):
    """Queued steering and follow-up messages, oldest first; hidden when empty."""

    DEFAULT_CSS = """
    PendingMessages {
        display: none;
        height: auto;
        max-height: 6;
        padding: 0 1;
        color: $text-muted;
        background: $boost;
    }
    PendingMessages.-open { display: block; }
    """

    def __init__(self) -> None:
        super().__init__(id="pending")
        self.items: list[tuple[str, str]] = []

    def add(self, kind: str, text: str) -> None:
        self.items.append((kind, text))
        self._show()

    def take(self, kind: str, text: str | None = None) -> str | None:
        """Remove the oldest item of `kind` (matching `text` when given); its text."""
        for index, (item_kind, item_text) in enumerate(self.items):
            if item_kind == kind and (text is None or item_text == text):
                del self.items[index]
                self._show()
                return item_text
        return None

    def clear_all(self) -> None:
        self.items.clear()
        self._show()

    def _show(self) -> None:
        lines = [
            f"[b]queued {_LABELS.get(kind, kind)}:[/b] {escape(visible(text.split(chr(10))[0]))}"
            for kind, text in self.items
        ]
        self.update("\n".join(lines))
        self.set_class(bool(self.items), "-open")
