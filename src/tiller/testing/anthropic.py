"""Anthropic Messages for the local test server: SSE events, errors, cache accounting.

`FakeOpenAIServer` answers `POST /v1/messages` with what this module builds from
the same `ServerReply` scripts it serves as chat completions, so the native
`anthropic/...` route of litellm runs its real client code against it.

Cache accounting follows Anthropic's documented rules closely enough to price a
session: every block marked `cache_control` ends a cacheable prefix (tools, then
system, then messages); a request reads the longest prefix written before (the
lookback reaches 20 blocks before each breakpoint), writes the prefixes of its
breakpoints beyond that, and bills the rest as plain input. Tokens are estimated
as one per four characters of the blocks' JSON.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tiller.testing.server import ServerReply

__all__ = [
    "MAX_BREAKPOINTS",
    "CacheAccount",
    "PromptCache",
    "anthropic_error",
    "message_events",
    "signature_for",
    "validate_request",
]

MAX_BREAKPOINTS = 4
_LOOKBACK = 20
_CHARS_PER_TOKEN = 4

_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    529: "overloaded_error",
}


def anthropic_error(status: int, message: str) -> dict[str, Any]:
    """An error body in Anthropic's shape."""
    kind = _ERROR_TYPES.get(status, "api_error" if status >= 500 else "invalid_request_error")
    return {"type": "error", "error": {"type": kind, "message": message}}


def signature_for(thinking: str) -> str:
    """The signature the server gives a thinking block (and checks when it comes back)."""
    return "sig-" + hashlib.sha256(thinking.encode()).hexdigest()[:32]


# -- cache accounting ------------------------------------------------------------------------


@dataclass(frozen=True)
class CacheAccount:
    """How one request's input tokens split: uncached, read from cache, written to it."""

    input_tokens: int
    cache_read_input_tokens: int
    cache_creation_input_tokens: int


def _blocks(body: Mapping[str, Any]) -> list[tuple[str, bool]]:
    """The request as (canonical JSON of a block, carries cache_control) in cache order."""
    out: list[tuple[str, bool]] = []

    def add(kind: str, block: Any) -> None:
        marked = isinstance(block, dict) and block.get("cache_control") is not None
        if isinstance(block, dict):
            block = {k: v for k, v in block.items() if k != "cache_control"}
        out.append((json.dumps([kind, block], sort_keys=True), marked))

    for tool in body.get("tools") or []:
        add("tool", tool)
    system = body.get("system")
    for block in [system] if isinstance(system, str) else system or []:
        add("system", block)
    for message in body.get("messages") or []:
        content = message.get("content")
        role = message.get("role", "")
        for block in [content] if isinstance(content, str) else content or []:
            add(role, block)
    return out


class PromptCache:
    """Prefixes written at cache breakpoints, shared by every request to one server."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._prefixes: set[str] = set()

    def account(self, body: Mapping[str, Any], min_tokens: int = 1024) -> CacheAccount:
        """Split the request's input tokens as the real API would, and remember its writes.

        Args:
            body: the Messages request.
            min_tokens: prefixes shorter than this are never cached (1024 for Sonnet).
        """
        blocks = _blocks(body)
        digests: list[str] = []
        cumulative: list[int] = []
        running = hashlib.sha256()
        chars = 0
        for text, _ in blocks:
            running.update(text.encode())
            digests.append(running.copy().hexdigest())
            chars += len(text)
            cumulative.append(chars // _CHARS_PER_TOKEN)
        total = cumulative[-1] if cumulative else 0
        breakpoints = [i for i, (_, marked) in enumerate(blocks) if marked]
        with self._lock:
            read = 0
            for point in breakpoints:
                for i in range(point, max(-1, point - _LOOKBACK - 1), -1):
                    if digests[i] in self._prefixes:
                        read = max(read, cumulative[i])
                        break
            written = read
            for point in breakpoints:
                if cumulative[point] >= min_tokens and cumulative[point] > read:
                    self._prefixes.add(digests[point])
                    written = max(written, cumulative[point])
        return CacheAccount(total - written, read, written - read)


# -- validation ------------------------------------------------------------------------------


_TOOL_ID = re.compile(r"[a-zA-Z0-9_-]+")


def validate_request(body: Mapping[str, Any]) -> str | None:
    """What the real API would reject this request for (a 400's message), or None."""
    count = sum(marked for _, marked in _blocks(body))
    if count > MAX_BREAKPOINTS:
        return (
            f"A maximum of {MAX_BREAKPOINTS} blocks with cache_control may be provided. "
            f"Found {count}."
        )
    thinking = body.get("thinking") or {}
    messages = body.get("messages") or []
    for index, message in enumerate(messages):
        content = message.get("content")
        if not isinstance(content, list):
            continue
        for position, block in enumerate(content):
            key = {"tool_use": "id", "tool_result": "tool_use_id"}.get(block.get("type"))
            if key is not None and not _TOOL_ID.fullmatch(str(block.get(key, ""))):
                where = f"messages.{index}.content.{position}.{block['type']}.{key}"
                return f"{where}: String should match pattern '^[a-zA-Z0-9_-]+$'"
        if message.get("role") != "assistant":
            continue
        for position, block in enumerate(content):
            if block.get("type") == "thinking" and block.get("signature") != signature_for(
                block.get("thinking", "")
            ):
                where = f"messages.{index}.content.{position}"
                return f"{where}: Invalid `signature` in `thinking` block"
    if thinking.get("type") not in ("enabled", "adaptive"):
        return None
    last = next(
        (i for i in range(len(messages) - 1, -1, -1) if messages[i].get("role") == "assistant"),
        None,
    )
    if last is None:
        return None
    content = messages[last].get("content")
    blocks = content if isinstance(content, list) else [{"type": "text", "text": content}]
    uses_tools = any(block.get("type") == "tool_use" for block in blocks)
    first = blocks[0].get("type") if blocks else None
    if uses_tools and first not in ("thinking", "redacted_thinking"):
        return (
            f"messages.{last}.content.0.type: Expected `thinking` or `redacted_thinking`, "
            f"but found `{first}`. When `thinking` is enabled, a final `assistant` message "
            "must start with a thinking block (preceeding the lastmost set of `tool_use` and "
            "`tool_result` blocks). We recommend you include thinking blocks from previous turns."
        )
    return None


# -- the streamed reply ----------------------------------------------------------------------


def message_events(
    reply: ServerReply, body: Mapping[str, Any], account: CacheAccount, call_ids: Iterator[str]
) -> Iterator[tuple[str, dict[str, Any]]]:
    """The (event name, data) pairs of one streamed Messages reply."""
    size = max(1, reply.chunk_size)
    usage = {
        "input_tokens": account.input_tokens,
        "cache_creation_input_tokens": account.cache_creation_input_tokens,
        "cache_read_input_tokens": account.cache_read_input_tokens,
    }
    output_tokens = reply.usage[1]
    message = {
        "id": f"msg_{id(reply):x}",
        "type": "message",
        "role": "assistant",
        "model": body.get("model", "claude-fake"),
        "content": [],
        "stop_reason": None,
        "stop_sequence": None,
        "usage": {**usage, "output_tokens": 1},
    }
    yield "message_start", {"type": "message_start", "message": message}
    index = 0

    def start(block: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        return "content_block_start", {
            "type": "content_block_start",
            "index": index,
            "content_block": block,
        }

    def delta(data: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        return "content_block_delta", {"type": "content_block_delta", "index": index, "delta": data}

    def stop() -> tuple[str, dict[str, Any]]:
        return "content_block_stop", {"type": "content_block_stop", "index": index}

    if reply.redacted_thinking:
        yield start({"type": "redacted_thinking", "data": reply.redacted_thinking})
        yield stop()
        index += 1
    if reply.thinking:
        yield start({"type": "thinking", "thinking": "", "signature": ""})
        for piece in _split(reply.thinking, size):
            yield delta({"type": "thinking_delta", "thinking": piece})
        yield delta({"type": "signature_delta", "signature": signature_for(reply.thinking)})
        yield stop()
        index += 1
    if reply.text:
        yield start({"type": "text", "text": ""})
        for piece in _split(reply.text, size):
            yield delta({"type": "text_delta", "text": piece})
        yield stop()
        index += 1
    for name, arguments in reply.tool_calls:
        yield start({"type": "tool_use", "id": next(call_ids), "name": name, "input": {}})
        for piece in _split(arguments, size):
            yield delta({"type": "input_json_delta", "partial_json": piece})
        yield stop()
        index += 1
    reason = "tool_use" if reply.tool_calls else "end_turn"
    yield (
        "message_delta",
        {
            "type": "message_delta",
            "delta": {"stop_reason": reason, "stop_sequence": None},
            "usage": {**usage, "output_tokens": output_tokens},
        },
    )
    yield "message_stop", {"type": "message_stop"}


def message_body(
    reply: ServerReply, body: Mapping[str, Any], account: CacheAccount, call_ids: Iterator[str]
) -> dict[str, Any]:
    """The whole (non-streamed) Messages reply."""
    content: list[dict[str, Any]] = []
    if reply.redacted_thinking:
        content.append({"type": "redacted_thinking", "data": reply.redacted_thinking})
    if reply.thinking:
        signature = signature_for(reply.thinking)
        content.append({"type": "thinking", "thinking": reply.thinking, "signature": signature})
    if reply.text:
        content.append({"type": "text", "text": reply.text})
    for name, arguments in reply.tool_calls:
        content.append(
            {"type": "tool_use", "id": next(call_ids), "name": name, "input": json.loads(arguments)}
        )
    return {
        "id": f"msg_{id(reply):x}",
        "type": "message",
        "role": "assistant",
        "model": body.get("model", "claude-fake"),
        "content": content,
        "stop_reason": "tool_use" if reply.tool_calls else "end_turn",
        "stop_sequence": None,
        "usage": {
            "input_tokens": account.input_tokens,
            "cache_creation_input_tokens": account.cache_creation_input_tokens,
            "cache_read_input_tokens": account.cache_read_input_tokens,
            "output_tokens": reply.usage[1],
        },
    }


def _split(text: str, size: int) -> list[str]:
    return [text[i : i + size] for i in range(0, len(text), size)]
