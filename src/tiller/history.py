"""The conversation as records, and its conversion to chat messages."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from tiller.model import ToolCall
from tiller.tools.registry import ToolResult

UserKind = Literal["user", "steering", "follow_up", "loop_warning"]


@dataclass(frozen=True, slots=True)
class UserTurn:
    """Text from the person (or a warning injected on their behalf)."""

    text: str
    kind: UserKind = "user"


@dataclass(frozen=True, slots=True)
class AssistantTurn:
    """What the model said and which tools it called."""

    text: str
    tool_calls: tuple[ToolCall, ...] = ()


@dataclass(frozen=True, slots=True)
class ToolResultsTurn:
    """The results of one round of tool calls, in call order."""

    results: tuple[ToolResult, ...] = field(default_factory=tuple)


Turn = UserTurn | AssistantTurn | ToolResultsTurn


def to_messages(system: str, history: list[Turn]) -> list[dict[str, Any]]:
    """OpenAI chat-format messages for `history` under `system` (litellm converts further)."""
    messages: list[dict[str, Any]] = [{"role": "system", "content": system}] if system else []
    for turn in history:
        if isinstance(turn, UserTurn):
            messages.append({"role": "user", "content": turn.text})
        elif isinstance(turn, AssistantTurn):
            message: dict[str, Any] = {"role": "assistant", "content": turn.text or None}
            if turn.tool_calls:
                message["tool_calls"] = [
                    {
                        "id": call.id,
                        "type": "function",
                        "function": {"name": call.name, "arguments": call.arguments or "{}"},
                    }
                    for call in turn.tool_calls
                ]
            messages.append(message)
        else:
            messages.extend(
                {"role": "tool", "tool_call_id": result.call_id, "content": result.model_output}
                for result in turn.results
            )
    return messages
