"""A scripted model for fast engine tests: no network, no litellm, no mocks.

Each call to `complete` plays the next `Step`. A step can hold on a gate (so a
test can steer or cancel at a known point), stream its text in chunks, issue
tool calls, or raise a provider error.
"""

from __future__ import annotations

import json
import threading
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from tiller.model import ModelRequest, ModelResponse, ToolCall, Usage


@dataclass
class Step:
    """One scripted model response.

    Attributes:
        text: assistant text, streamed in `chunks` (or in one piece).
        tool_calls: (name, arguments) pairs; a dict is JSON-encoded, a str is sent raw.
        chunks: explicit text chunks (overrides splitting `text`).
        gate: when given, the step waits for it before answering (cancel still works).
        reached: set when the step starts, so a test knows the model is "thinking".
        error: raised instead of answering (e.g. `ProviderError("boom")`).
        usage: the usage the response reports.
        on_chunk: called after each chunk is streamed (lets a test act mid-stream).
        reasoning: thinking text streamed (through `on_reasoning`) before the answer.
        thinking_blocks: the signed thinking blocks the response carries.
    """

    text: str = ""
    tool_calls: Sequence[tuple[str, dict[str, Any] | str]] = ()
    chunks: Sequence[str] | None = None
    gate: threading.Event | None = None
    reached: threading.Event = field(default_factory=threading.Event)
    error: Exception | None = None
    usage: Usage = field(default_factory=lambda: Usage(10, 5))
    on_chunk: Callable[[int], None] | None = None
    reasoning: str = ""
    thinking_blocks: Sequence[dict[str, Any]] = ()


def call(name: str, **arguments: Any) -> Step:
    """A step that calls one tool."""
    return Step(tool_calls=[(name, arguments)])


class ScriptedModel:
    """A `ModelClient` that replays `steps` in order and records every request.

    Args:
        steps: the responses to give; a plain string is a text-only step.
        model: the model id it reports (profile selection looks at it).
        window: the context window it claims (None: unknown).
    """

    def __init__(
        self,
        steps: Iterable[Step | str] = (),
        *,
        model: str = "scripted/claude-test",
        window: int | None = None,
    ) -> None:
        self.model = model
        self.window = window
        self.requests: list[ModelRequest] = []
        self._steps: deque[Step] = deque(Step(text=s) if isinstance(s, str) else s for s in steps)
        self._lock = threading.Lock()
        self._ids = 0

    def add(self, *steps: Step | str) -> None:
        """Queue more steps."""
        with self._lock:
            self._steps.extend(Step(text=s) if isinstance(s, str) else s for s in steps)

    @property
    def remaining(self) -> int:
        return len(self._steps)

    def context_window(self, model: str) -> int | None:
        return self.window

    def complete(
        self,
        request: ModelRequest,
        *,
        on_text: Callable[[str], None],
        cancel: threading.Event,
        on_retry: Callable[[str], None] | None = None,
        on_reasoning: Callable[[str], None] | None = None,
    ) -> ModelResponse:
        with self._lock:
            self.requests.append(request)
            if not self._steps:
                raise AssertionError(
                    f"ScriptedModel: no step left for request {len(self.requests)}"
                )
            step = self._steps.popleft()
        step.reached.set()
        if step.gate is not None:
            # Short slices so a cancel is honoured while the gate is closed.
            while not step.gate.wait(0.01):
                if cancel.is_set():
                    return ModelResponse(finish_reason="cancelled")
        if step.error is not None:
            raise step.error
        if step.reasoning and on_reasoning is not None:
            on_reasoning(step.reasoning)
        text = ""
        chunks = step.chunks if step.chunks is not None else ([step.text] if step.text else [])
        for index, chunk in enumerate(chunks):
            if cancel.is_set():
                return ModelResponse(text=text, usage=step.usage, finish_reason="cancelled")
            text += chunk
            on_text(chunk)
            if step.on_chunk is not None:
                step.on_chunk(index)
        if cancel.is_set():
            return ModelResponse(text=text, usage=step.usage, finish_reason="cancelled")
        calls = [self._tool_call(name, args) for name, args in step.tool_calls]
        return ModelResponse(
            text=text,
            tool_calls=calls,
            usage=step.usage,
            finish_reason="tool_calls" if calls else "stop",
            reasoning=step.reasoning,
            thinking_blocks=[dict(block) for block in step.thinking_blocks],
        )

    def _tool_call(self, name: str, args: dict[str, Any] | str) -> ToolCall:
        with self._lock:
            self._ids += 1
            call_id = f"call_{self._ids}"
        raw = args if isinstance(args, str) else json.dumps(args)
        return ToolCall(id=call_id, name=name, arguments=raw)
