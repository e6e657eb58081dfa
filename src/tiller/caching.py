"""Prompt caching by provider: where cache breakpoints go, and for which models.

Anthropic's Claude (on every route: `anthropic/`, `openrouter/anthropic/`,
`bedrock/`, `vertex_ai/`) caches only prefixes that end at a `cache_control`
breakpoint, at most four per request. Tiller uses two: one on the system prompt
(the tools come before it, so it covers tools + system, the stable ~16 KiB) and a
rolling one on the newest message, so each round reads everything the previous
round wrote. OpenAI, DeepSeek and Gemini cache automatically; for them the
request prefix only has to stay byte-stable (the engine never rewrites earlier
messages; the system prompt changes only when its inputs do).

The litellm route hands litellm `cache_control_injection_points` (its own
mechanism); the lean OpenAI-compatible transport marks the content blocks itself,
the way OpenRouter documents for Anthropic models.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "CACHE_OPTION",
    "INJECTION_POINTS",
    "caches_with_breakpoints",
    "mark_breakpoints",
]

# The request option that turns breakpoints off (`Session(..., prompt_caching=False)`).
CACHE_OPTION = "prompt_caching"

_EPHEMERAL = {"type": "ephemeral"}

INJECTION_POINTS: list[dict[str, Any]] = [
    {"location": "message", "role": "system", "control": _EPHEMERAL},
    {"location": "message", "index": -1, "control": _EPHEMERAL},
]

_CLAUDE_ROUTES = ("anthropic", "openrouter", "bedrock", "bedrock_converse", "vertex_ai")


def caches_with_breakpoints(model: str) -> bool:
    """Whether `model` is a Claude model on a route that needs explicit breakpoints."""
    provider, _, rest = model.partition("/")
    if not rest:
        return model.lower().startswith("claude")
    return provider in _CLAUDE_ROUTES and "claude" in rest.lower()


def mark_breakpoints(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """`messages` with `cache_control` on the system prompt and on the newest message.

    Only the two marked messages are copied (as content-block lists); the others
    are the caller's own dicts, untouched.
    """
    marked = list(messages)
    targets = {len(marked) - 1}
    if marked and marked[0].get("role") == "system":
        targets.add(0)
    for index in sorted(targets):
        if index >= 0:
            marked[index] = _with_cache_control(marked[index])
    return marked


def _with_cache_control(message: dict[str, Any]) -> dict[str, Any]:
    content = message.get("content")
    if isinstance(content, str) and content:
        blocks: list[Any] = [{"type": "text", "text": content, "cache_control": _EPHEMERAL}]
    elif isinstance(content, list) and content and isinstance(content[-1], dict):
        blocks = [*content[:-1], {**content[-1], "cache_control": _EPHEMERAL}]
    else:
        return message  # no text to mark (an assistant turn of only tool calls)
    return {**message, "content": blocks}
