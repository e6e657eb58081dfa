"""The prompt: a multi-line input whose Enter sends (or steers), with completion and history.

Every key the prompt binds is handled in its own key handler, in the order the
keys arrive: a binding left to Textual would run only after the key bubbled up
to the app, behind the printable keys typed after it (`abc`, Ctrl+J, `def`
came out as `abcdef` and then the newline).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING, ClassVar, Literal

from textual import events, on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.message import Message
from textual.reactive import reactive
from textual.widgets import OptionList, TextArea
from textual.widgets.option_list import Option

from tiller.completion import Candidate, Completions, complete_prompt
from tiller.prompt_history import PromptHistory
from tiller.tui.markup import escape

if TYPE_CHECKING:
    from tiller.workspace import Workspace

Mode = Literal["send", "steer", "follow_up"]

# Keys the screen owns (the text area must not swallow them), and Page Up/Down, which
# scroll the conversation instead of paging through a prompt of a few lines.
_SCREEN_KEYS = {"ctrl+x", "ctrl+s", "ctrl+q", "ctrl+j", "pageup", "pagedown"}

_MENU_KEYS = {"tab", "enter", "up", "down", "escape"}

IDLE_PLACEHOLDER = "Ask Tiller — Enter sends, Shift+Enter/Ctrl+J newline, / commands, @ files"
RUNNING_PLACEHOLDER = "Enter steers the agent now · Tab queues a follow-up · Esc interrupts"


def _text_area_bindings() -> list[BindingType]:
    kept: list[BindingType] = []
    for binding in TextArea.BINDINGS:
        assert isinstance(binding, Binding)
        keys = [key for key in binding.key.split(",") if key.strip() not in _SCREEN_KEYS]
        if keys:
            kept.append(replace(binding, key=",".join(keys)))
    return kept


class SlashMenu(OptionList):
    """What Tab would complete: commands after `/`, paths after `@`; hidden when nothing."""

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
        self.found = Completions(0)
        self.matches: tuple[Candidate, ...] = ()

    def show(self, found: Completions) -> None:
        """Show `found` (hide when it holds nothing)."""
        self.found = found
        if found.candidates == self.matches:
            return
        self.matches = found.candidates
        self.clear_options()
        self.add_options(
            Option(
                f"[b]{escape(c.display)}[/b]  [dim]{escape(c.meta)}[/dim]",
                id=c.text,
            )
            for c in found.candidates
        )
        if found.candidates:
            self.highlighted = 0
        self.set_class(bool(found.candidates), "-open")

    @property
    def is_open(self) -> bool:
        return bool(self.matches)

    @property
    def commands(self) -> bool:
        """Whether the candidates are slash commands (Enter runs the highlighted one)."""
        return self.is_open and self.matches[0].command

    @property
    def choice(self) -> Candidate | None:
        """The highlighted candidate."""
        if not self.matches or self.highlighted is None:
            return None
        return self.matches[self.highlighted]


class Prompt(TextArea, inherit_bindings=False):
    """Where the person types. Enter sends, or steers while the agent runs; Tab completes,
    or queues a follow-up while it runs; Up/Down walk the history from the first/last line.

    Shift+Enter and Ctrl+J insert a newline. Ctrl+Z/Ctrl+Y undo typing; on an empty
    prompt they go on to the screen (the agent's edits).
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "pick", "Complete", key_display="⏎"),
        Binding("enter", "submit('send')", "Send", key_display="⏎"),
        Binding("enter", "submit('steer')", "Steer", key_display="⏎"),
        Binding("tab", "complete", "Complete"),
        Binding("tab", "submit('follow_up')", "Queue"),
        Binding("tab", "stay", "Complete", show=False),
        Binding("shift+enter,ctrl+j", "newline", "Newline", show=False),
        Binding("escape", "close_menu", "Close", show=False),
        Binding("up", "menu(-1)", "Previous", show=False),
        Binding("down", "menu(1)", "Next", show=False),
        Binding("up", "history(-1)", "History", show=False),
        Binding("down", "history(1)", "History", show=False),
        # Readline motions (Ctrl+A/E/K/U/W come with the text area).
        Binding("ctrl+b", "cursor_left", "Cursor left", show=False),
        Binding("ctrl+f", "cursor_right", "Cursor right", show=False),
        Binding("ctrl+k", "kill_line", "Delete to line end", show=False),
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

    def __init__(
        self, menu: SlashMenu, *, history: PromptHistory | None = None, id: str | None = None
    ) -> None:
        super().__init__(
            id=id,
            soft_wrap=True,
            show_line_numbers=False,
            tab_behavior="focus",
            compact=True,
            highlight_cursor_line=False,
            placeholder=IDLE_PLACEHOLDER,
        )
        self.menu = menu
        self.prompt_history = history if history is not None else PromptHistory()
        self.workspace: Callable[[], Workspace | None] = lambda: None
        """Where `@paths` are completed from (the main screen sets it)."""
        self._shown = (False, False)
        self._menu_closed_for: str | None = None

    def watch_running(self) -> None:
        self.placeholder = RUNNING_PLACEHOLDER if self.running else IDLE_PLACEHOLDER
        self.refresh_bindings()

    async def _on_key(self, event: events.Key) -> None:
        if event.key in _MENU_KEYS:
            # The menu follows `Changed`, which is queued behind keys typed fast: bring it
            # up to date with the text now, so Tab completes what is on screen.
            self._refresh_menu()
        # Run our own bindings here, in arrival order (see the module docstring).
        for binding in self._bindings.key_to_bindings.get(event.key, ()):
            if await self.app.run_action(binding.action, self):
                event.stop()
                event.prevent_default()
                return
        await super()._on_key(event)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        menu = self.menu.is_open
        if action == "submit":
            (mode,) = parameters
            if mode == "send":
                return not self.running
            if mode == "steer":
                return self.running
            return self.running and bool(self.text.strip()) and not menu
        if action == "complete":
            return menu
        if action == "pick":
            # Enter takes a path only when that changes the text; else it sends.
            choice = self.menu.choice
            typed = self._before_cursor()[self.menu.found.start :]
            return menu and choice is not None and not choice.command and choice.text != typed
        if action == "stay":
            return bool(self.text.strip())
        if action in ("menu", "close_menu"):
            return menu and not (action == "close_menu" and self.running)
        if action == "history":
            (delta,) = parameters
            row = self.cursor_location[0]
            if delta < 0:
                return row == 0
            return self.prompt_history.browsing and row == self.document.line_count - 1
        if action in ("undo", "redo"):
            # On an empty prompt Ctrl+Z/Ctrl+Y are the screen's: the agent's last turn.
            return bool(self.text)
        return True

    def action_submit(self, mode: Mode) -> None:
        text = self.text.strip()
        choice = self.menu.choice
        if choice is not None and choice.command and mode != "follow_up" and " " not in text:
            # `/he` + Enter runs the highlighted `/help`.
            text = choice.text
        if not text:
            return
        self.prompt_history.add(text)
        self.clear()
        self.post_message(self.Submitted(text, mode))

    def action_complete(self) -> None:
        """Put the highlighted candidate in place of the word being typed."""
        choice = self.menu.choice
        if choice is None:
            return
        if choice.command:
            # `/exp` becomes `/export ` (a space when the command takes an argument).
            self.text = choice.text + (" " if choice.display != choice.text else "")
            self.move_cursor(self.document.end)
            return
        cursor = self.cursor_location
        begin = self.document.get_location_from_index(self.menu.found.start)
        # A directory stays open for the next Tab; a file is followed by a space.
        suffix = "" if choice.text.endswith("/") else " "
        self.replace(choice.text + suffix, begin, cursor)

    def action_pick(self) -> None:
        """Enter on a path menu takes the path (a command menu's Enter runs the command)."""
        self.action_complete()

    def action_stay(self) -> None:
        """Tab with text and nothing to complete: focus stays here (typing is never lost)."""

    def action_close_menu(self) -> None:
        self._menu_closed_for = self.text
        self.menu.show(Completions(0))

    def action_menu(self, delta: int) -> None:
        if delta < 0:
            self.menu.action_cursor_up()
        else:
            self.menu.action_cursor_down()

    def action_history(self, delta: int) -> None:
        entry = self.prompt_history.previous(self.text) if delta < 0 else self.prompt_history.next()
        if entry is None:
            return
        # No menu over a recalled prompt: Up and Down keep walking the history.
        self.menu.show(Completions(0))
        self._menu_closed_for = entry
        self.text = entry
        self.move_cursor(self.document.end)

    def action_newline(self) -> None:
        self.insert("\n")

    def action_kill_line(self) -> None:
        """Ctrl+K as in readline: delete to the end of the line (at its end: join the next)."""
        row, column = self.cursor_location
        end = self.get_cursor_line_end_location()
        if (row, column) == end and row < self.document.line_count - 1:
            self.delete((row, column), (row + 1, 0))
        elif (row, column) != end:
            self.delete((row, column), end)

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
        text = "\n\n".join([*texts, current] if current else texts)
        self._menu_closed_for = text  # given back, not being typed: no menu over it
        self.menu.show(Completions(0))
        self.text = text
        self.move_cursor(self.document.end)

    def _before_cursor(self) -> str:
        row, column = self.cursor_location
        return self.get_text_range((0, 0), (row, column))

    @on(TextArea.SelectionChanged)
    def _cursor_moved(self) -> None:
        self._refresh_menu()

    @on(TextArea.Changed)
    def _update_menu(self) -> None:
        self._refresh_menu()
        # Re-render the footer only when what it shows changes, not on every key.
        shown = (self.menu.is_open, bool(self.text.strip()))
        if shown != self._shown:
            self._shown = shown
            self.refresh_bindings()

    def _refresh_menu(self) -> None:
        if self._menu_closed_for is not None:
            if self._menu_closed_for == self.text:
                return
            self._menu_closed_for = None
        before = self._before_cursor()
        if not before or ("@" not in before and not before.startswith("/")):
            self.menu.show(Completions(0))  # the common case: nothing to look up
            return
        self.menu.show(complete_prompt(before, self.workspace()))


class Composer(Vertical):
    """The completion menu above the prompt."""

    DEFAULT_CSS = """
    Composer { height: auto; }
    Composer Prompt { height: auto; min-height: 3; max-height: 12; padding: 0 1; }
    """

    def compose(self) -> ComposeResult:
        menu = SlashMenu()
        yield menu
        yield Prompt(menu, id="prompt")
