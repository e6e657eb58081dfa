"""The local server's Anthropic Messages route, spoken to with raw httpx (no litellm)."""

from __future__ import annotations

import json
from typing import Any

import httpx

from tiller.testing import FakeOpenAIServer, ServerReply
from tiller.testing.anthropic import PromptCache, signature_for

EPHEMERAL = {"type": "ephemeral"}
BIG = "x" * 8000  # ~2000 tokens: above the 1024-token minimum for a cacheable prefix


def post(server: FakeOpenAIServer, **body: Any) -> httpx.Response:
    payload = {
        "model": "claude-sonnet-4-5",
        "max_tokens": 100,
        "messages": [{"role": "user", "content": "hi"}],
        **body,
    }
    return httpx.post(server.root_url + "/v1/messages", json=payload, timeout=10)


def sse(response: httpx.Response) -> list[tuple[str, dict[str, Any]]]:
    events = []
    for frame in response.text.split("\n\n"):
        if frame:
            name, data = frame.split("\n")
            events.append((name.removeprefix("event: "), json.loads(data.removeprefix("data: "))))
    return events


def cached_body(*messages: dict[str, Any]) -> dict[str, Any]:
    system = [{"type": "text", "text": BIG, "cache_control": EPHEMERAL}]
    return {"system": system, "messages": list(messages)}


def user(text: str, marked: bool = False) -> dict[str, Any]:
    block: dict[str, Any] = {"type": "text", "text": text}
    if marked:
        block["cache_control"] = EPHEMERAL
    return {"role": "user", "content": [block]}


def test_stream_has_anthropic_event_order(fake_server: FakeOpenAIServer) -> None:
    """Thinking, text and tool_use blocks stream between message_start and message_stop."""
    fake_server.add(
        ServerReply(text="ok", thinking="hm", tool_calls=[("read_file", "{}")], chunk_size=10)
    )
    names = [name for name, _ in sse(post(fake_server, stream=True))]
    block = ["content_block_start", "content_block_delta", "content_block_stop"]
    thinking = ["content_block_start", "content_block_delta", "content_block_delta"]
    assert names == [
        "message_start",
        *thinking,
        "content_block_stop",
        *block,
        *block,
        "message_delta",
        "message_stop",
    ]


def test_thinking_block_is_signed(fake_server: FakeOpenAIServer) -> None:
    """The thinking block's last delta is a signature_delta the server can verify."""
    fake_server.add(ServerReply(text="ok", thinking="hm"))
    deltas = [
        data["delta"] for name, data in sse(post(fake_server, stream=True)) if "delta" in data
    ]
    assert deltas[1] == {"type": "signature_delta", "signature": signature_for("hm")}


def test_tool_arguments_stream_as_input_json_delta(fake_server: FakeOpenAIServer) -> None:
    """A tool call's arguments arrive as input_json_delta pieces that join to the JSON."""
    fake_server.add(ServerReply(tool_calls=[("read_file", '{"file_path": "a"}')]))
    events = sse(post(fake_server, stream=True))
    pieces = [
        data["delta"]["partial_json"]
        for _, data in events
        if data.get("delta", {}).get("type") == "input_json_delta"
    ]
    assert ("".join(pieces), events[-2][1]["delta"]["stop_reason"]) == (
        '{"file_path": "a"}',
        "tool_use",
    )


def test_non_streamed_reply_is_one_message(fake_server: FakeOpenAIServer) -> None:
    """Without `stream`, the reply is one Messages JSON with content blocks."""
    fake_server.add(ServerReply(text="ok", tool_calls=[("glob", '{"pattern": "*"}')]))
    body = post(fake_server).json()
    assert [block["type"] for block in body["content"]] == ["text", "tool_use"]


def test_scripted_error_has_anthropic_shape(fake_server: FakeOpenAIServer) -> None:
    """A scripted 529 is an overloaded_error in Anthropic's error envelope."""
    fake_server.add(ServerReply(status=529, error_message="Overloaded"))
    response = post(fake_server)
    assert (response.status_code, response.json()) == (
        529,
        {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}},
    )


def test_first_request_writes_the_cache(fake_server: FakeOpenAIServer) -> None:
    """A prefix seen for the first time is billed as a cache write."""
    fake_server.add(ServerReply(text="a"))
    post(fake_server, **cached_body(user("hi")))
    account = fake_server.cache_accounts[0]
    assert (account.cache_read_input_tokens, account.cache_creation_input_tokens > 1024) == (
        0,
        True,
    )


def test_repeated_prefix_is_read_from_the_cache(fake_server: FakeOpenAIServer) -> None:
    """The second request reads what the first wrote, up to the shared breakpoint."""
    fake_server.add(ServerReply(text="a"), ServerReply(text="b"))
    post(fake_server, **cached_body(user("hi")))
    post(fake_server, **cached_body(user("hi"), {"role": "assistant", "content": "a"}, user("x")))
    first, second = fake_server.cache_accounts
    assert second.cache_read_input_tokens == first.cache_creation_input_tokens


def test_rolling_breakpoint_reads_the_previous_round() -> None:
    """With a breakpoint on the newest message, round two reads all of round one."""
    cache = PromptCache()
    first = cache.account(cached_body(user(BIG, marked=True)))
    second = cache.account(
        cached_body(user(BIG), {"role": "assistant", "content": "a"}, user("more", marked=True))
    )
    assert second.cache_read_input_tokens == first.cache_creation_input_tokens


def test_changed_prefix_is_not_read() -> None:
    """A request whose system prompt differs reads nothing from the cache."""
    cache = PromptCache()
    cache.account(cached_body(user("hi")))
    changed = cached_body(user("hi"))
    changed["system"][0]["text"] = "y" * 8000
    assert cache.account(changed).cache_read_input_tokens == 0


def test_short_prefix_is_never_cached() -> None:
    """A prefix below the minimum is billed as plain input, as the real API does."""
    body = {"system": [{"type": "text", "text": "short", "cache_control": EPHEMERAL}]}
    account = PromptCache().account({**body, "messages": [user("hi")]})
    assert (account.cache_read_input_tokens, account.cache_creation_input_tokens) == (0, 0)


def test_more_than_four_breakpoints_is_a_400(fake_server: FakeOpenAIServer) -> None:
    """Five cache_control blocks are rejected like the real API rejects them."""
    messages = [user(str(i), marked=True) for i in range(5)]
    response = post(fake_server, messages=messages)
    assert (response.status_code, response.json()["error"]["type"]) == (
        400,
        "invalid_request_error",
    )


def thinking_history(first: dict[str, Any]) -> list[dict[str, Any]]:
    use = {"type": "tool_use", "id": "toolu_1", "name": "glob", "input": {}}
    result = {"type": "tool_result", "tool_use_id": "toolu_1", "content": "none"}
    content = [first, use] if first else [use]
    return [
        user("go"),
        {"role": "assistant", "content": content},
        {"role": "user", "content": [result]},
    ]


def test_tool_use_without_its_thinking_block_is_a_400(fake_server: FakeOpenAIServer) -> None:
    """With thinking on, a tool_use turn that lost its thinking block is rejected."""
    thinking = {"type": "enabled", "budget_tokens": 1024}
    response = post(fake_server, thinking=thinking, messages=thinking_history({}))
    assert (response.status_code, "Expected `thinking`" in response.text) == (400, True)


def test_tampered_signature_is_a_400(fake_server: FakeOpenAIServer) -> None:
    """A thinking block whose text no longer matches its signature is rejected."""
    block = {"type": "thinking", "thinking": "edited", "signature": signature_for("original")}
    response = post(fake_server, messages=thinking_history(block))
    assert (response.status_code, "Invalid `signature`" in response.text) == (400, True)


def test_signed_thinking_before_tool_use_is_accepted(fake_server: FakeOpenAIServer) -> None:
    """The same history with the signed block sent back gets an answer."""
    fake_server.add(ServerReply(text="ok"))
    block = {"type": "thinking", "thinking": "plan", "signature": signature_for("plan")}
    thinking = {"type": "enabled", "budget_tokens": 1024}
    assert post(fake_server, thinking=thinking, messages=thinking_history(block)).status_code == 200
