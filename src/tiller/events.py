"""Events: the engine's only output. Front ends subscribe to them."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class EventKind(StrEnum):
    """Every kind of event a session emits."""

    SESSION_START = "session_start"
    SESSION_END = "session_end"
    USER_INPUT = "user_input"
    PROCESSING_END = "processing_end"
    ASSISTANT_TEXT_START = "assistant_text_start"
    ASSISTANT_TEXT_DELTA = "assistant_text_delta"
    ASSISTANT_TEXT_END = "assistant_text_end"
    ASSISTANT_REASONING_DELTA = "assistant_reasoning_delta"
    TOOL_CALL_START = "tool_call_start"
    TOOL_CALL_OUTPUT_DELTA = "tool_call_output_delta"
    TOOL_CALL_END = "tool_call_end"
    STEERING_INJECTED = "steering_injected"
    TURN_LIMIT = "turn_limit"
    LOOP_DETECTION = "loop_detection"
    WARNING = "warning"
    ERROR = "error"
    WORKSPACE_CHANGED = "workspace_changed"
    SKILL_LOADED = "skill_loaded"
    SUBAGENT_STARTED = "subagent_started"
    SUBAGENT_FINISHED = "subagent_finished"
    APPROVAL_REQUESTED = "approval_requested"
    USAGE = "usage"
    CONTEXT_COMPACTED = "context_compacted"
    # A model call is waiting for its client library to load (litellm's import, seconds).
    MODEL_CLIENT_LOADING = "model_client_loading"


@dataclass(frozen=True, slots=True)
class Event:
    """One thing that happened in a session.

    Attributes:
        kind: what happened.
        session_id: the session that emitted it.
        data: kind-specific payload (JSON-serialisable, except an approval's future).
        timestamp: seconds since the epoch.
    """

    kind: EventKind
    session_id: str
    data: dict[str, Any] = field(default_factory=dict)
    timestamp: float = field(default_factory=time.time)

    def to_dict(self) -> dict[str, Any]:
        """The event as plain data with stable field names."""
        return {
            "kind": self.kind.value,
            "session_id": self.session_id,
            "timestamp": self.timestamp,
            "data": self.data if "future" not in self.data else _without_future(self.data),
        }

    def to_json(self) -> str:
        """The event as one JSON line (non-serialisable values become strings)."""
        return json.dumps(self.to_dict(), default=str, ensure_ascii=False)


def _without_future(data: dict[str, Any]) -> dict[str, Any]:
    # A pending approval's future is for in-process front ends, not for JSON.
    return {key: value for key, value in data.items() if key != "future"}


Subscriber = Callable[[Event], None]

SKIPPED_OUTPUTS = {
    "steering": "Skipped: the user sent a steering message",
    "cancelled": "Cancelled: the user interrupted the run before this tool ran",
}
"""The result of a call that never ran, by the `skipped` value its `TOOL_CALL_END` carries."""

EDIT_TOOLS = frozenset({"write_file", "edit_file", "apply_patch"})
"""Tools whose calls change named files: their `TOOL_CALL_END` carries that call's `diff`."""
