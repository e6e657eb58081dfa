"""`wait`: block until a subagent's run ends and return its result."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from tiller.tools.base import FunctionTool, ToolContext

if TYPE_CHECKING:
    from tiller.subagents import SubagentPool


def wait_tool(pool: SubagentPool) -> FunctionTool:
    """The `wait` tool over `pool`."""

    def run(args: dict[str, Any], ctx: ToolContext) -> str:
        timeout_ms = args.get("timeout_ms")
        result = pool.wait(args["agent_id"], None if timeout_ms is None else timeout_ms / 1000)
        return json.dumps(result, ensure_ascii=False)

    return FunctionTool(
        name="wait",
        description=(
            "Wait for a subagent to finish its current run. Returns JSON with `output` "
            "(its final answer), `success` and `turns_used`."
        ),
        parameters={
            "type": "object",
            "properties": {
                "agent_id": {"type": "string"},
                "timeout_ms": {"type": "integer", "minimum": 1},
            },
            "required": ["agent_id"],
            "additionalProperties": False,
        },
        handler=run,
    )
