"""`write_file`: create a file or replace its whole content."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tiller.tools.base import FILE_PATH, FunctionTool, ToolContext
from tiller.tools.printable import printable_handler

if TYPE_CHECKING:
    from tiller.workspace import Workspace

DESCRIPTION = (
    "Create a file, or replace an existing file's entire content, in the workspace. Missing "
    "parent directories are created. Use it for new files and for complete rewrites; to "
    "change part of an existing file, use the editing tool instead so unrelated lines stay "
    "untouched. Read an existing file before overwriting it. Changes stay in the in-memory "
    "workspace until the user flushes them to disk."
)


def write_file_tool(workspace: Workspace) -> FunctionTool:
    """The `write_file` tool over `workspace`."""

    def run(args: dict[str, Any], ctx: ToolContext) -> str:
        path = args["file_path"]
        content = args["content"]
        existed = workspace.exists(path)
        workspace.write(path, content)
        size = len(content.encode("utf-8"))
        unit = "byte" if size == 1 else "bytes"
        return f"{'Overwrote' if existed else 'Created'} {path} ({size} {unit} written)."

    return FunctionTool(
        name="write_file",
        description=DESCRIPTION,
        parameters={
            "type": "object",
            "properties": {
                "file_path": FILE_PATH,
                "content": {
                    "type": "string",
                    "description": "The complete new content of the file.",
                },
            },
            "required": ["file_path", "content"],
            "additionalProperties": False,
        },
        handler=printable_handler(run),
    )
