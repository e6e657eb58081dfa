"""`close_agent`: stop a subagent and forget it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tiller.tools.base import FunctionTool, ToolContext

if TYPE_CHECKING:
    from tiller.subagents import SubagentPool


def close_agent_tool(pool: SubagentPool) -> FunctionTool:
    """The `close_agent` tool over `pool`."""

    def run(args: dict[str, Any], ctx: ToolContext) -> str:
        return pool.close(args["agent_id"])

    return FunctionTool(
        name="close_agent",
        description="Stop a subagent (its workspace edits stay) and release it.",
        parameters={
            "type": "object",
            "properties": {"agent_id": {"type": "string"}},
            "required": ["agent_id"],
            "additionalProperties": False,
        },
        handler=run,
    )
