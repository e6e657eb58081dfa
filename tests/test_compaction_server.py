"""Compaction end to end: a real `Session` and model client against the local server."""

from __future__ import annotations

import json
from typing import Any

from tiller import EventKind, Session
from tiller.compaction import compact_prompt
from tiller.events import Event
from tiller.testing.server import FakeOpenAIServer, ServerReply

OVERFLOW = "This model's maximum context length is 8192 tokens. However, you requested 9000 tokens."


def session(server: FakeOpenAIServer, events: list[Event], **opts: Any) -> Session:
    s = Session(
        "openai/fake-model", api_base=server.base_url, api_key="sk-test", skills_dirs=[], **opts
    )
    s.subscribe(events.append)
    return s


def contents(server: FakeOpenAIServer, index: int) -> list[tuple[str, str]]:
    """(role, content) of every message after the system prompt in request `index`."""
    messages = server.requests[index].body["messages"][1:]
    return [(m["role"], str(m.get("content") or "")) for m in messages]


def test_overflow_from_the_provider_compacts_and_retries(fake_server: FakeOpenAIServer) -> None:
    """A context-length 400 leads to one summary request and one retry that completes."""
    fake_server.add(
        ServerReply(text="first answer"),
        ServerReply(status=400, error_message=OVERFLOW),
        ServerReply(text="the summary"),
        ServerReply(text="done"),
    )
    events: list[Event] = []
    s = session(fake_server, events)
    s.send("one")
    reply = s.send("two")
    compacted = [e for e in events if e.kind is EventKind.CONTEXT_COMPACTED]
    retry = contents(fake_server, 3)
    assert (reply.stop_reason, reply.text, len(fake_server.requests), len(compacted)) == (
        "completed",
        "done",
        4,
        1,
    )
    assert contents(fake_server, 2)[-1] == ("user", compact_prompt())
    assert (retry[0][0], "the summary" in retry[0][1], retry[1:]) == (
        "user",
        True,
        [("user", "two")],
    )


def test_auto_compaction_through_the_client(fake_server: FakeOpenAIServer) -> None:
    """Usage above compact_ratio of the window compacts before the next call; files stay."""
    write = json.dumps({"file_path": "a.py", "content": "x = 1\n"})
    fake_server.add(
        ServerReply(tool_calls=[("write_file", write)], usage=(120_000, 5, 0)),
        ServerReply(text="the summary"),
        ServerReply(text="done"),
    )
    events: list[Event] = []
    s = session(fake_server, events)
    reply = s.send("write a.py")
    assert (reply.stop_reason, reply.text, reply.files, len(fake_server.requests)) == (
        "completed",
        "done",
        {"a.py": "x = 1\n"},
        3,
    )
    assert contents(fake_server, 1)[-1] == ("user", compact_prompt())
