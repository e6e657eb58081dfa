"""Checks shared by the journal tests: is a context one every provider accepts?"""

from __future__ import annotations

from typing import Any


def unanswered_calls(messages: list[dict[str, Any]]) -> list[str]:
    """Tool call ids without a tool message right after their assistant message, plus
    tool messages that answer no call (both are rejected by providers)."""
    problems: list[str] = []
    pending: list[str] = []
    for message in messages:
        if message["role"] == "tool":
            if message["tool_call_id"] in pending:
                pending.remove(message["tool_call_id"])
            else:
                problems.append(f"orphan {message['tool_call_id']}")
            continue
        problems += pending
        pending = [c["id"] for c in message.get("tool_calls") or []]
    return problems + pending
