"""`edit_file`: replace an exact piece of a file."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tiller.tools.base import FILE_PATH, FunctionTool, ToolContext
from tiller.tools.printable import printable_handler

if TYPE_CHECKING:
    from tiller.workspace import Workspace

DESCRIPTION = (
    "Edit a file by replacing an exact string. `old_string` must match the file exactly, "
    "whitespace and indentation included (copy it from `read_file` output without the "
    "line-number prefix), and must occur exactly once unless `replace_all` is true; include "
    "a few surrounding lines to make it unique. `new_string` replaces it and must differ. "
    "Use `replace_all` to rename something throughout the file. Read the file first. To "
    "create a file or rewrite it entirely, use `write_file`."
)


def edit_file_tool(workspace: Workspace) -> FunctionTool:
    """The `edit_file` tool over `workspace`."""

    def run(args: dict[str, Any], ctx: ToolContext) -> str:
        path = args["file_path"]
        count = workspace.edit(
            path, args["old_string"], args["new_string"], args.get("replace_all", False)
        )
        return f"Replaced {count} {'occurrence' if count == 1 else 'occurrences'} in {path}."

    return FunctionTool(
        name="edit_file",
        description=DESCRIPTION,
        parameters={
            "type": "object",
            "properties": {
                "file_path": FILE_PATH,
                "old_string": {
                    "type": "string",
                    "description": "The exact text to replace.",
                },
                "new_string": {
                    "type": "string",
                    "description": "The text to put in its place.",
                },
                "replace_all": {
                    "type": "boolean",
                    "default": False,
                    "description": "Replace every occurrence instead of exactly one.",
                },
            },
            "required": ["file_path", "old_string", "new_string"],
            "additionalProperties": False,
        },
        handler=printable_handler(run),
    )
