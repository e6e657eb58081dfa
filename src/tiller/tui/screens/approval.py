"""An engine request to run something (e.g. a shell command); the answer resolves its future."""

from __future__ import annotations

from typing import Any, ClassVar

from rich.markup import escape
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Static


class ApprovalScreen(ModalScreen[bool]):
    """Shows what the agent wants to do; dismisses True (allow) or False (deny, Esc)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,n", "deny", "Deny"),
        Binding("y", "allow", "Allow"),
    ]

    def __init__(self, data: dict[str, Any]) -> None:
        super().__init__()
        self.data = {key: value for key, value in data.items() if key != "future"}

    def compose(self) -> ComposeResult:
        lines = [
            f"[b]{escape(str(key))}[/b]: {escape(str(value))}" for key, value in self.data.items()
        ]
        with Vertical(id="dialog") as dialog:
            dialog.border_title = "The agent asks for approval"
            yield Static("\n".join(lines) or "(no details)")
            with Horizontal(classes="buttons"):
                yield Button("Allow (y)", variant="warning", id="allow")
                yield Button("Deny (n)", id="deny")

    @on(Button.Pressed, "#allow")
    def action_allow(self) -> None:
        self.dismiss(True)

    @on(Button.Pressed, "#deny")
    def action_deny(self) -> None:
        self.dismiss(False)
