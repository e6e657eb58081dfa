"""One tool call in the conversation: a compact collapsible block with its arguments and result."""

from __future__ import annotations

import json

from rich.markup import escape
from textual.widgets import Collapsible, Static

MAX_SHOWN_LINES = 40
_SUMMARY_KEYS = ("file_path", "path", "pattern", "command", "name", "task", "agent_id")


def summarize_arguments(raw: str) -> tuple[str, str]:
    """(a short hint for the title, the arguments pretty-printed)."""
    try:
        arguments = json.loads(raw) if raw else {}
    except json.JSONDecodeError:
        return "", raw
    if not isinstance(arguments, dict):
        return "", raw
    hint = next((str(arguments[key]) for key in _SUMMARY_KEYS if key in arguments), "")
    if "patch" in arguments and not hint:
        hint = f"{str(arguments['patch']).count(chr(10)) + 1} patch lines"
    return hint.splitlines()[0][:60] if hint else "", json.dumps(arguments, indent=2)


def clip(text: str, limit: int = MAX_SHOWN_LINES) -> str:
    """At most `limit` lines, saying how many more there are (the events pane has all)."""
    lines = text.splitlines()
    if len(lines) <= limit:
        return text
    return "\n".join([*lines[:limit], f"… {len(lines) - limit} more lines"])


class ToolCallBlock(Collapsible):
    """A tool call keyed by its call id: collapsed by default, opened when it fails."""

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
        self.hint, self.arguments = summarize_arguments(arguments)
        self.output = ""
        self._args = Static(escape(self.arguments), classes="tool-args")
        self._result = Static("[dim]running…[/dim]", classes="tool-output")
        super().__init__(self._args, self._result, title=self._heading("…"), collapsed=True)

    def _heading(self, status: str) -> str:
        hint = f" [dim]{escape(self.hint)}[/dim]" if self.hint else ""
        return f"[b]{escape(self.tool_name)}[/b]{hint}  {status}"

    def add_output(self, delta: str) -> None:
        """Append streamed output (e.g. from a shell) while the tool runs."""
        self.output += delta
        self._result.update(escape(clip(self.output)))

    def finish(self, output: str, is_error: bool, duration_ms: float | None) -> None:
        """Show the full result; an error opens the block."""
        self.output = output
        # Only slow tools show their time (fast ones would just be noise).
        took = f" {duration_ms / 1000:.1f} s" if duration_ms and duration_ms >= 1000 else ""
        self.title = self._heading(("✗ failed" if is_error else "✓") + took)
        self._result.update(escape(clip(output)) or "[dim](no output)[/dim]")
        self.set_class(is_error, "-error")
        if is_error:
            self.collapsed = False
