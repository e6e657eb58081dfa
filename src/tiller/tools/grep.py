"""`grep`: search file contents with a regular expression."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tiller.tools.base import FunctionTool, ToolContext
from tiller.tools.printable import printable_handler
from tiller.workspace.search import MAX_GREP_FILE_BYTES

if TYPE_CHECKING:
    from tiller.workspace import Workspace

DEFAULT_MAX_RESULTS = 100
MAX_LINE_CHARS = 500
"""Matching lines longer than this are cut; read the file for the rest."""

DESCRIPTION = (
    "Search file contents in the workspace with a regular expression (RE2 syntax: like Python's "
    "`re`, without lookahead, lookbehind or backreferences), matched within each line. Returns "
    "one `path:line: text` row per matching line, files in path order. Narrow the search with "
    "`path` (a directory or file) and `glob_filter` (`*.py`, or a path pattern such as "
    "`src/**/*.ts`). Use it to find definitions, callers and usages before reading files; use "
    "`glob` to find files by name. Binary files and files over 10 MB are skipped."
)


def grep_tool(workspace: Workspace) -> FunctionTool:
    """The `grep` tool over `workspace`."""

    def run(args: dict[str, Any], ctx: ToolContext) -> str:
        pattern = args["pattern"]
        path = args.get("path", "")
        max_results = args.get("max_results", DEFAULT_MAX_RESULTS)
        # One extra hit tells a full page from a capped one.
        result = workspace.search(
            pattern,
            path,
            glob=args.get("glob_filter") or None,
            case_insensitive=args.get("case_insensitive", False),
            max_results=max_results + 1,
            cancel=ctx.cancel,
        )
        hits = result.hits
        rows = [f"{file}:{number}: {_cut(text)}" for file, number, text in hits[:max_results]]
        if not hits:
            where = f" in {path}" if path else ""
            rows.append(f"No matches for {pattern!r}{where}.")
        if len(hits) > max_results:
            rows.append(
                f"[Stopped at {max_results} matches; narrow the pattern, path or glob_filter, "
                "or raise max_results]"
            )
        if result.too_large:
            rows.append(_skipped_note(result.too_large))
        if result.cancelled:
            rows.append("[Search cancelled before every file was searched]")
        return "\n".join(rows)

    return FunctionTool(
        name="grep",
        description=DESCRIPTION,
        parameters={
            "type": "object",
            "properties": {
                "pattern": {
                    "type": "string",
                    "description": "Regular expression (RE2 syntax) to search for.",
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
        handler=printable_handler(run),
        parallel_safe=True,
    )


def _skipped_note(paths: list[str]) -> str:
    listed = ", ".join(paths[:5]) + (f" and {len(paths) - 5} more" if len(paths) > 5 else "")
    limit = MAX_GREP_FILE_BYTES // (1024 * 1024)
    return f"[Not searched, over {limit} MB: {listed}]"


def _cut(line: str) -> str:
    if len(line) <= MAX_LINE_CHARS:
        return line
    return f"{line[:MAX_LINE_CHARS]}... [{len(line) - MAX_LINE_CHARS} more characters]"
