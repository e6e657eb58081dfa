"""`send_input`: give a subagent more instructions."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tiller.tools.base import FunctionTool, ToolContext

if TYPE_CHECKING:
    from tiller.subagents import SubagentPool


def send_input_tool(pool: SubagentPool) -> FunctionTool:
    """The `send_input` tool over `pool`."""

    def run(args: dict[str, Any], ctx: ToolContext) -> str:
        return pool.send_input(args["agent_id"], args["message"])

    return FunctionTool(
        name="send_input",
        description=(
            "Send a message to a subagent: steers it if it is still running, otherwise starts "
            "its next run with the message. Then call `wait` for the result."
        ),
        parameters={
            "type": "object",
            "properties": {
                "agent_id": {"type": "string"},
                "message": {"type": "string", "minLength": 1},
            },
            "required": ["agent_id", "message"],
            "additionalProperties": False,
        },
        handler=run,
    )
