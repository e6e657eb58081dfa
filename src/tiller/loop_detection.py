"""Spot a model calling the same tools with the same arguments over and over."""

from __future__ import annotations

import json
from collections import deque

from tiller.model import ToolCall

LOOP_WARNING = (
    "Loop detected: your recent tool calls repeat the same pattern with identical "
    "arguments. Stop repeating them; try a different approach, or explain what is "
    "blocking you."
)


def signature(call: ToolCall) -> str:
    """Name plus canonical arguments, so key order and spacing don't hide a repeat."""
    try:
        args = json.dumps(json.loads(call.arguments or "{}"), sort_keys=True)
    except (ValueError, RecursionError):  # not JSON, or nested past the parser
        args = call.arguments
    return f"{call.name}:{args}"


class LoopDetector:
    """Remembers the last `window` tool-call signatures."""

    def __init__(self, window: int = 10) -> None:
        self._recent: deque[str] = deque(maxlen=window)

    def record(self, call: ToolCall) -> None:
        self._recent.append(signature(call))

    def looping(self) -> int | None:
        """The length (1, 2 or 3) of a pattern repeating across the whole window, else None."""
        if len(self._recent) < (self._recent.maxlen or 0):
            return None
        items = list(self._recent)
        for period in (1, 2, 3):
            if all(items[i] == items[i - period] for i in range(period, len(items))):
                return period
        return None

    def reset(self) -> None:
        self._recent.clear()
