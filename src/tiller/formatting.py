"""Short human forms of token counts and costs, and text made safe for a terminal,
shared by every front end."""

from __future__ import annotations

import re

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def human_tokens(count: int) -> str:
    """1234 -> 1.2k, 1234567 -> 1.2M."""
    if count >= 1_000_000:
        return f"{count / 1_000_000:.1f}M"
    if count >= 1_000:
        return f"{count / 1_000:.1f}k"
    return str(count)


def format_cost(cost: float | None) -> str:
    """Dollars, or `$?` when the provider's price is unknown."""
    if cost is None:
        return "$?"
    return f"${cost:.4f}" if cost < 1 else f"${cost:.2f}"


def inert(text: str) -> str:
    """`text` with control characters shown as `\\xNN` (newlines and tabs stay).

    For text from elsewhere (a tool's output, an MCP server's stderr) printed on a
    terminal: an escape sequence in it would clear the screen or write the clipboard.
    """
    return _CONTROL.sub(lambda match: f"\\x{ord(match.group()):02x}", text)
