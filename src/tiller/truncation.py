"""Cut tool output before the model sees it; the host always gets it whole.

Characters are cut first, then lines (DESIGN §3).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Mode = Literal["head_tail", "tail"]


@dataclass(frozen=True, slots=True)
class TruncationLimit:
    """How much of one tool's output the model may see."""

    chars: int
    mode: Mode = "head_tail"
    lines: int | None = None


DEFAULT_LIMIT = TruncationLimit(20_000, "head_tail")

DEFAULT_LIMITS: dict[str, TruncationLimit] = {
    "read_file": TruncationLimit(50_000, "head_tail"),
    "shell": TruncationLimit(30_000, "head_tail", 256),
    "grep": TruncationLimit(20_000, "tail", 200),
    "glob": TruncationLimit(20_000, "tail", 500),
    "edit_file": TruncationLimit(10_000, "tail"),
    "apply_patch": TruncationLimit(10_000, "tail"),
    "write_file": TruncationLimit(1_000, "tail"),
    "spawn_agent": TruncationLimit(20_000, "head_tail"),
    "wait": TruncationLimit(20_000, "head_tail"),
}


def limit_for(tool: str, overrides: dict[str, TruncationLimit] | None = None) -> TruncationLimit:
    """The limit for `tool`: an override, else the table, else the default."""
    if overrides and tool in overrides:
        return overrides[tool]
    return DEFAULT_LIMITS.get(tool, DEFAULT_LIMIT)


def _char_marker(removed: int) -> str:
    return f"\n[... {removed} characters omitted; the full output is in the event stream ...]\n"


def truncate_chars(text: str, limit: int, mode: Mode) -> str:
    """Keep at most `limit` characters of `text` (plus a marker saying what went)."""
    if len(text) <= limit:
        return text
    removed = len(text) - limit
    if mode == "tail":
        return _char_marker(removed).lstrip("\n") + text[-limit:]
    head = limit // 2
    tail = limit - head
    return text[:head] + _char_marker(removed) + text[len(text) - tail :]


def truncate_lines(text: str, limit: int, mode: Mode) -> str:
    """Keep at most `limit` lines of `text` (plus a marker saying how many went)."""
    lines = text.splitlines(keepends=True)
    if len(lines) <= limit:
        return text
    removed = len(lines) - limit
    marker = f"[... {removed} lines omitted ...]\n"
    if mode == "tail":
        return marker + "".join(lines[-limit:])
    head = limit // 2
    tail = limit - head
    return "".join(lines[:head]) + marker + "".join(lines[len(lines) - tail :])


def truncate_output(
    tool: str, text: str, overrides: dict[str, TruncationLimit] | None = None
) -> str:
    """The model's view of `tool`'s output: characters first, then lines."""
    limit = limit_for(tool, overrides)
    text = truncate_chars(text, limit.chars, limit.mode)
    if limit.lines is not None:
        text = truncate_lines(text, limit.lines, limit.mode)
    return text
