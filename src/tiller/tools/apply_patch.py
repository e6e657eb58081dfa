"""`apply_patch`: edit, add, delete and move files with one v4a patch."""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Any

from tiller.errors import BinaryFileError, WorkspaceError
from tiller.tools.base import FunctionTool, ToolContext
from tiller.tools.patch_format import PatchError, parse_patch
from tiller.tools.patch_plan import PatchPlan, plan_patch
from tiller.tools.printable import printable_handler

if TYPE_CHECKING:
    from tiller.workspace import Workspace

DESCRIPTION = """\
Edit files with a patch. This is the tool for changing existing files; it also adds, \
deletes and moves files. All of a patch applies or none of it does.

The `patch` argument is one envelope:
*** Begin Patch
[one or more file sections]
*** End Patch

File sections:
*** Add File: <path>      then every line of the new file, each prefixed with +
*** Delete File: <path>   nothing after it
*** Update File: <path>   optionally followed by `*** Move to: <new path>`, then hunks

A hunk starts with `@@`, optionally followed by the class or function line it lies in \
(`@@ def load(path):`; stack two `@@` lines to narrow it down). Each hunk line starts with \
one character: a space for unchanged context, - for a removed line, + for an added line. \
Give 3 lines of context above and below each change; context and removed lines must match \
the file exactly (read it first; never include read_file's line-number prefix). List hunks \
in file order. End a hunk that reaches the end of the file with `*** End of File`.

Example:
*** Begin Patch
*** Update File: src/config.py
@@ def load_config(path):
     with open(path) as fh:
-        data = json.load(fh)
+        data = json.load(fh) or {}
     return Config(**data)
*** End Patch
"""

NOT_APPLIED = "The patch was not applied; no file was changed."


def apply_patch_tool(workspace: Workspace) -> FunctionTool:
    """The `apply_patch` tool over `workspace`."""

    def run(args: dict[str, Any], ctx: ToolContext) -> str:
        seen = _Seen(workspace)
        try:
            ops = parse_patch(args["patch"])
            plan = plan_patch(ops, seen.read, seen.exists, workspace.resolve_path)
            _commit(workspace, plan, seen)
        except (PatchError, WorkspaceError) as exc:
            raise PatchError(f"{exc}\n{NOT_APPLIED}") from exc
        lines = ["Applied the patch:", *plan.summary]
        lines += [f"Note: {note}" for note in plan.notes]
        return "\n".join(lines)

    return FunctionTool(
        name="apply_patch",
        description=DESCRIPTION,
        parameters={
            "type": "object",
            "properties": {
                "patch": {
                    "type": "string",
                    "description": "The whole patch, from '*** Begin Patch' to '*** End Patch'.",
                },
            },
            "required": ["patch"],
            "additionalProperties": False,
        },
        handler=printable_handler(run),
    )


class _Seen:
    """Reads the workspace for the planner and remembers what it saw."""

    def __init__(self, workspace: Workspace) -> None:
        self.workspace = workspace
        self.states: dict[str, str | None] = {}

    def read(self, path: str) -> str:
        text = self.workspace.read(path)
        self.states.setdefault(path, text)
        return text

    def exists(self, path: str) -> bool:
        found = self.workspace.exists(path)
        if not found:
            self.states.setdefault(path, None)
        return found


def _commit(workspace: Workspace, plan: PatchPlan, seen: _Seen) -> None:
    """Write the plan; if the workspace refuses a write, restore what was already done.

    Raises:
        PatchError: a file changed since planning (another agent shares the workspace).
    """
    originals = _originals(workspace, [path for path, _ in plan.changes])
    for path, state in seen.states.items():
        if path in originals and originals[path] != state:
            raise PatchError(f"{path} changed while the patch was being applied; read it again")
    # Writes can fail (a parent path is a file); deletes were checked while planning.
    ordered = sorted(plan.changes, key=lambda change: change[1] is None)
    done: list[str] = []
    try:
        for path, content in ordered:
            if content is None:
                workspace.delete(path)
            else:
                workspace.write(path, content)
            done.append(path)
    except WorkspaceError:
        for path in reversed(done):
            if path not in originals:
                continue
            original = originals[path]
            if original is None:
                workspace.delete(path)
            else:
                workspace.write(path, original)
        raise


def _originals(workspace: Workspace, paths: list[str]) -> dict[str, str | None]:
    """Each path's text now (None: absent); binary files, which cannot be restored, are left out."""
    originals: dict[str, str | None] = {}
    for path in paths:
        if not workspace.exists(path):
            originals[path] = None
            continue
        with contextlib.suppress(BinaryFileError):
            originals[path] = workspace.read(path)
    return originals
