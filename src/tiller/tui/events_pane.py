"""The events pane: lifecycle events as they happen (streaming deltas are counted, not listed)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from rich.text import Text
from textual.widgets import RichLog

from tiller.terminal_text import visible

if TYPE_CHECKING:
    from tiller.events import Event

_DELTAS = {"assistant_text_delta", "tool_call_output_delta"}
_DETAIL_KEYS = (
    "agent_id",
    "name",
    "path",
    "action",
    "stop_reason",
    "message",
    "kind",
    "text",
    "model",
)


def describe(event: Event) -> str:
    """A one-line summary of an event's data."""
    data = event.data
    parts = []
    for key in _DETAIL_KEYS:
        value = data.get(key)
        if value not in (None, ""):
            parts.append(f"{key}={visible(str(value).split(chr(10))[0][:50])}")
    if event.kind == "usage":
        parts.append(f"in={data.get('input_tokens', 0)} out={data.get('output_tokens', 0)}")
    if event.kind == "context_compacted":
        parts.append(f"{data.get('tokens_before')} -> {data.get('tokens_after')} tokens")
    if event.kind == "tool_call_end":
        skipped = data.get("skipped")
        parts.append(
            f"skipped ({skipped})" if skipped else "error" if data.get("is_error") else "ok"
        )
    return " ".join(parts)


class EventsPane(RichLog):
    """Every event except streaming deltas, one line each, with the local time."""

    DEFAULT_CSS = """
    EventsPane { height: 10; border-top: solid $primary-darken-2; background: $surface; }
    """

    def __init__(self, clock: Callable[[], float] = time.time, *, id: str | None = None) -> None:
        super().__init__(id=id, max_lines=2000, wrap=False, markup=False, highlight=False)
        self.clock = clock
        self.deltas = 0

    def add(self, event: Event) -> None:
        if event.kind in _DELTAS:
            self.deltas += 1
            return
        stamp = time.strftime("%H:%M:%S", time.localtime(self.clock()))
        line = Text.assemble(
            (stamp + " ", "dim"), (f"{event.kind.value:<22}", "bold"), describe(event)
        )
        if event.kind in ("assistant_text_end", "processing_end") and self.deltas:
            line.append(f" ({self.deltas} deltas)", style="dim")
            self.deltas = 0
        self.write(line)
