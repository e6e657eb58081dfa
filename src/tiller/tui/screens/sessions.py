"""`/sessions` and `/resume`: this window's conversations and the project's saved ones."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from tiller.terminal_text import visible
from tiller.tui.markup import escape

SAVED = (
    "Conversations are saved from their first prompt, with their unflushed changes; "
    "`tiller --resume ID` also opens one."
)


@dataclass(frozen=True, slots=True)
class SessionSummary:
    """What the list shows about one session."""

    id: str
    title: str
    model: str
    messages: int
    current: bool
    when: str = ""
    open: bool = True
    unflushed: int = 0


class SessionsScreen(ModalScreen[str | None]):
    """Dismisses with the id of the session to resume, or None."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, sessions: list[SessionSummary]) -> None:
        super().__init__()
        self.sessions = sessions

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog", classes="picker") as dialog:
            dialog.border_title = "Sessions"
            dialog.border_subtitle = "Enter resumes · Esc cancels"
            yield Static(f"[dim]{SAVED}[/dim]")
            yield OptionList(
                *(
                    Option(
                        f"{'● ' if s.current else '  '}[b]{s.id}[/b]  {escape(visible(s.title))}  "
                        f"[dim]{s.when} · {escape(visible(s.model))} · {s.messages} prompt(s) · "
                        f"{s.unflushed} unflushed"
                        f"{'' if s.open else ' · saved'}[/dim]",
                        id=s.id,
                    )
                    for s in self.sessions
                ),
                id="session-list",
            )

    @on(OptionList.OptionSelected, "#session-list")
    def _picked(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)

    def action_cancel(self) -> None:
        self.dismiss(None)
