"""`list_dir`: the entries of one directory."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tiller.tools.base import FunctionTool, ToolContext
from tiller.tools.printable import printable_handler

if TYPE_CHECKING:
    from tiller.workspace import Workspace

DESCRIPTION = (
    "List the files and directories directly inside a workspace directory, one per line, "
    "sorted; directory names end with `/`. `path` is relative to the workspace root (the "
    "root itself by default). Use it to get oriented; use `glob` to find files at any depth."
)


def list_dir_tool(workspace: Workspace) -> FunctionTool:
    """The `list_dir` tool over `workspace`."""

    def run(args: dict[str, Any], ctx: ToolContext) -> str:
        path = args.get("path", "")
        entries = workspace.list_dir(path)
        if not entries:
            return f"{path or 'The workspace root'} is empty."
        return "\n".join(entries)

    return FunctionTool(
        name="list_dir",
        description=DESCRIPTION,
        parameters={
            "type": "object",
            "properties": {
                "path": {
                    "type": "string",
                    "default": "",
                    "description": "Directory to list; the workspace root by default.",
                },
            },
            "additionalProperties": False,
        },
        handler=printable_handler(run),
        parallel_safe=True,
    )
