"""The prompt: a multi-line input whose Enter sends (or steers), with slash-command completion."""

from __future__ import annotations

from dataclasses import replace
from typing import ClassVar, Literal

from rich.markup import escape
from textual import events, on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.message import Message
from textual.reactive import reactive
from textual.widgets import OptionList, TextArea
from textual.widgets.option_list import Option

from tiller.tui.commands import SlashCommand, complete

Mode = Literal["send", "steer", "follow_up"]

# Keys the screen owns; the text area must not swallow them.
_SCREEN_KEYS = {"ctrl+e", "ctrl+x", "ctrl+z", "ctrl+y", "ctrl+s", "ctrl+b", "ctrl+q", "ctrl+j"}


def _text_area_bindings() -> list[BindingType]:
    kept: list[BindingType] = []
    for binding in TextArea.BINDINGS:
        assert isinstance(binding, Binding)
        keys = [key for key in binding.key.split(",") if key.strip() not in _SCREEN_KEYS]
        if keys:
            kept.append(replace(binding, key=",".join(keys)))
    return kept


class SlashMenu(OptionList):
    """The commands matching what is typed after `/`; hidden when nothing matches."""

    DEFAULT_CSS = """
    SlashMenu {
        display: none;
        height: auto;
        max-height: 8;
        border: none;
        padding: 0 1;
        background: $boost;
    }
    SlashMenu.-open { display: block; }
    """

    def __init__(self) -> None:
        super().__init__(id="slash-menu")
        self.can_focus = False
        self.matches: list[SlashCommand] = []

    def show_for(self, text: str) -> None:
        """Show the commands that complete `text` (hide when none do)."""
        matches = complete(text)
        if [c.name for c in matches] == [c.name for c in self.matches]:
            return
        self.matches = matches
        self.clear_options()
        self.add_options(
            Option(f"[b]{escape(c.usage)}[/b]  [dim]{c.help}[/dim]", id=c.name) for c in matches
        )
        if matches:
            self.highlighted = 0
        self.set_class(bool(matches), "-open")

    @property
    def is_open(self) -> bool:
        return bool(self.matches)

    @property
    def choice(self) -> SlashCommand | None:
        """The highlighted command."""
        if not self.matches or self.highlighted is None:
            return None
        return self.matches[self.highlighted]


class Prompt(TextArea, inherit_bindings=False):
    """Where the person types. Enter sends, or steers while the agent runs; Tab queues.

    Shift+Enter and Ctrl+J insert a newline.
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "submit('send')", "Send", key_display="⏎"),
        Binding("enter", "submit('steer')", "Steer", key_display="⏎"),
        Binding("tab", "complete", "Complete"),
        Binding("tab", "submit('follow_up')", "Queue follow-up"),
        Binding("shift+enter,ctrl+j", "newline", "Newline", show=False),
        Binding("up", "menu(-1)", "Previous", show=False),
        Binding("down", "menu(1)", "Next", show=False),
        *_text_area_bindings(),
    ]

    running: reactive[bool] = reactive(False)
    """Whether the agent is working (Enter steers, Tab queues)."""

    class Submitted(Message):
        """The person sent text: a new prompt, a steering message or a follow-up."""

        def __init__(self, text: str, mode: Mode) -> None:
            self.text = text
            self.mode = mode
            super().__init__()

    def __init__(self, menu: SlashMenu, *, id: str | None = None) -> None:
        super().__init__(
            id=id,
            soft_wrap=True,
            show_line_numbers=False,
            tab_behavior="focus",
            compact=True,
            highlight_cursor_line=False,
            placeholder="Ask Tiller — Enter sends, Shift+Enter/Ctrl+J newline, / for commands",
        )
        self.menu = menu
        self._shown = (False, False)

    def watch_running(self) -> None:
        self.placeholder = (
            "Enter steers the agent now · Tab queues a follow-up · Esc interrupts"
            if self.running
            else "Ask Tiller — Enter sends, Shift+Enter/Ctrl+J newline, / for commands"
        )
        self.refresh_bindings()

    async def _on_key(self, event: events.Key) -> None:
        # Enter and Tab must reach the bindings above instead of being typed: stop
        # TextArea's handler, let the key bubble on to the binding check.
        if event.key in ("enter", "tab"):
            event.prevent_default()
            return
        await super()._on_key(event)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "submit":
            (mode,) = parameters
            if mode == "send":
                return not self.running
            if mode == "steer":
                return self.running
            return self.running and bool(self.text.strip()) and not self.menu.is_open
        if action == "complete":
            return self.menu.is_open
        if action == "menu":
            return self.menu.is_open
        return True

    def action_submit(self, mode: Mode) -> None:
        text = self.text.strip()
        choice = self.menu.choice
        if choice is not None and mode != "follow_up" and " " not in text:
            # `/he` + Enter runs the highlighted `/help`.
            text = f"/{choice.name}"
        if not text:
            return
        self.clear()
        self.post_message(self.Submitted(text, mode))

    def action_complete(self) -> None:
        choice = self.menu.choice
        if choice is not None:
            self.text = f"/{choice.name}" + (" " if choice.argument else "")
            self.move_cursor(self.document.end)

    def action_menu(self, delta: int) -> None:
        if delta < 0:
            self.menu.action_cursor_up()
        else:
            self.menu.action_cursor_down()

    def action_newline(self) -> None:
        self.insert("\n")

    def type_key(self, key: events.Key) -> None:
        """Take `key` as if it had been pressed here while this prompt had the focus.

        For keys that reach a dialog as it opens over the prompt (an approval): the
        person was typing here. Printable keys, Backspace, the newline keys and Enter
        (send or steer) act as usual; anything else is dropped.
        """
        if key.key == "enter":
            mode: Mode = "steer" if self.running else "send"
            if self.check_action("submit", (mode,)):
                self.action_submit(mode)
        elif key.key in ("shift+enter", "ctrl+j"):
            self.action_newline()
        elif key.key == "backspace":
            self.action_delete_left()
        elif key.is_printable and key.character:
            self.insert(key.character)

    def restore(self, texts: list[str]) -> None:
        """Put queued text back in front of whatever is being typed."""
        if not texts:
            return
        current = self.text.strip()
        self.text = "\n\n".join([*texts, current] if current else texts)
        self.move_cursor(self.document.end)

    @on(TextArea.Changed)
    def _update_menu(self) -> None:
        self.menu.show_for(self.text)
        # Re-render the footer only when what it shows changes, not on every key.
        shown = (self.menu.is_open, bool(self.text.strip()))
        if shown != self._shown:
            self._shown = shown
            self.refresh_bindings()


class Composer(Vertical):
    """The slash menu above the prompt."""

    DEFAULT_CSS = """
    Composer { height: auto; }
    Composer Prompt { height: auto; min-height: 3; max-height: 12; padding: 0 1; }
    """

    def compose(self) -> ComposeResult:
        menu = SlashMenu()
        yield menu
        yield Prompt(menu, id="prompt")
