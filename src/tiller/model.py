"""The model seam: what the engine sends to a model and what comes back.

`llm.LiteLLMClient` is the real implementation; `testing.ScriptedModel` is the
fast fake. Neither needs to inherit from anything.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol


@dataclass(frozen=True, slots=True)
class ToolCall:
    """A tool call as the model issued it; `arguments` is the raw JSON text."""

    id: str
    name: str
    arguments: str


@dataclass(slots=True)
class Usage:
    """Token counts and cost; `cost_usd` is None when the price is unknown."""

    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    cost_usd: float | None = 0.0

    def add(self, other: Usage) -> None:
        """Accumulate `other` into this usage; an unknown cost stays unknown."""
        self.input_tokens += other.input_tokens
        self.output_tokens += other.output_tokens
        self.cache_read_tokens += other.cache_read_tokens
        self.cache_write_tokens += other.cache_write_tokens
        if self.cost_usd is None or other.cost_usd is None:
            self.cost_usd = None
        else:
            self.cost_usd += other.cost_usd

    def to_dict(self) -> dict[str, Any]:
        return {
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "cache_read_tokens": self.cache_read_tokens,
            "cache_write_tokens": self.cache_write_tokens,
            "cost_usd": self.cost_usd,
        }


@dataclass(frozen=True, slots=True)
class ModelRequest:
    """One call to a model.

    Attributes:
        model: litellm model id.
        messages: OpenAI chat-format messages, system prompt first.
        tools: OpenAI function-tool schemas.
        options: extra keyword arguments for the provider (api_base, temperature, ...).

    The message and tool dicts are shared with later requests (the engine caches
    them), so a client must treat them as read-only and copy what it changes.
    """

    model: str
    messages: list[dict[str, Any]]
    tools: list[dict[str, Any]] = field(default_factory=list)
    options: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class ModelResponse:
    """What one model call produced. `finish_reason` is `cancelled` when cut short.

    `reasoning` is the thinking text shown to the person; `thinking_blocks` are the
    provider's signed (or redacted) thinking blocks, which must go back with the
    assistant message (Anthropic rejects a tool-use turn without them).
    """

    text: str = ""
    tool_calls: list[ToolCall] = field(default_factory=list)
    usage: Usage = field(default_factory=Usage)
    finish_reason: str = "stop"
    reasoning: str = ""
    thinking_blocks: list[dict[str, Any]] = field(default_factory=list)


class ModelClient(Protocol):
    """Anything that can answer a `ModelRequest`, streaming text through `on_text`.

    Thinking text, when the model shows it, streams through `on_reasoning`.

    Implementations must check `cancel` between stream chunks and return early
    (with `finish_reason="cancelled"`) once it is set. Provider failures raise
    `ProviderError` / `AuthError` / `ContextOverflowError` after any retries;
    `on_retry` is told (in a sentence) about each retry before its wait.
    """

    def complete(
        self,
        request: ModelRequest,
        *,
        on_text: Callable[[str], None],
        cancel: threading.Event,
        on_retry: Callable[[str], None] | None = None,
        on_reasoning: Callable[[str], None] | None = None,
    ) -> ModelResponse: ...

    def context_window(self, model: str) -> int | None:
        """The model's context window in tokens, None when unknown."""
        ...
