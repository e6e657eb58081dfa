"""Prompt caching by provider on the chat-completions routes: breakpoints or a stable prefix."""

from __future__ import annotations

import itertools
import json
from typing import Any

import pytest

from tiller import Session
from tiller.caching import caches_with_breakpoints, mark_breakpoints
from tiller.testing.server import FakeOpenAIServer, ServerReply

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def rounds(server: FakeOpenAIServer, model: str, **options: Any) -> list[dict[str, Any]]:
    """Run a three-round session on `model`; the request bodies it sent."""
    server.add(
        ServerReply(tool_calls=[("glob", '{"pattern": "*"}')]),
        ServerReply(tool_calls=[("write_file", '{"file_path": "a", "content": "x"}')]),
        ServerReply(text="done"),
    )
    session = Session(model, api_base=server.base_url, api_key="k", skills_dirs=[], **options)
    session.send("go")
    return [request.body for request in server.requests]


@pytest.mark.parametrize(
    ("model", "expected"),
    [
        ("anthropic/claude-sonnet-4-5", True),
        ("openrouter/anthropic/claude-sonnet-4.5", True),
        ("bedrock/us.anthropic.claude-sonnet-4-5-20250929-v1:0", True),
        ("vertex_ai/claude-sonnet-4-5@20250929", True),
        ("claude-sonnet-4-5", True),
        ("openrouter/openai/gpt-5", False),
        ("openai/gpt-5", False),
        ("deepseek/deepseek-chat", False),
        ("gemini/gemini-2.5-pro", False),
    ],
)
def test_breakpoints_only_for_claude_routes(model: str, expected: bool) -> None:
    """Explicit breakpoints are for Claude, on every route that serves it."""
    assert caches_with_breakpoints(model) == expected


def test_mark_breakpoints_leaves_the_callers_messages_alone() -> None:
    """Marking copies the two marked messages; the originals keep their string content."""
    messages = [{"role": "system", "content": "s"}, {"role": "user", "content": "u"}]
    marked = mark_breakpoints(messages)
    assert (messages[0]["content"], marked[0]["content"][0]["cache_control"]) == (
        "s",
        {"type": "ephemeral"},
    )


@pytest.mark.parametrize("transport", ["litellm", "openai"])
def test_openai_route_sends_no_cache_control(fake_server: FakeOpenAIServer, transport: str) -> None:
    """OpenAI caches automatically; its requests carry no cache_control at all."""
    bodies = rounds(fake_server, "openai/gpt-4o", transport=transport)
    assert [json.dumps(body).count("cache_control") for body in bodies] == [0, 0, 0]


@pytest.mark.parametrize("transport", ["litellm", "openai"])
def test_automatic_caching_sees_a_growing_prefix(
    fake_server: FakeOpenAIServer, transport: str
) -> None:
    """Each round's tools and messages start with the previous round's, byte for byte."""
    bodies = rounds(fake_server, "openai/gpt-4o", transport=transport)
    encoded = [
        [json.dumps(body["tools"]), *(json.dumps(m) for m in body["messages"])] for body in bodies
    ]
    assert all(later[: len(earlier)] == earlier for earlier, later in itertools.pairwise(encoded))


def test_lean_transport_keeps_at_most_two_breakpoints(fake_server: FakeOpenAIServer) -> None:
    """Older messages lose their mark when a newer one takes it: two per request."""
    bodies = rounds(fake_server, "openrouter/anthropic/claude-sonnet-4.5", transport="openai")
    assert [json.dumps(body).count("cache_control") for body in bodies] == [2, 2, 2]


def test_litellm_openrouter_claude_gets_breakpoints(fake_server: FakeOpenAIServer) -> None:
    """Through litellm, OpenRouter's Claude requests carry the injected breakpoints."""
    bodies = rounds(fake_server, "openrouter/anthropic/claude-sonnet-4.5", transport="litellm")
    assert [0 < json.dumps(body).count("cache_control") <= 4 for body in bodies] == [True] * 3


@pytest.mark.parametrize("transport", ["litellm", "openai"])
def test_openrouter_claude_marks_the_system_prompt_and_the_newest_message(
    fake_server: FakeOpenAIServer, transport: str
) -> None:
    """Both transports put a breakpoint on the system prompt's and the newest message's block."""
    bodies = rounds(fake_server, "openrouter/anthropic/claude-sonnet-4.5", transport=transport)
    last = bodies[-1]["messages"]
    marks = (
        last[0]["content"][-1].get("cache_control"),
        last[-1]["content"][-1].get("cache_control"),
    )
    assert marks == ({"type": "ephemeral"}, {"type": "ephemeral"})


def test_the_default_transport_marks_openrouter_claude(fake_server: FakeOpenAIServer) -> None:
    """With no transport chosen (auto: the lean client), OpenRouter's Claude is still marked."""
    bodies = rounds(fake_server, "openrouter/anthropic/claude-sonnet-4.5")
    assert [json.dumps(body).count("cache_control") for body in bodies] == [2, 2, 2]
