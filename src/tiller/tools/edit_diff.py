"""The diff one edit call made: what `TOOL_CALL_END` carries for edit tools.

Front ends show each edit as a small coloured diff of *that* call. By the time a
front end draws the event the workspace may have moved on (the next edit, a
subagent), so the engine reads the named files just before the call and just
after it, on its own thread, and puts the difference in the event.
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING

from tiller.events import EDIT_TOOLS
from tiller.workspace.diff import binary_note, text_diff

if TYPE_CHECKING:
    from tiller.workspace import Workspace

MAX_DIFF_LINES = 2000
"""A call's diff beyond this many lines is cut (the review pane has the whole file)."""
MAX_DIFF_LINE_CHARS = 1000
"""A diff line longer than this is cut with `…`: front ends crop rows to the screen, and a
minified file's one line would otherwise put twice its size in every edit's event."""
_PATCH_PATHS = re.compile(r"^\*\*\* (?:Add|Update|Delete) File: (.+)$|^\*\*\* Move to: (.+)$", re.M)


def named_paths(name: str, arguments: str) -> list[str]:
    """The workspace paths an edit call says it will touch, in the order it names them."""
    if name not in EDIT_TOOLS:
        return []
    try:
        args = json.loads(arguments) if arguments else {}
    except (ValueError, RecursionError):
        return []
    if not isinstance(args, dict):
        return []
    if name == "apply_patch":
        patch = args.get("patch")
        return [a or b for a, b in _PATCH_PATHS.findall(patch)] if isinstance(patch, str) else []
    path = args.get("file_path")
    return [path] if isinstance(path, str) else []


class EditCapture:
    """The named files' text before an edit call, and the diff to their text after it.

    Args:
        workspace: where the call edits.
        name: the tool's name.
        arguments: the call's raw JSON arguments.
    """

    def __init__(self, workspace: Workspace, name: str, arguments: str) -> None:
        self.workspace = workspace
        self.before: dict[str, str | None] = {}
        # Files that existed without readable text (binary, too large): None in `before`
        # would say the call created them.
        self.opaque: set[str] = set()
        for path in named_paths(name, arguments):
            try:
                key = workspace.resolve_path(path)
            except Exception:  # an invalid path: the tool itself reports it
                continue
            if key not in self.before:
                self.before[key] = self._read(key)
                if self.before[key] is None and self._exists(key):
                    self.opaque.add(key)

    def _exists(self, path: str) -> bool:
        try:
            return self.workspace.exists(path)
        except Exception:  # an invalid path: the tool itself reports it
            return False

    def _read(self, path: str) -> str | None:
        try:
            return self.workspace.read(path) if self.workspace.exists(path) else None
        except Exception:  # binary, a directory, unreadable: no text to compare
            return None

    def _file_diff(self, path: str, old: str | None) -> str:
        new = self._read(path)
        if path not in self.opaque:
            return text_diff(path, old, new)
        # Still there and still unreadable: nothing to say the call changed it.
        if new is None and self._exists(path):
            return ""
        return binary_note(path)

    def diff(self) -> str:
        """A git-style diff of what changed in the named files since the capture ('' if nothing)."""
        parts = [self._file_diff(path, old) for path, old in self.before.items()]
        # Split on newlines only: a CR or form feed inside a line is the line's own text.
        pieces = "".join(parts).split("\n")
        ends = [piece + "\n" for piece in pieces[:-1]] + ([pieces[-1]] if pieces[-1] else [])
        lines = [_cut(line) for line in ends]
        if len(lines) <= MAX_DIFF_LINES:
            return "".join(lines)
        hidden = len(lines) - MAX_DIFF_LINES
        return "".join(lines[:MAX_DIFF_LINES]) + f"… {hidden} more diff lines\n"


def _cut(line: str) -> str:
    """`line` (with its end) cut to `MAX_DIFF_LINE_CHARS` after the +/- sign."""
    if len(line) <= MAX_DIFF_LINE_CHARS + 2:
        return line
    return line[: MAX_DIFF_LINE_CHARS + 1] + "…\n"
