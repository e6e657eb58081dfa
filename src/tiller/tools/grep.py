"""`grep`: search file contents with a regular expression."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tiller.tools.base import FunctionTool, ToolContext

if TYPE_CHECKING:
    from tiller.workspace import Workspace

DEFAULT_MAX_RESULTS = 100
MAX_LINE_CHARS = 500
"""Matching lines longer than this are cut; read the file for the rest."""

DESCRIPTION = (
    "Search file contents in the workspace with a Python regular expression, matched within "
    "each line. Returns one `path:line: text` row per matching line, files in path order. "
    "Narrow the search with `path` (a directory or file) and `glob_filter` (`*.py`, or a "
    "path pattern such as `src/**/*.ts`). Use it to find definitions, callers and usages "
    "before reading files; use `glob` to find files by name. Binary files are skipped."
)


def grep_tool(workspace: Workspace) -> FunctionTool:
    """The `grep` tool over `workspace`."""

    def run(args: dict[str, Any], ctx: ToolContext) -> str:
        pattern = args["pattern"]
        path = args.get("path", "")
        max_results = args.get("max_results", DEFAULT_MAX_RESULTS)
        # One extra hit tells a full page from a capped one.
        hits = workspace.grep(
            pattern,
            path,
            glob=args.get("glob_filter") or None,
            case_insensitive=args.get("case_insensitive", False),
            max_results=max_results + 1,
        )
        if not hits:
            where = f" in {path}" if path else ""
            return f"No matches for {pattern!r}{where}."
        rows = [f"{file}:{number}: {_cut(text)}" for file, number, text in hits[:max_results]]
        if len(hits) > max_results:
            rows.append(
                f"[Stopped at {max_results} matches; narrow the pattern, path or glob_filter, "
                "or raise max_results]"
            )
        return "\n".join(rows)

    return FunctionTool(
        name="grep",
        description=DESCRIPTION,
        parameters={
            "type": "object",
            "properties": {
                "pattern": {
                    "type": "string",
                    "description": "Python regular expression to search for.",
                },
                "path": {
                    "type": "string",
                    "default": "",
                    "description": "Directory or file to search; the workspace root by default.",
                },
                "glob_filter": {
                    "type": "string",
                    "description": "Only search files matching this glob (e.g. `*.py`).",
                },
                "case_insensitive": {
                    "type": "boolean",
                    "default": False,
                    "description": "Match regardless of case.",
                },
                "max_results": {
                    "type": "integer",
                    "minimum": 1,
                    "default": DEFAULT_MAX_RESULTS,
                    "description": "Maximum number of matching lines to return.",
                },
            },
            "required": ["pattern"],
            "additionalProperties": False,
        },
        handler=run,
        parallel_safe=True,
    )


def _cut(line: str) -> str:
    if len(line) <= MAX_LINE_CHARS:
        return line
    return f"{line[:MAX_LINE_CHARS]}... [{len(line) - MAX_LINE_CHARS} more characters]"
