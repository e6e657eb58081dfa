"""Tools the model can call, and the presets a session starts with.

One tool per module, each built by a factory that takes the workspace.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from tiller.tools.apply_patch import apply_patch_tool
from tiller.tools.base import FunctionTool, Tool, ToolContext, schema_for
from tiller.tools.edit_file import edit_file_tool
from tiller.tools.glob import glob_tool
from tiller.tools.grep import grep_tool
from tiller.tools.list_dir import list_dir_tool
from tiller.tools.read_file import read_file_tool
from tiller.tools.registry import ToolRegistry, ToolResult
from tiller.tools.write_file import write_file_tool

if TYPE_CHECKING:
    from tiller.workspace import Workspace

EditStyle = Literal["edit_file", "apply_patch"]

ALL_FILE_TOOL_NAMES: tuple[str, ...] = (
    "read_file",
    "write_file",
    "edit_file",
    "apply_patch",
    "grep",
    "glob",
    "list_dir",
)
"""Every built-in file tool; a preset offers all but one of the two editing tools."""


def file_tools(workspace: Workspace, *, edit_style: EditStyle = "edit_file") -> list[Tool]:
    """The built-in file tools over `workspace`.

    Args:
        workspace: the workspace every tool reads and writes.
        edit_style: `edit_file` (exact string replacement; Anthropic and Gemini
            models) or `apply_patch` (v4a patches; OpenAI models).

    Returns:
        read_file, write_file, the chosen editing tool, grep, glob and list_dir.
    """
    if edit_style not in ("edit_file", "apply_patch"):
        raise ValueError(f"edit_style must be 'edit_file' or 'apply_patch', not {edit_style!r}")
    editor = edit_file_tool if edit_style == "edit_file" else apply_patch_tool
    return [
        read_file_tool(workspace),
        write_file_tool(workspace),
        editor(workspace),
        grep_tool(workspace),
        glob_tool(workspace),
        list_dir_tool(workspace),
    ]


__all__ = [
    "ALL_FILE_TOOL_NAMES",
    "EditStyle",
    "FunctionTool",
    "Tool",
    "ToolContext",
    "ToolRegistry",
    "ToolResult",
    "apply_patch_tool",
    "edit_file_tool",
    "file_tools",
    "glob_tool",
    "grep_tool",
    "list_dir_tool",
    "read_file_tool",
    "schema_for",
    "write_file_tool",
]
