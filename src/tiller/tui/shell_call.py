"""A shell call in the conversation: `$ command`, its live output, then its exit code.

It stays open: the tail of its output streams in while it runs, and its last
`SHOWN_LINES` lines stay when it ends (a click shows the rest). The title keeps
the status and exit code whole at any width; the command is cut instead.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from rich.cells import cell_len
from rich.console import RenderableType

from tiller.terminal_text import visible
from tiller.tui.command_view import command_view
from tiller.tui.markup import escape
from tiller.tui.tool_call import ToolCallBlock, fit, parse_arguments, status_cells, took

TITLE_CHARS = 50
"""A command longer than this (or of several lines) is also shown whole under the title."""
SHOWN_LINES = 5
"""Lines of a finished command's output shown until the person asks for the rest."""
_EXIT_CODE = re.compile(r"^Exit code: (-?\d+)$", re.MULTILINE)


@dataclass(frozen=True, slots=True)
class ShellOutcome:
    """What a finished shell call's output says.

    Attributes:
        exit_code: the command's exit code, None when it never ran or timed out.
        timed_out: the command was stopped at its timeout.
        body: the command's own output and the notes after it (the header removed).
    """

    exit_code: int | None
    timed_out: bool
    body: str

    @classmethod
    def parse(cls, output: str) -> ShellOutcome:
        # The runner's report is "Exit code: N / Duration / Output:\n<output>"; an
        # error result (denied, cancelled before it ran) is just a message.
        head, marker, rest = output.partition("\nOutput:\n")
        match = _EXIT_CODE.search(head)
        return cls(
            exit_code=int(match.group(1)) if match else None,
            timed_out=head.startswith("Timed out") or "\nTimed out" in head,
            body=rest if marker else output,
        )


def shell_status(outcome: ShellOutcome, output: str, is_error: bool) -> tuple[bool, str]:
    """(failed, the words for the title) of a finished call."""
    if outcome.timed_out:
        return True, "✗ timed out"
    if outcome.exit_code is not None:
        failed = is_error or outcome.exit_code != 0
        return failed, f"{'✗' if failed else '✓'} exit {outcome.exit_code}"
    # No exit code: the command never ran; the runner's message says why.
    if "denied" in output:
        return True, "✗ denied"
    if "Cancelled" in output:
        return True, "✗ cancelled"
    return True, "✗ failed" if is_error else "✓"


class ShellCallBlock(ToolCallBlock):
    """A `shell` call: open while it runs with its output's tail, folded when it exits 0."""

    DEFAULT_CSS = """
    ShellCallBlock .tool-args { background: $boost; padding: 0 1; }
    ShellCallBlock .tool-args.-short { display: none; }
    /* The title says it failed; the command's own output keeps the normal colour. */
    ShellCallBlock.-error .tool-output { color: $text; }
    """

    def __init__(self, call_id: str, name: str, arguments: str) -> None:
        parsed = parse_arguments(arguments) or {}
        self.command = str(parsed.get("command", ""))
        self.description = str(parsed.get("description") or "")
        super().__init__(call_id, name, arguments)
        first = self.command.split("\n")[0] if self.command.strip() else ""
        # The title holds a short one-line command; a longer one is shown in full below it.
        self._args.set_class(first == self.command and len(first) <= TITLE_CHARS, "-short")
        self.collapsed = False

    def arguments_view(self) -> RenderableType:
        return command_view(self.command)

    def heading(self, status: str) -> str:
        lines = self.command.strip().split("\n")
        room = (self.title_cells() or 10_000) - status_cells(status) - 4
        command = visible(lines[0]) + (" …" if len(lines) > 1 else "")
        shown = fit(command, max(room, 8))
        room -= cell_len(shown) + 3
        # The status comes before the description so a narrow pane cuts the words, not it.
        about = fit(visible(self.description), room) if self.description and room > 4 else ""
        about = f" [dim]— {escape(about)}[/dim]" if about else ""
        return f"[b]$ {escape(shown)}[/b]  {status}{about}"

    def set_waiting(self, waiting: bool) -> None:
        """Say in the title that the command waits for the person's approval (or no longer)."""
        if self.finished:
            return
        self.set_status("… awaiting approval" if waiting else "…")
        if not self.streamed:  # output may already be streaming in after the answer
            self._result.update(f"[dim]{'awaiting approval' if waiting else 'running'}…[/dim]")

    def finish(
        self,
        output: str,
        is_error: bool,
        duration_ms: float | None,
        *,
        diff: str | None = None,
        skipped: str = "",
    ) -> None:
        super().finish(output, is_error, duration_ms, skipped=skipped)
        if self.skipped:
            return
        outcome = ShellOutcome.parse(output)
        failed, status = shell_status(outcome, output, is_error)
        self.set_status(status + took(duration_ms))
        self._result.show_tail(outcome.body, SHOWN_LINES)
        self.set_class(failed, "-error")
        self.collapsed = False
