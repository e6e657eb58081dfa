"""MCP servers that misbehave on purpose (`fixtures/mcp_hostile.py`, raw JSON-RPC over
stdio): whatever they send, the session goes on and the person's terminal stays clean."""

from __future__ import annotations

import io
import json
import logging
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tiller import EventKind, Session, SessionConfig
from tiller.events import Event
from tiller.mcp import McpServerConfig
from tiller.testing.scripted import ScriptedModel, Step, call

HOSTILE = str(Path(__file__).parent / "fixtures" / "mcp_hostile.py")
EMPTY: dict[str, Any] = {"type": "object", "properties": {}}


def tool(name: str, schema: dict[str, Any] | None = None, description: str = "") -> dict[str, Any]:
    return {"name": name, "description": description, "inputSchema": schema or EMPTY}


@pytest.fixture
def hostile(tmp_path: Path) -> Iterator[Any]:
    """Builds sessions over a hostile server following a script; closes them after."""
    sessions: list[Session] = []

    def start(
        tools: list[dict[str, Any]],
        calls: dict[str, list[dict[str, Any]]] | None = None,
        steps: list[Step | str] | None = None,
        name: str = "h",
        extra: tuple[McpServerConfig, ...] = (),
    ) -> Session:
        script = tmp_path / f"{name}.json"
        script.write_text(json.dumps({"tools": tools, "calls": calls or {}}), encoding="utf-8")
        server = McpServerConfig(
            name=name,
            command=sys.executable,
            args=(HOSTILE, str(script)),
            source="test",
            tool_timeout_s=5,
        )
        config = SessionConfig(mcp_servers=(server, *extra), shell_approval="allow")
        session = Session(ScriptedModel(list(steps or [])), files={}, config=config)
        sessions.append(session)
        assert session.mcp is not None
        session.mcp.wait_ready()
        return session

    yield start
    for session in sessions:
        session.close()


def outputs(session: Session) -> list[str]:
    seen: list[str] = []

    def collect(event: Event) -> None:
        if event.kind is EventKind.TOOL_CALL_END:
            seen.append(event.data["output"])

    session.subscribe(collect)
    return seen


def mcp_names(session: Session) -> list[str]:
    return sorted(name for name in session.registry.names() if name.startswith("mcp__"))


def test_non_utf8_output_is_replaced_and_the_server_keeps_serving(hostile: Any) -> None:
    """A Latin-1 byte on a server's stdout becomes U+FFFD; the next call still answers."""
    steps: list[Step | str] = [call("mcp__h__latin"), call("mcp__h__plain"), "done"]
    session = hostile([tool("latin"), tool("plain")], {"latin": [{"latin1": "café"}]}, steps=steps)
    seen = outputs(session)
    session.send("go")
    assert seen == ["caf\ufffd", "ok"]


def test_garbage_on_stdout_stays_off_the_terminal(
    hostile: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A line that is not JSON-RPC is dropped quietly: no traceback on Tiller's stderr."""
    # As in a front end: no logging configured, so Python's last-resort handler would
    # print the SDK's records on stderr (pytest's own capture handler is taken away).
    terminal = io.StringIO()
    monkeypatch.setattr(logging.root, "handlers", [])
    monkeypatch.setattr(logging, "lastResort", logging.StreamHandler(terminal))
    calls = {"noisy": [{"raw": "not json\n"}, {"result": {"content": []}}]}
    session = hostile([tool("noisy")], calls, steps=[call("mcp__h__noisy"), "done"])
    session.send("go")
    assert terminal.getvalue() == ""
