"""The approval modal: the agent wants to run a command; allow once, for the session, or deny.

It only shows a request and dismisses with the person's `Approval` (or None when
the engine withdrew the request); `ApprovalQueue` owns the futures.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, ClassVar

from rich.console import RenderableType
from textual import events, on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.timer import Timer
from textual.widgets import Button, Input, Static

from tiller.approvals import VISIBLE_NOTE, Approval, Decision
from tiller.terminal_text import readable, visible
from tiller.tui.command_view import command_view
from tiller.tui.markup import escape


def describe_timeout(timeout_ms: object) -> str:
    """`10 s`, `2 min`, `1 min 30 s` (or empty when unknown)."""
    if not isinstance(timeout_ms, int | float) or isinstance(timeout_ms, bool):
        return ""
    seconds = round(timeout_ms / 1000)
    minutes, rest = divmod(seconds, 60)
    if not minutes:
        return f"{timeout_ms / 1000:g} s"
    return f"{minutes} min" + (f" {rest} s" if rest else "")


Clock = Callable[[], float]
"""A monotonic time source in seconds (`time.monotonic`; tests pass one they move by hand)."""

KeyForward = Callable[[events.Key], None]
"""Types a key into the prompt under the modal."""


LONG_COMMAND_LINES = 8
LONG_COMMAND_CHARS = 600
"""Past either, the modal says how long the command is: its box shows about 12 rows."""


class ApprovalScreen(ModalScreen[Approval | None]):
    """Shows one request; y / Enter allow once, a allows for the session, n asks for a reason.

    Esc denies without a reason. The engine may withdraw the request (the run was
    cancelled): `withdraw` closes the modal with None.

    The modal can open while the person types in the prompt, so it starts
    unarmed: until `ARM_DELAY` seconds pass without a key, every key goes on to
    the prompt (`forward`) and answers nothing, and each key restarts the wait. A
    burst like "lets add a test" arriving as the modal opens therefore lands in
    the prompt, never on `a`. The key hints appear on the border when the keys
    start to work.

    Args:
        details: the `APPROVAL_REQUESTED` event's data.
        clock: the time source for the quiet period.
        forward: where keys typed before the modal was armed go (None drops them).
    """

    AUTO_FOCUS = ""
    """Nothing is focused until the modal is armed (a focused button would take Enter)."""
    ARM_DELAY: ClassVar[float] = 0.5
    """Seconds without a key, after opening, before keys answer."""
    KEY_HINTS: ClassVar[str] = "y allow · a for the session · n deny with a reason · Esc deny"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y", "allow", "Allow once"),
        Binding("a", "allow_session", "Allow for the session"),
        Binding("n", "deny_with_reason", "Deny…"),
        Binding("escape", "deny", "Deny"),
    ]

    def __init__(
        self,
        details: dict[str, Any],
        *,
        clock: Clock = time.monotonic,
        forward: KeyForward | None = None,
    ) -> None:
        super().__init__()
        self.details = {key: value for key, value in details.items() if key != "future"}
        self.command = str(self.details.get("command", ""))
        self._withdrawn = False
        self._dismissed = False
        self.armed = False
        self._clock = clock
        self._forward = forward
        self._quiet_since = clock()
        self._arm_timer: Timer | None = None

    def on_mount(self) -> None:
        # Count from when the modal is on screen, not from when it was built: building
        # can take longer than the delay, while the keys still went to the prompt.
        self._restart_quiet_period()

    # -- the guard against keys meant for the prompt -------------------------------------

    def arm_if_quiet(self) -> bool:
        """Arm the keys when `ARM_DELAY` seconds passed without one; returns `armed`."""
        if not self.is_mounted:
            return False
        if not self.armed and self._clock() - self._quiet_since >= self.ARM_DELAY:
            self.armed = True
            if self._arm_timer is not None:
                self._arm_timer.stop()
            self.query_one("#dialog").border_subtitle = self.KEY_HINTS
            # Focus only now: a focused button would take an early Enter as a press.
            self.set_focus(self.query_one("#allow", Button))
        return self.armed

    def _restart_quiet_period(self) -> None:
        self._quiet_since = self._clock()
        if self.is_mounted and not self.armed:
            self._wait_for_quiet()

    def _wait_for_quiet(self) -> None:
        # Only this timer arms, never a key: the hints appear exactly when keys work.
        if self.arm_if_quiet():
            return
        if self._arm_timer is not None:
            self._arm_timer.stop()
        remaining = self.ARM_DELAY - (self._clock() - self._quiet_since)
        self._arm_timer = self.set_timer(max(remaining, 0.05), self._wait_for_quiet)

    def on_key(self, event: events.Key) -> None:
        if not self.armed:
            # Typed before the modal was armed: the prompt's key, not an answer.
            event.stop()
            event.prevent_default()
            if self._forward is not None:
                self._forward(event)
            self._restart_quiet_period()
            return
        # Once `n` opened the reason line, everything typed belongs there. Keys typed in
        # the same burst as `n` were already dispatched to the button that had the focus
        # and bubble up here instead of reaching the Input (which stops the printable
        # keys it handles): put them in the reason, so an `a` or `y` in a reason never
        # approves the command it argues against.
        if not self.has_class("-reason"):
            if event.key == "n":
                # Open the line now, not through the binding: a binding runs only after
                # the keys already queued behind `n` have been dispatched.
                event.stop()
                event.prevent_default()
                self.action_deny_with_reason()
            return
        reason = self.query_one("#reason", Input)
        if event.key == "enter":
            event.stop()
            event.prevent_default()
            self._deny_with(reason.value)
        elif event.is_printable and event.character:
            event.stop()
            event.prevent_default()
            reason.insert_text_at_cursor(event.character)

    def compose(self) -> ComposeResult:
        details = self.details
        tool = str(details.get("tool") or "shell")
        with Vertical(id="dialog") as dialog:
            dialog.border_title = f"Allow {self.asker} to run this {escape(visible(tool))} command?"
            if details.get("description"):
                yield Static(
                    readable(str(details["description"])),
                    classes="approval-description",
                    markup=False,
                )
            yield Static(self._command_syntax(), classes="approval-command")
            if self._length_note():
                yield Static(self._length_note(), classes="approval-why", markup=False)
            if visible(self.command, keep="\n\t") != self.command:
                yield Static(f"Note: {VISIBLE_NOTE}", classes="approval-why", markup=False)
            if details.get("reason"):
                yield Static(
                    f"Why it asks: {readable(str(details['reason']))}",
                    classes="approval-why",
                    markup=False,
                )
            yield Static(self._facts(), classes="approval-facts")
            yield Input(
                placeholder="Why not? (optional, the agent reads it) · Enter denies",
                id="reason",
            )
            with Horizontal(classes="buttons"):
                yield Button("Allow once (y)", variant="success", id="allow")
                yield Button("Allow for session (a)", variant="warning", id="allow-session")
                yield Button("Deny (n)", variant="error", id="deny")

    @property
    def asker(self) -> str:
        """`the agent`, or `subagent agent_1` when a subagent asks (its id without the root's)."""
        agent_id = str(self.details.get("agent_id") or "")
        if not agent_id:
            return "the agent"
        return f"subagent {escape(visible(agent_id.split('.', 1)[-1]))}"

    def _command_syntax(self) -> RenderableType:
        # ansi_dark keeps the terminal's own background under the $boost panel. The command
        # reads as it will run: escapes, `\r`, bidi overrides and invisible characters shown.
        return command_view(self.command)

    def _facts(self) -> str:
        details = self.details
        if details.get("server"):  # an MCP tool: it runs in the server, not in the sandbox
            return f"a tool of the MCP server [b]{escape(visible(str(details['server'])))}[/b]"
        cwd = str(details.get("cwd") or ".")
        where = "" if cwd in (".", "./") else f"[b]{escape(visible(cwd))}[/b] of "
        facts = [f"runs in {where}a sandbox copy of the workspace"]
        timeout = describe_timeout(details.get("timeout_ms"))
        if timeout:
            facts.append(f"stops after [b]{timeout}[/b]")
        return " · ".join(facts)

    def _length_note(self) -> str:
        """What to say about a command taller than its box (whose tail would go unread)."""
        lines = self.command.count("\n") + 1
        if lines <= LONG_COMMAND_LINES and len(self.command) <= LONG_COMMAND_CHARS:
            return ""
        size = f"{lines} lines, {len(self.command)} characters"
        return f"Note: {size}: scroll the command to read it all"

    # -- answers ------------------------------------------------------------------------

    @on(Button.Pressed, "#allow")
    def _allow_pressed(self) -> None:
        self._answer(Approval(Decision.ALLOW))

    @on(Button.Pressed, "#allow-session")
    def _allow_session_pressed(self) -> None:
        self._answer(Approval(Decision.ALLOW_SESSION))

    def action_allow(self) -> None:
        if not self.has_class("-reason"):
            self._answer(Approval(Decision.ALLOW))

    def action_allow_session(self) -> None:
        if not self.has_class("-reason"):
            self._answer(Approval(Decision.ALLOW_SESSION))

    @on(Button.Pressed, "#deny")
    def _deny_pressed(self) -> None:
        # The first press asks for a reason; with the reason line open it confirms.
        if self.has_class("-reason"):
            self._deny_with(self.query_one("#reason", Input).value)
        else:
            self.action_deny_with_reason()

    def action_deny_with_reason(self) -> None:
        """Open the reason line; Enter there denies with what was typed."""
        if not self.armed:
            return
        self.add_class("-reason")
        self.query_one("#deny", Button).label = "Deny (Enter)"
        # Focus now, not via `focus()` (deferred): keys typed right after `n` arrive
        # in the same batch and must land in the reason, not on the y / a bindings.
        self.set_focus(self.query_one("#reason", Input))

    @on(Input.Submitted, "#reason")
    def _reason_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self._deny_with(event.value)

    def action_deny(self) -> None:
        self._deny_with("")

    def _deny_with(self, reason: str) -> None:
        self._answer(Approval(Decision.DENY, reason.strip()))

    def _answer(self, approval: Approval) -> None:
        # Once only: a second dismiss would pop whatever screen is under this one.
        if self.armed and not self._dismissed:
            self._dismissed = True
            self.dismiss(approval)

    # -- the engine gave up waiting ---------------------------------------------------

    def withdraw(self) -> None:
        """Close without an answer (the request was cancelled).

        Dismissing pops the top screen, so a modal covered by another one (the
        command palette) closes itself when it is on top again.
        """
        if self.is_current:
            self._close_unanswered()
        else:
            self._withdrawn = True

    def on_screen_resume(self, event: events.ScreenResume) -> None:
        if self._withdrawn:
            self._close_unanswered()
        elif not self.armed:
            self._restart_quiet_period()

    def _close_unanswered(self) -> None:
        if not self._dismissed:
            self._dismissed = True
            self.dismiss(None)
