"""`spawn_agent`: start a child agent on the same workspace."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tiller.tools.base import FunctionTool, ToolContext

if TYPE_CHECKING:
    from tiller.subagents import SubagentPool

DESCRIPTION = (
    "Start a subagent: a separate agent with its own conversation that works on the same "
    "in-memory workspace as you. Use it for a self-contained piece of work you can describe "
    "fully in `task` (it cannot see your conversation). It runs in the background; call "
    "`wait` with the returned agent_id to get its final answer."
)


def spawn_agent_tool(pool: SubagentPool) -> FunctionTool:
    """The `spawn_agent` tool over `pool`."""

    def run(args: dict[str, Any], ctx: ToolContext) -> str:
        agent = pool.spawn(
            args["task"],
            working_dir=args.get("working_dir"),
            model=args.get("model"),
            max_turns=args.get("max_turns"),
            call_id=ctx.call_id,
        )
        return f"Started {agent.id}. Call wait with agent_id={agent.id!r} for its result."

    return FunctionTool(
        name="spawn_agent",
        description=DESCRIPTION,
        parameters={
            "type": "object",
            "properties": {
                "task": {"type": "string", "minLength": 1, "description": "Complete instructions."},
                "working_dir": {
                    "type": "string",
                    "description": "Directory, relative to the root.",
                },
                "model": {"type": "string", "description": "Model id; default: yours."},
                "max_turns": {"type": "integer", "minimum": 1, "maximum": 200},
            },
            "required": ["task"],
            "additionalProperties": False,
        },
        handler=run,
    )
