"""Child sessions a parent spawns on the same workspace, each in its own thread."""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from tiller.errors import TillerError, ToolError
from tiller.events import Event, EventKind
from tiller.tools.base import Tool
from tiller.tools.close_agent import close_agent_tool
from tiller.tools.send_input import send_input_tool
from tiller.tools.spawn_agent import spawn_agent_tool
from tiller.tools.wait import wait_tool

if TYPE_CHECKING:
    from tiller.session import Reply, Session

# How long closing a session waits for its children to stop.
_STOP_WAIT = 5.0

RELAYED = frozenset(
    {EventKind.TOOL_CALL_START, EventKind.TOOL_CALL_OUTPUT_DELTA, EventKind.TOOL_CALL_END}
)
"""A child's events its parent emits again, with the child's `agent_id`, so a front end
can show the child's tool calls under the call that spawned it."""


@dataclass
class Subagent:
    """A child session and its current run."""

    id: str
    task: str
    session: Session
    future: Future[Reply] = field(default_factory=Future)
    turns_used: int = 0
    # Set once a run's SUBAGENT_FINISHED went out (its future resolves just before).
    idle: threading.Event = field(default_factory=threading.Event)


class SubagentPool:
    """The children of one session: spawn, talk to, wait for, close."""

    def __init__(self, parent: Session) -> None:
        self.parent = parent
        self._agents: dict[str, Subagent] = {}
        self._ids = itertools.count(1)
        self._lock = threading.Lock()

    def spawn(
        self,
        task: str,
        working_dir: str | None = None,
        model: str | None = None,
        max_turns: int | None = None,
        call_id: str = "",
    ) -> Subagent:
        """Start a child on the parent's workspace with its own history.

        `call_id` (the `spawn_agent` call) goes into `SUBAGENT_STARTED`; the
        child's tool calls are emitted by the parent too, with `agent_id` (see
        `RELAYED`).
        """
        from tiller.session import Session

        parent = self.parent
        agent_id = f"agent_{next(self._ids)}"
        child = Session(
            parent.model if model is None else model,
            client=parent.client,
            files=parent.workspace,
            cwd=working_dir if working_dir is not None else parent.cwd,
            max_turns=max_turns or parent.max_turns,
            profile=None if model else parent.profile.name,
            config=parent.config,
            depth=parent.depth + 1,
            parent=parent,
            skills_dirs=[skill.directory.parent for skill in parent.skills],
            session_id=f"{parent.id}.{agent_id}",
            reasoning_effort=parent.reasoning_effort,
            **parent.llm_options,
        )
        agent = Subagent(agent_id, task, child)
        with self._lock:
            self._agents[agent_id] = agent
        child.subscribe(self._relay(agent_id))
        started = {"call_id": call_id} if call_id else {}
        parent.emit(
            EventKind.SUBAGENT_STARTED, agent_id=agent_id, task=task, depth=child.depth, **started
        )
        self._run(agent, task)
        return agent

    def _run(self, agent: Subagent, text: str) -> None:
        future: Future[Reply] = Future()
        agent.future = future
        agent.idle.clear()

        def work() -> None:
            try:
                try:
                    reply = agent.session.send(text)
                except BaseException as exc:
                    future.set_exception(exc)
                    self._finished(agent, success=False, output=str(exc))
                    return
                agent.turns_used += reply.rounds
                future.set_result(reply)
                self._finished(agent, success=reply.stop_reason == "completed", output=reply.text)
            finally:
                agent.idle.set()

        threading.Thread(target=work, name=f"tiller-{agent.session.id}", daemon=True).start()

    def _relay(self, agent_id: str) -> Callable[[Event], None]:
        parent = self.parent

        def relay(event: Event) -> None:
            if event.kind in RELAYED:
                # A grandchild's call keeps its path: agent_1/agent_1.
                inner = event.data.get("agent_id")
                path = f"{agent_id}/{inner}" if inner else agent_id
                parent.emit(event.kind, **{**event.data, "agent_id": path})

        return relay

    def _finished(self, agent: Subagent, *, success: bool, output: str) -> None:
        self.parent.emit(
            EventKind.SUBAGENT_FINISHED,
            agent_id=agent.id,
            success=success,
            turns_used=agent.turns_used,
            output=output,
        )

    def working(self) -> list[str]:
        """Ids of the children whose run has not finished (they may still edit the workspace).

        A child outlives its parent's turn unless the parent waits for it or closes it.
        """
        with self._lock:
            return [agent.id for agent in self._agents.values() if not agent.idle.is_set()]

    def get(self, agent_id: str) -> Subagent:
        with self._lock:
            agent = self._agents.get(agent_id)
            known = ", ".join(self._agents) or "none"
        if agent is None:
            raise ToolError(f"No agent {agent_id!r} (known: {known}).")
        return agent

    def send_input(self, agent_id: str, message: str) -> str:
        """Steer a running child, or start its next run when it is idle."""
        agent = self.get(agent_id)
        if not agent.future.done():
            agent.session.steer(message)
            return f"Sent to {agent_id} as steering; it is still running."
        self._run(agent, message)
        return f"{agent_id} is working on the new input; call wait to get the result."

    def wait(self, agent_id: str, timeout: float | None = None) -> dict[str, Any]:
        """Block until the child's current run ends (the parent's cancel interrupts)."""
        agent = self.get(agent_id)
        cancel = self.parent.cancel_token
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            try:
                # Short slices so the parent's cancel is honoured.
                reply = agent.future.result(timeout=0.05)
                break
            except FutureTimeout:
                if cancel.is_set():
                    raise ToolError(
                        f"Stopped waiting for {agent_id}: the run was cancelled."
                    ) from None
                if deadline is not None and time.monotonic() >= deadline:
                    return {
                        "output": "",
                        "success": False,
                        "turns_used": agent.turns_used,
                        "status": "still running",
                    }
            except TillerError as exc:
                return {"output": str(exc), "success": False, "turns_used": agent.turns_used}
        return {
            "output": reply.text,
            "success": reply.stop_reason == "completed",
            "turns_used": agent.turns_used,
            "stop_reason": reply.stop_reason,
        }

    def close(self, agent_id: str) -> str:
        agent = self.get(agent_id)
        agent.session.abort()
        with self._lock:
            self._agents.pop(agent_id, None)
        return f"Closed {agent_id}."

    def close_all(self, wait: float = _STOP_WAIT) -> None:
        """Abort every child, then give them up to `wait` seconds to stop.

        Waiting lets their SUBAGENT_FINISHED events reach the parent before its
        SESSION_END (a child stuck longer is left to finish on its own).
        """
        with self._lock:
            agents = list(self._agents.values())
            self._agents.clear()
        for agent in agents:
            agent.session.abort()
        deadline = time.monotonic() + wait
        for agent in agents:
            agent.idle.wait(max(0.0, deadline - time.monotonic()))


def subagent_tools(pool: SubagentPool) -> list[Tool]:
    """`spawn_agent`, `send_input`, `wait` and `close_agent` over `pool`."""
    return [spawn_agent_tool(pool), send_input_tool(pool), wait_tool(pool), close_agent_tool(pool)]
