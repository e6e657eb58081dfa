"""What `tiller run` says besides the answer: a progress line on a terminal, the `result` record."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TextIO

from tiller.events import Event, EventKind
from tiller.terminal_text import visible

if TYPE_CHECKING:
    from tiller.session import Session


def progress_line(stream: TextIO) -> Callable[[Event], None]:
    """A subscriber that keeps one line on `stream` up to date: round, tool, elapsed time.

    Only for a terminal: the line is redrawn in place with a carriage return and
    cleared when the session ends.
    """
    started = time.monotonic()
    state = {"round": 0, "doing": "thinking"}

    def show(event: Event) -> None:
        kind = event.kind
        if kind is EventKind.USAGE:
            state["round"] += 1
            state["doing"] = "thinking"
        elif kind is EventKind.TOOL_CALL_START:
            # The model names the tool: a name is shown as it is, never obeyed, and short.
            state["doing"] = visible(str(event.data.get("name", "tool"))[:40])
        elif kind is EventKind.ASSISTANT_TEXT_DELTA:
            state["doing"] = "writing"
        elif kind is EventKind.MODEL_CLIENT_LOADING:
            state["doing"] = "loading model client…"
        elif kind is EventKind.SESSION_END or kind is EventKind.PROCESSING_END:
            stream.write("\r\x1b[2K")
            stream.flush()
            return
        else:
            return
        elapsed = int(time.monotonic() - started)
        stream.write(f"\r\x1b[2Ktiller: round {state['round'] + 1} · {state['doing']} · {elapsed}s")
        stream.flush()

    return show


def result_record(session: Session, outcome: dict[str, Any], changed: list[str]) -> str:
    """The last `--json` line: how the run ended, its size and cost, what it changed."""
    from tiller.json_lines import dumps_line

    usage = session.usage
    data = {
        "stop_reason": outcome.get("stop_reason", "error"),
        "rounds": outcome.get("rounds", 0),
        "usage": {
            "input_tokens": usage.input_tokens,
            "output_tokens": usage.output_tokens,
            "cache_read_tokens": usage.cache_read_tokens,
            "cache_write_tokens": usage.cache_write_tokens,
        },
        "cost_usd": usage.cost_usd,
        "files_changed": changed,
        "session_id": session.id,
    }
    record = {"kind": "result", "session_id": session.id, "timestamp": time.time(), "data": data}
    return dumps_line(record, compact=False)
