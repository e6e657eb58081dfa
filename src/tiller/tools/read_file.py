"""`read_file`: a file's lines with their numbers, a page at a time."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from tiller.errors import ToolError
from tiller.tools.base import FILE_PATH, FunctionTool, ToolContext
from tiller.tools.printable import printable_handler

if TYPE_CHECKING:
    from tiller.workspace import Workspace

DEFAULT_LIMIT = 2000
MAX_LINE_CHARS = 2000
"""Longer lines are cut so one minified line cannot fill the model's context."""

DESCRIPTION = (
    "Read a text file from the workspace. Each line is returned prefixed with its 1-based "
    "number, right-aligned, and ` | ` (`    12 | text`); the prefix is not part of the file, "
    "so never copy it into edits. Returns up to `limit` lines (default 2000) starting at "
    "line `offset` (default 1); when more remain, the output ends with the offset to continue "
    "from. Read a file before editing it. Use `grep` to find where something is and `glob` "
    "to find files by name; binary files cannot be read."
)


def number_lines(
    lines: list[str], first: int, dropped: Mapping[int, int] | None = None, endless: bool = False
) -> str:
    """`lines` numbered from `first`, one `{n:>6} | {text}` row each, long lines cut.

    `dropped` names lines a streamed read already cut (number -> bytes left
    out); `endless` says the last one runs on further than the read looked.
    """
    rows = []
    last = first + len(lines) - 1
    for number, line in enumerate(lines, first):
        left_out = dropped.get(number) if dropped else None
        if endless and number == last:
            line = f"{line}... [line truncated; it runs on further than Tiller reads]"
        elif left_out is not None:
            line = f"{line}... [line truncated, {left_out} more bytes]"
        elif len(line) > MAX_LINE_CHARS:
            cut = len(line) - MAX_LINE_CHARS
            line = f"{line[:MAX_LINE_CHARS]}... [line truncated, {cut} more characters]"
        rows.append(f"{number:>6} | {line}")
    return "\n".join(rows)


def read_file_tool(workspace: Workspace) -> FunctionTool:
    """The `read_file` tool over `workspace`."""

    def run(args: dict[str, Any], ctx: ToolContext) -> str:
        path = args["file_path"]
        offset = args.get("offset", 1)
        limit = args.get("limit", DEFAULT_LIMIT)
        # A range, not the whole file: a huge file is streamed instead of refused.
        found = workspace.read_range(path, offset, limit)
        if found.total == 0:
            return f"{path} is empty (0 lines)."
        if not found.lines:
            raise ToolError(
                f"offset {offset} is past the end of {path}, which has {found.total} lines"
            )
        text = number_lines(found.lines, offset, found.dropped, found.endless)
        if found.more:
            next_offset = offset + len(found.lines)
            if found.total is None:
                text += f"\n[... more lines follow; use offset={next_offset} to continue]"
            else:
                remaining = found.total - (next_offset - 1)
                noun = "line" if remaining == 1 else "lines"
                text += f"\n[... {remaining} more {noun}; use offset={next_offset} to continue]"
        return text

    return FunctionTool(
        name="read_file",
        description=DESCRIPTION,
        parameters={
            "type": "object",
            "properties": {
                "file_path": FILE_PATH,
                "offset": {
                    "type": "integer",
                    "minimum": 1,
                    "default": 1,
                    "description": "1-based line number to start reading at.",
                },
                "limit": {
                    "type": "integer",
                    "minimum": 1,
                    "default": DEFAULT_LIMIT,
                    "description": "Maximum number of lines to return.",
                },
            },
            "required": ["file_path"],
            "additionalProperties": False,
        },
        handler=printable_handler(run),
        parallel_safe=True,
    )
