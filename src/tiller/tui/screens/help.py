"""F1 / `/help`: every key and every slash command."""

from __future__ import annotations

from typing import ClassVar

from rich.markup import escape
from rich.table import Table
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from tiller.tui.commands import SLASH_COMMANDS

KEYS: tuple[tuple[str, str], ...] = (
    ("Enter", "Send; while the agent runs: steer it (delivered after the current tool)"),
    ("Tab", "Complete /commands and @paths; while the agent runs: queue as a follow-up"),
    ("Shift+Enter, Ctrl+J", "New line in the prompt"),
    ("Up / Down", "Earlier prompts (from the first / last line of the prompt)"),
    ("Ctrl+A/E/B/F/K/U/W", "Line start/end, back/forward, delete to end/start, delete word"),
    ("Esc, Ctrl+C", "Interrupt the run; queued messages return to the prompt"),
    ("Esc (idle)", "Back to the prompt from any pane"),
    ("Ctrl+C (idle)", "Clear the prompt"),
    ("Ctrl+S", "Flush the workspace to disk (a dialog lists files and conflicts first)"),
    ("Ctrl+X", "Export the workspace diff as a .patch file"),
    ("Ctrl+Z / Ctrl+Y", "Empty prompt: undo / redo the last turn's edits; else undo typing"),
    ("F2", "Show / hide the sidebar (workspace tree and diff)"),
    ("F3", "Show / hide the events pane"),
    ("F4", "Review: the diff full screen (n/p file, ]/[ hunk, r revert, a flush file)"),
    ("F8 / F9", "Sidebar narrower / wider"),
    ("PgUp / PgDn", "Scroll the conversation (the mouse wheel scrolls any pane)"),
    ("s (in the diff)", "Switch the diff between unified and side by side"),
    ("Ctrl+P", "Command palette (every slash command is there too)"),
    ("y / a / n / Esc", "Approving a command: once / for the session / deny with a reason / deny"),
    ("F1", "This help"),
    ("Ctrl+Q", "Quit (asks first when changes are not flushed)"),
)

FOCUS = (
    "[b]Focus.[/b] Typing always goes to the prompt. To read a pane with the keys, "
    "press Tab on an empty prompt (Shift+Tab goes back) or click it: arrows and "
    "PgUp/PgDn then move in it, and its own keys work (s in the diff, Space in the "
    "tree). Any other letter you type goes back to the prompt, and so does Esc. "
    "Dialogs (approvals, flush, this help) take the keys while they are open; keys "
    "typed just before an approval appears never answer it."
)


def help_tables() -> tuple[Table, Table]:
    keys = Table(title="Keys", title_justify="left", show_header=False, box=None, expand=True)
    keys.add_column(style="bold cyan", no_wrap=True)
    keys.add_column()
    for key, meaning in KEYS:
        keys.add_row(key, meaning)
    commands = Table(
        title="Slash commands", title_justify="left", show_header=False, box=None, expand=True
    )
    commands.add_column(style="bold cyan", no_wrap=True)
    commands.add_column()
    for command in SLASH_COMMANDS:
        commands.add_row(escape(command.usage), command.help)
    return keys, commands


class HelpScreen(ModalScreen[None]):
    """Keys and commands; Esc, F1 or q closes."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape,f1,q", "dismiss", "Close")]

    def compose(self) -> ComposeResult:
        keys, commands = help_tables()
        with VerticalScroll(id="dialog", classes="help") as scroll:
            scroll.border_title = "Tiller help"
            scroll.border_subtitle = "Esc closes"
            yield Static(keys)
            yield Static("")
            yield Static(FOCUS)
            yield Static("")
            yield Static(commands)
