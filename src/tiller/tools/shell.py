"""`shell`: run a command in the session's sandbox copy of the workspace."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tiller.tools.base import FunctionTool, ToolContext

if TYPE_CHECKING:
    from tiller.shell.runner import ShellRunner

DESCRIPTION = (
    "Run a bash command and return its exit code and output (stdout and stderr together). "
    "It runs in a private sandbox copy of the workspace, with your in-memory edits applied, "
    "mounted at the project's own path; the user's real files are not reachable: files the "
    "command creates, changes or deletes come back into the workspace like your own edits, "
    "and reach the disk only when the user flushes. Ignored files (.gitignore) are not in the "
    "sandbox; .git is read-only (git status, diff and log work; commits fail). The rest of the "
    "machine is read-only, /tmp is private, and {network}. Every process the command starts "
    "ends when it ends (no servers left running). Binary files, symlinks and files over 10 MB "
    "it makes stay in the sandbox. Use it to run tests, linters, builds and scripts; prefer "
    "the file tools for reading and searching. Read-only commands (ls, cat, grep, git "
    "status/diff/log, ...) run at once; the user may be asked to approve others. "
    "Commands are stopped after `timeout_ms` (default {default} ms, at most 600000); nothing "
    "interactive can be answered."
)
UNCONFINED_DESCRIPTION = (
    "Run a bash command and return its exit code and output (stdout and stderr together). "
    "It runs in a private copy of the workspace with your in-memory edits applied: files the "
    "command creates, changes or deletes there come back into the workspace like your own "
    "edits. It is NOT confined: absolute paths reach the user's real machine, so stay inside "
    "the current directory. Read-only commands (ls, cat, grep, git status/diff/log, ...) "
    "run at once; the user may be asked to approve others. Commands are stopped after "
    "`timeout_ms` (default {default} ms, at most 600000); nothing interactive can be answered."
)


def _description(runner: ShellRunner) -> str:
    default = runner.settings.default_timeout_ms
    if not runner.confined:
        return UNCONFINED_DESCRIPTION.format(default=default)
    network = "the network is on" if runner.settings.network else "there is no network access"
    return DESCRIPTION.format(default=default, network=network)


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
        description=_description(runner),
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
