"""The engine through litellm's native Anthropic route against the local Messages server."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tiller import EventKind, Session
from tiller.events import Event
from tiller.testing.anthropic import signature_for
from tiller.testing.server import FakeOpenAIServer, ServerReply

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

MODEL = "anthropic/claude-sonnet-4-5"


def tool(name: str, thinking: str = "", **args: object) -> ServerReply:
    return ServerReply(tool_calls=[(name, json.dumps(args))], thinking=thinking)


def claude_on(server: FakeOpenAIServer, **kwargs: Any) -> tuple[Session, list[Event]]:
    session = Session(
        MODEL, api_base=server.root_url, api_key="sk-ant-test", skills_dirs=[], **kwargs
    )
    events: list[Event] = []
    session.subscribe(events.append)
    return session, events


def breakpoints(body: dict[str, Any]) -> int:
    """How many blocks of a Messages request carry cache_control."""
    text = json.dumps([body.get("tools"), body.get("system"), body.get("messages")])
    return text.count('"cache_control"')


def test_tool_round_then_answer(fake_server: FakeOpenAIServer) -> None:
    """A write_file call and a final answer over the Anthropic route change the workspace."""
    fake_server.add(
        tool("write_file", file_path="a.txt", content="hi\n"), ServerReply(text="Done.")
    )
    session, _ = claude_on(fake_server)
    reply = session.send("go")
    assert (reply.stop_reason, reply.text, session.files()) == (
        "completed",
        "Done.",
        {"a.txt": "hi\n"},
    )


def test_requests_go_to_the_messages_endpoint(fake_server: FakeOpenAIServer) -> None:
    """litellm's Anthropic client posts to /v1/messages, streaming."""
    fake_server.add(ServerReply(text="ok"))
    session, _ = claude_on(fake_server)
    session.send("go")
    request = fake_server.requests[0]
    assert (request.path, request.body["stream"]) == ("/v1/messages", True)


def test_system_prompt_and_newest_message_carry_breakpoints(fake_server: FakeOpenAIServer) -> None:
    """The system prompt and the newest message are marked for caching."""
    fake_server.add(tool("glob", pattern="*"), ServerReply(text="ok"))
    session, _ = claude_on(fake_server)
    session.send("go")
    body = fake_server.requests[1].body
    assert (
        body["system"][-1]["cache_control"],
        body["messages"][-1]["content"][-1]["cache_control"],
    ) == (
        {"type": "ephemeral"},
        {"type": "ephemeral"},
    )


def test_never_more_than_four_breakpoints(fake_server: FakeOpenAIServer) -> None:
    """Across a multi-round run, no request carries more than four breakpoints."""
    fake_server.add(*[tool("glob", pattern=str(i)) for i in range(4)], ServerReply(text="ok"))
    session, _ = claude_on(fake_server)
    session.send("go")
    counts = [breakpoints(request.body) for request in fake_server.requests]
    assert counts == [2, 2, 2, 2, 2]


def test_caching_off_sends_no_breakpoints(fake_server: FakeOpenAIServer) -> None:
    """`prompt_caching=False` leaves every block unmarked."""
    fake_server.add(ServerReply(text="ok"))
    session, _ = claude_on(fake_server, prompt_caching=False)
    session.send("go")
    assert breakpoints(fake_server.requests[0].body) == 0


def test_cache_tokens_reach_the_reply_usage(fake_server: FakeOpenAIServer) -> None:
    """Round one writes the prefix, round two reads it; both show in `Reply.usage`."""
    fake_server.add(tool("glob", pattern="*"), ServerReply(text="ok"))
    session, _ = claude_on(fake_server)
    reply = session.send("go")
    first, second = fake_server.cache_accounts
    assert (reply.usage.cache_write_tokens, reply.usage.cache_read_tokens) == (
        first.cache_creation_input_tokens + second.cache_creation_input_tokens,
        second.cache_read_input_tokens,
    )


def test_cache_reads_cost_less_than_uncached_input(fake_server: FakeOpenAIServer) -> None:
    """The same two rounds cost less with caching than without (litellm's cache prices)."""
    script = [tool("glob", pattern="*"), ServerReply(text="ok")]
    fake_server.add(*script)
    cached = claude_on(fake_server)[0].send("go").usage.cost_usd
    with FakeOpenAIServer(script) as other:
        uncached = claude_on(other, prompt_caching=False)[0].send("go").usage.cost_usd
    assert cached is not None and uncached is not None and cached < uncached


def test_signed_thinking_goes_back_with_the_tool_use(fake_server: FakeOpenAIServer) -> None:
    """After a thinking + tool_use round, the next request carries the signed block first."""
    fake_server.add(tool("glob", thinking="I should look.", pattern="*"), ServerReply(text="ok"))
    session, _ = claude_on(fake_server, reasoning_effort="low")
    reply = session.send("go")
    assistant = fake_server.requests[1].body["messages"][1]
    assert (reply.stop_reason, assistant["content"][0]) == (
        "completed",
        {
            "type": "thinking",
            "thinking": "I should look.",
            "signature": signature_for("I should look."),
        },
    )


def test_redacted_thinking_goes_back_verbatim(fake_server: FakeOpenAIServer) -> None:
    """A redacted_thinking block is kept and sent back with its opaque data."""
    redacted = ServerReply(redacted_thinking="opaque==", tool_calls=[("glob", '{"pattern": "*"}')])
    fake_server.add(redacted, ServerReply(text="ok"))
    session, _ = claude_on(fake_server, reasoning_effort="low")
    session.send("go")
    assistant = fake_server.requests[1].body["messages"][1]
    assert assistant["content"][0] == {"type": "redacted_thinking", "data": "opaque=="}


def test_thinking_streams_as_reasoning_events(fake_server: FakeOpenAIServer) -> None:
    """Thinking text arrives as ASSISTANT_REASONING_DELTA events, apart from the answer."""
    fake_server.add(ServerReply(text="ok", thinking="pondering", chunk_size=3))
    session, events = claude_on(fake_server, reasoning_effort="low")
    reply = session.send("go")
    deltas = [e.data["delta"] for e in events if e.kind is EventKind.ASSISTANT_REASONING_DELTA]
    assert ("".join(deltas), reply.text) == ("pondering", "ok")


def test_reasoning_change_applies_to_the_next_call(fake_server: FakeOpenAIServer) -> None:
    """`set_reasoning` between sends turns thinking on for the following request only."""
    fake_server.add(ServerReply(text="a"), ServerReply(text="b"))
    session, _ = claude_on(fake_server)
    session.send("one")
    session.set_reasoning("high")
    session.send("two")
    thinking = [request.body.get("thinking") for request in fake_server.requests]
    assert thinking == [None, {"type": "enabled", "budget_tokens": 4096}]


def test_provider_error_message_is_anthropics(fake_server: FakeOpenAIServer) -> None:
    """A 400 in Anthropic's error shape ends the run with the provider's message."""
    fake_server.add(ServerReply(status=400, error_message="prompt is malformed"))
    session, _ = claude_on(fake_server)
    reply = session.send("go")
    assert (reply.stop_reason, "prompt is malformed" in (reply.error or "")) == ("error", True)
