"""Past tool calls go back to any provider in a form it takes (ids and names)."""

from __future__ import annotations

import re
from typing import Any

from tiller.history import AssistantTurn, ToolResultsTurn, to_messages
from tiller.model import ToolCall
from tiller.tools.registry import ToolResult

SAFE_ID = re.compile(r"[A-Za-z0-9_-]{1,40}")


def _wire(call_ids: list[str]) -> list[dict[str, Any]]:
    calls = tuple(ToolCall(call_id, "read_file", "{}") for call_id in call_ids)
    results = tuple(
        ToolResult(call_id, "read_file", output="x", model_output="x") for call_id in call_ids
    )
    return to_messages("", [AssistantTurn("", calls), ToolResultsTurn(results)])


def test_ids_another_provider_made_stay_paired_and_distinct() -> None:
    """Ids that differ only in characters no provider takes stay distinct, each paired with
    its result, and every one is a safe id."""
    assistant, *results = _wire(["a:1", "a.1", "x" * 41])
    ids = [call["id"] for call in assistant["tool_calls"]]
    assert (
        len(set(ids)),
        [r["tool_call_id"] for r in results] == ids,
        all(SAFE_ID.fullmatch(i) for i in ids),
    ) == (3, True, True)


def test_a_safe_id_goes_back_as_it_came() -> None:
    """An id every provider takes is sent back unchanged (prompt caches keep matching)."""
    assistant, _result = _wire(["toolu_01A-b_c"])
    assert assistant["tool_calls"][0]["id"] == "toolu_01A-b_c"


def test_reasoning_that_names_a_call_names_it_as_the_call_goes_back() -> None:
    """OpenRouter's encrypted reasoning for a call carries the call's id: when the id goes
    back as a digest, the reasoning names the same digest (the signature stays attached)."""
    long_id = "tool_0_read_file_" + "x" * 40
    detail = {"type": "reasoning.encrypted", "id": long_id, "data": "sig", "format": "f"}
    turn = AssistantTurn("", (ToolCall(long_id, "read_file", "{}"),), (detail,))
    [message] = to_messages("", [turn])
    assert message["thinking_blocks"][0]["id"] == message["tool_calls"][0]["id"]
