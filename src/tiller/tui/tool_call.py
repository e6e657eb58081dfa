"""One tool call in the conversation: a compact collapsible block with its arguments and result."""

from __future__ import annotations

import json

from rich.console import RenderableType
from rich.markup import escape
from textual.timer import Timer
from textual.widgets import Collapsible, Static

MAX_SHOWN_LINES = 40
TAIL_LINES = 15
"""Lines of streamed output shown while a tool runs."""
OUTPUT_INTERVAL = 0.1
"""Seconds between redraws of streamed output: a fast command is drawn in batches."""
_TAIL_CHARS = TAIL_LINES * 400  # one huge line must not keep the whole output alive
_SUMMARY_KEYS = ("file_path", "path", "pattern", "command", "name", "task", "agent_id")


def summarize_arguments(raw: str) -> tuple[str, str]:
    """(a short hint for the title, the arguments pretty-printed)."""
    arguments = parse_arguments(raw)
    if arguments is None:
        return "", raw
    hint = next((str(arguments[key]) for key in _SUMMARY_KEYS if key in arguments), "")
    if "patch" in arguments and not hint:
        hint = f"{str(arguments['patch']).count(chr(10)) + 1} patch lines"
    return hint.splitlines()[0][:60] if hint else "", json.dumps(arguments, indent=2)


def parse_arguments(raw: str) -> dict[str, object] | None:
    """The call's JSON arguments as a dict, or None when they are not one."""
    try:
        arguments = json.loads(raw) if raw else {}
    except json.JSONDecodeError:
        return None
    return arguments if isinstance(arguments, dict) else None


def clip(text: str, limit: int = MAX_SHOWN_LINES) -> str:
    """At most `limit` lines, saying how many more there are (the events pane has all)."""
    lines = text.splitlines()
    if len(lines) <= limit:
        return text
    return "\n".join([*lines[:limit], f"… {len(lines) - limit} more lines"])


def clip_tail(text: str, limit: int = MAX_SHOWN_LINES, *, before: int = 0) -> str:
    """The last `limit` lines, saying how many came before (`before` lines already dropped)."""
    lines = text.rstrip("\n").splitlines()
    hidden = before + max(0, len(lines) - limit)
    shown = "\n".join(lines[-limit:])
    return f"… {hidden} earlier lines\n{shown}" if hidden else shown


class ToolCallBlock(Collapsible):
    """A tool call keyed by its call id: collapsed by default, opened when it fails.

    Output a tool streams while it runs (a shell command) is drawn as its last
    `TAIL_LINES` lines, at most every `OUTPUT_INTERVAL` seconds.
    """

    DEFAULT_CSS = """
    ToolCallBlock {
        border: none;
        padding: 0;
        margin: 0 0 0 2;
        background: transparent;
        height: auto;
    }
    ToolCallBlock > Contents { padding: 0 0 0 3; height: auto; }
    ToolCallBlock CollapsibleTitle { padding: 0; color: $text-muted; }
    ToolCallBlock.-error CollapsibleTitle { color: $text-error; }
    ToolCallBlock .tool-args { color: $text-muted; }
    ToolCallBlock .tool-output { background: $boost; padding: 0 1; }
    ToolCallBlock.-error .tool-output { color: $text-error; }
    """

    def __init__(self, call_id: str, name: str, arguments: str) -> None:
        self.call_id = call_id
        self.tool_name = name
        self.raw_arguments = arguments
        self.hint, self.arguments = summarize_arguments(arguments)
        self.output = ""
        self.finished = False
        self._tail = ""
        self._dropped_lines = 0
        self._redraw: Timer | None = None
        self._args = Static(self.arguments_view(), classes="tool-args")
        self._result = Static("[dim]running…[/dim]", classes="tool-output")
        super().__init__(self._args, self._result, title=self.heading("…"), collapsed=True)

    def arguments_view(self) -> RenderableType:
        """What the block shows of its arguments when opened."""
        return escape(self.arguments)

    def heading(self, status: str) -> str:
        """The title line, with `status` (running, ✓, ✗ ...) at its end."""
        hint = f" [dim]{escape(self.hint)}[/dim]" if self.hint else ""
        return f"[b]{escape(self.tool_name)}[/b]{hint}  {status}"

    def add_output(self, delta: str) -> None:
        """Append streamed output while the tool runs; drawn in batches."""
        if self.finished:
            return
        self._tail += delta
        # Keep only what the tail can show, so a long command costs nothing per line.
        if self._tail.count("\n") > 4 * TAIL_LINES or len(self._tail) > 2 * _TAIL_CHARS:
            lines = self._tail.split("\n")
            self._dropped_lines += max(0, len(lines) - TAIL_LINES - 1)
            self._tail = "\n".join(lines[-TAIL_LINES - 1 :])[-_TAIL_CHARS:]
        if self._redraw is None:
            self._redraw = self.set_timer(OUTPUT_INTERVAL, self._draw_tail)

    def _draw_tail(self) -> None:
        self._redraw = None
        if not self.finished:
            tail = clip_tail(self._tail, TAIL_LINES, before=self._dropped_lines)
            self._result.update(escape(tail))

    @property
    def streamed(self) -> str:
        """The last lines of streamed output kept while the tool runs."""
        return self._tail

    def finish(self, output: str, is_error: bool, duration_ms: float | None) -> None:
        """Show the full result; an error opens the block."""
        self._stop_streaming(output)
        self.title = self.heading(("✗ failed" if is_error else "✓") + took(duration_ms))
        self._result.update(escape(clip(output)) or "[dim](no output)[/dim]")
        self.set_class(is_error, "-error")
        if is_error:
            self.collapsed = False

    def _stop_streaming(self, output: str) -> None:
        self.finished = True
        self.output = output
        if self._redraw is not None:
            self._redraw.stop()
            self._redraw = None


def took(duration_ms: float | None) -> str:
    """` 2.5 s` for a slow tool; fast ones would just be noise."""
    return f" {duration_ms / 1000:.1f} s" if duration_ms and duration_ms >= 1000 else ""
