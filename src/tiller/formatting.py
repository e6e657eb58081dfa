"""Short human forms of token counts and costs, and text made safe for a terminal,
shared by every front end."""

from __future__ import annotations


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
