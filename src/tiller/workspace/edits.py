"""Exact-match edits: the checks and messages the model sees when an edit fails."""

from __future__ import annotations

from tiller.errors import EditError


def replace_exact(
    path: str, content: str, old: str, new: str, replace_all: bool = False
) -> tuple[str, int]:
    """Replace `old` with `new` in a file's content.

    Args:
        path: the file's workspace path, for messages.
        content: the current content.
        old: the exact text to find; must be unique unless `replace_all`.
        new: the replacement.
        replace_all: replace every occurrence.

    Returns:
        The new content and the number of replacements.

    Raises:
        EditError: `old` is empty, equal to `new`, missing, or ambiguous.
    """
    if not isinstance(old, str) or not isinstance(new, str):
        raise EditError("old_string and new_string must be strings")
    if not old:
        raise EditError(f"old_string is empty; to create or overwrite {path}, write the whole file")
    if old == new:
        raise EditError(f"old_string and new_string are identical; nothing to change in {path}")
    count = content.count(old)
    if count == 0:
        raise EditError(f"old_string not found in {path}{near_miss_hint(content, old)}")
    if count > 1 and not replace_all:
        raise EditError(
            f"old_string appears {count} times in {path}; include more surrounding "
            "context to make it unique, or set replace_all to replace every occurrence"
        )
    return content.replace(old, new, -1 if replace_all else 1), count if replace_all else 1


def near_miss_hint(content: str, old: str) -> str:
    """A hint when `old` would match with different line endings or indentation."""
    if "\r\n" in content and "\n" in old and old.replace("\n", "\r\n") in content:
        return " (the file uses CRLF line endings; the text matches with \\r\\n)"
    wanted = [line.strip() for line in old.strip("\n").split("\n")]
    if not wanted or not all(wanted):
        return ""
    lines = [line.strip() for line in content.split("\n")]
    for start in range(len(lines) - len(wanted) + 1):
        if lines[start : start + len(wanted)] == wanted:
            return f" (a match with different indentation or spacing starts at line {start + 1})"
    return ""
