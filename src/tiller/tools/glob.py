"""`glob`: find files by path pattern."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tiller.tools.base import FunctionTool, ToolContext
from tiller.tools.printable import printable_handler

if TYPE_CHECKING:
    from tiller.workspace import Workspace

DESCRIPTION = (
    "Find files in the workspace whose path matches a glob pattern. `*` and `?` match within "
    "one path segment, `**` spans directories, `{a,b}` gives alternatives: `**/*.py`, "
    "`src/**/test_*.ts`, `*.{md,txt}`. The pattern is relative to `path` (the workspace root "
    "by default). Returns one path per line, most recently modified first. Use it to find "
    "files by name; use `grep` to search their contents."
)


def glob_tool(workspace: Workspace) -> FunctionTool:
    """The `glob` tool over `workspace`."""

    def run(args: dict[str, Any], ctx: ToolContext) -> str:
        pattern = args["pattern"]
        path = args.get("path", "")
        matches = workspace.glob(pattern, path)
        if not matches:
            where = f" under {path}" if path else ""
            return f"No files matched {pattern!r}{where}."
        return "\n".join(matches)

    return FunctionTool(
        name="glob",
        description=DESCRIPTION,
        parameters={
            "type": "object",
            "properties": {
                "pattern": {
                    "type": "string",
                    "minLength": 1,
                    "description": "Glob pattern, e.g. `**/*.py`.",
                },
                "path": {
                    "type": "string",
                    "default": "",
                    "description": "Directory to search in; the workspace root by default.",
                },
            },
            "required": ["pattern"],
            "additionalProperties": False,
        },
        handler=printable_handler(run),
        parallel_safe=True,
    )
