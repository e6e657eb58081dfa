"""An ACP client for tests: records what the agent sends, answers as an editor would.

`connected(agent, client)` runs a `TillerAgent` in-process over a socket pair
(the SDK's real framing and routing on both ends); the subprocess tests use the
same `RecordingClient` with `acp.spawn_agent_process`.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from acp import RequestPermissionResponse, connect_to_agent, run_agent
from acp.client.connection import ClientSideConnection
from acp.schema import AllowedOutcome, DeniedOutcome, WriteTextFileResponse

from tiller.acp_agent import TillerAgent

Answer = Callable[[Any], Awaitable[str | None]]
"""Picks a permission option id for a request (None: the request is cancelled)."""


class RecordingClient:
    """The editor side: records updates, permission requests and file writes."""

    def __init__(self, answer: Answer | None = None) -> None:
        self.updates: list[Any] = []
        self.permissions: list[Any] = []
        self.writes: list[tuple[str, str]] = []
        self.answer = answer

    async def session_update(self, session_id: str, update: Any, **_: Any) -> None:
        self.updates.append(update)

    async def request_permission(
        self, session_id: str, tool_call: Any, options: list[Any], **_: Any
    ) -> RequestPermissionResponse:
        self.permissions.append(tool_call)
        choice = await self.answer(tool_call) if self.answer is not None else "deny"
        if choice is None:
            return RequestPermissionResponse(outcome=DeniedOutcome(outcome="cancelled"))
        return RequestPermissionResponse(
            outcome=AllowedOutcome(outcome="selected", option_id=choice)
        )

    async def write_text_file(
        self, session_id: str, path: str, content: str, **_: Any
    ) -> WriteTextFileResponse:
        # An editor updates its buffer and saves it.
        self.writes.append((path, content))
        Path(path).write_text(content, encoding="utf-8")
        return WriteTextFileResponse()

    def of(self, kind: str) -> list[Any]:
        """The updates of one `sessionUpdate` kind, in order."""
        return [u for u in self.updates if u.session_update == kind]

    def text(self, kind: str = "agent_message_chunk") -> str:
        """The text of every chunk of `kind`, joined."""
        return "".join(u.content.text for u in self.of(kind))


@asynccontextmanager
async def connected(
    agent: TillerAgent, client: RecordingClient
) -> AsyncIterator[ClientSideConnection]:
    """`client` connected to `agent` over a socket pair; everything closed afterwards."""
    agent_end, client_end = socket.socketpair()
    agent_reader, agent_writer = await asyncio.open_unix_connection(sock=agent_end)
    client_reader, client_writer = await asyncio.open_unix_connection(sock=client_end)
    serving = asyncio.create_task(run_agent(agent, agent_writer, agent_reader))
    conn = connect_to_agent(client, client_writer, client_reader)
    try:
        yield conn
    finally:
        await conn.close()
        client_writer.close()
        serving.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await serving
        agent_writer.close()
        await asyncio.to_thread(agent.close)
