"""`shell`: run a command in the session's sandbox copy of the workspace."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tiller.tools.base import FunctionTool, ToolContext

if TYPE_CHECKING:
    from tiller.shell.runner import ShellRunner

DESCRIPTION = (
    "Run a bash command and return its exit code and output (stdout and stderr together). "
    "It runs in a private sandbox copy of the workspace, with your in-memory edits applied, "
    "never in the user's real files: files the command creates, changes or deletes come back "
    "into the workspace like your own edits, and reach the disk only when the user flushes. "
    "Ignored files (.gitignore) and .git are not in the sandbox. Use it to run tests, linters, "
    "builds and scripts; prefer the file tools for reading and searching. The user may be "
    "asked to approve each command. Commands are stopped after `timeout_ms` "
    "(default {default} ms, at most 600000); nothing interactive can be answered."
)


def shell_tool(runner: ShellRunner) -> FunctionTool:
    """The `shell` tool backed by `runner`."""

    def run(args: dict[str, Any], ctx: ToolContext) -> str:
        return runner.run(
            args["command"],
            timeout_ms=args.get("timeout_ms"),
            description=args.get("description", ""),
            cancel=ctx.cancel,
            on_output=ctx.on_output,
            call_id=ctx.call_id,
        )

    return FunctionTool(
        name="shell",
        description=DESCRIPTION.format(default=runner.settings.default_timeout_ms),
        parameters={
            "type": "object",
            "properties": {
                "command": {"type": "string", "minLength": 1, "description": "The bash command."},
                "timeout_ms": {
                    "type": "integer",
                    "minimum": 1,
                    "description": "Stop the command after this many milliseconds.",
                },
                "description": {
                    "type": "string",
                    "description": "What the command does, in a few words, for the user.",
                },
            },
            "required": ["command"],
            "additionalProperties": False,
        },
        handler=run,
    )
