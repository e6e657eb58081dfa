"""The conversation as records, and its conversion to chat messages."""

from __future__ import annotations

import hashlib
import re
import threading
from dataclasses import dataclass, field
from typing import Any, Literal

from tiller.model import ToolCall
from tiller.tools.registry import ToolResult

UserKind = Literal["user", "steering", "follow_up", "loop_warning", "summary"]


@dataclass(frozen=True, slots=True)
class UserTurn:
    """Text from the person (or a warning, or a compaction summary, injected on their behalf)."""

    text: str
    kind: UserKind = "user"


@dataclass(frozen=True, slots=True)
class AssistantTurn:
    """What the model said and which tools it called.

    `thinking_blocks` are the provider's signed (or redacted) thinking blocks, sent
    back verbatim with this turn: Anthropic requires them before a `tool_use`.
    """

    text: str
    tool_calls: tuple[ToolCall, ...] = ()
    thinking_blocks: tuple[dict[str, Any], ...] = ()


@dataclass(frozen=True, slots=True)
class ToolResultsTurn:
    """The results of one round of tool calls, in call order."""

    results: tuple[ToolResult, ...] = field(default_factory=tuple)


Turn = UserTurn | AssistantTurn | ToolResultsTurn


def to_messages(system: str, history: list[Turn]) -> list[dict[str, Any]]:
    """OpenAI chat-format messages for `history` under `system` (litellm converts further)."""
    messages: list[dict[str, Any]] = [{"role": "system", "content": system}] if system else []
    for turn in history:
        messages.extend(turn_messages(turn))
    return messages


def turn_messages(turn: Turn) -> list[dict[str, Any]]:
    """The chat messages one turn becomes (a tool-results turn becomes one per result)."""
    if isinstance(turn, UserTurn):
        return [{"role": "user", "content": turn.text}]
    if isinstance(turn, AssistantTurn):
        message: dict[str, Any] = {"role": "assistant", "content": turn.text or None}
        if turn.tool_calls:
            message["tool_calls"] = [
                {
                    "id": wire_id(call.id),
                    "type": "function",
                    "function": {"name": wire_name(call.name), "arguments": call.arguments or "{}"},
                }
                for call in turn.tool_calls
            ]
        if turn.thinking_blocks:
            # litellm turns these back into Anthropic's thinking content blocks.
            calls = {call.id for call in turn.tool_calls}
            message["thinking_blocks"] = [_paired(block, calls) for block in turn.thinking_blocks]
        return [message]
    return [
        {"role": "tool", "tool_call_id": wire_id(result.call_id), "content": result.model_output}
        for result in turn.results
    ]


# What every provider takes back in a conversation: OpenAI refuses a past call whose id
# is over 40 characters or whose name is not `[A-Za-z0-9_-]`; Anthropic a `tool_use` id
# outside `[A-Za-z0-9_-]`. Ids from another provider (`functions.read_file:0`, a long
# generated one) or a name the model made up (`multi_tool_use.parallel`) would fail every
# later request of the conversation, after a `/model` switch too.
_WIRE_ID = re.compile(r"[A-Za-z0-9_-]{1,40}")
_WIRE_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")
_NOT_NAME = re.compile(r"[^A-Za-z0-9_-]")


def wire_id(call_id: str) -> str:
    """`call_id` as every provider takes it back: itself when it already is, else a
    digest of it (the same for the call and its result, distinct for distinct ids)."""
    if _WIRE_ID.fullmatch(call_id):
        return call_id
    digest = hashlib.sha256(call_id.encode("utf-8", "surrogatepass")).hexdigest()
    return f"call_{digest[:32]}"


def _paired(block: dict[str, Any], call_ids: set[str]) -> dict[str, Any]:
    """A thinking block that names one of the turn's calls (OpenRouter's encrypted reasoning
    for a Gemini call carries its id) names it as the call goes back (`wire_id`)."""
    block_id = block.get("id")
    if isinstance(block_id, str) and block_id in call_ids:
        return {**block, "id": wire_id(block_id)}
    return dict(block)


def wire_name(name: str) -> str:
    """A tool name as every provider takes it back (only a name no tool has can differ)."""
    if _WIRE_NAME.fullmatch(name):
        return name
    return _NOT_NAME.sub("_", name)[:64] or "unknown_tool"


def without_thinking_blocks(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """`messages` minus `thinking_blocks` (only Claude takes them; OpenAI rejects the key).

    Messages that carry none are returned as they are (the same dicts).
    """
    return [
        {k: v for k, v in message.items() if k != "thinking_blocks"}
        if "thinking_blocks" in message
        else message
        for message in messages
    ]


class MessageCache:
    """`to_messages` that converts only the turns added since the last call.

    A history usually only grows; the turns converted last time are compared
    (by value, which is by identity when unchanged) with the start of the
    history given, and only the rest is converted. Any other change (a reset,
    a replaced list, an edited turn) converts the whole history again.

    The message dicts are shared between the lists returned: model clients
    must treat them as read-only.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._turns: list[Turn] = []
        self._messages: list[dict[str, Any]] = []
        self._system: dict[str, Any] = {"role": "system", "content": ""}

    def messages(self, system: str, history: list[Turn]) -> list[dict[str, Any]]:
        """What `to_messages(system, history)` returns, reusing earlier conversions."""
        with self._lock:
            done = len(self._turns)
            if len(history) < done or history[:done] != self._turns:
                self._turns, self._messages, done = [], [], 0
            for turn in history[done:]:
                self._messages.extend(turn_messages(turn))
                self._turns.append(turn)
            if not system:
                return list(self._messages)
            if self._system["content"] != system:
                self._system = {"role": "system", "content": system}
            return [self._system, *self._messages]


def with_reasoning_details(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """`messages` with OpenRouter's reasoning details moved from `thinking_blocks` to
    `reasoning_details`, and Anthropic's own blocks left out."""
    out = []
    for message in messages:
        blocks = message.get("thinking_blocks")
        if blocks is None:
            out.append(message)
            continue
        message = {k: v for k, v in message.items() if k != "thinking_blocks"}
        details = [b for b in blocks if str(b.get("type", "")).startswith("reasoning.")]
        if details:
            message["reasoning_details"] = details
        out.append(message)
    return out
