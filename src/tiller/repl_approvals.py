"""The REPL's side of the shell: asking for approval in a line, and live command output.

An approval request arrives on the engine's thread while the prompt is open;
the REPL prints it and reads the person's next line as the answer:
`y` allows once, `a` allows the command for the session, `n` denies, and
`n <reason>` (or any other text) denies with that reason for the model.

The person may be typing when the question appears. What was in the prompt
is set aside (and comes back once the question is answered), and a line whose
first key came before the question, or within `GUARD_SECONDS` of it, is never
taken as the answer: it is kept for later and the question is asked again.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

from tiller.approvals import Approval, Decision
from tiller.formatting import inert

SHOWN_OUTPUT_LINES = 20
"""Lines of a command's output printed live; the rest are counted."""

QUESTION = "allow? [y]es once · [a]lways this session · [n]o, optionally with a reason"

GUARD_SECONDS = 0.5
"""A line begun this soon after the question was printed is type-ahead, not an answer."""


def parse_answer(text: str) -> Approval | None:
    """The decision a typed line means, or None when it is empty."""
    stripped = text.strip()
    word, _, rest = stripped.partition(" ")
    lowered = word.lower().rstrip(",.:;!")
    if not stripped:
        return None
    if lowered in ("y", "yes") and not rest:
        return Approval(Decision.ALLOW)
    if lowered in ("a", "always") and not rest:
        return Approval(Decision.ALLOW_SESSION)
    if lowered in ("n", "no"):
        return Approval(Decision.DENY, rest.strip(" ,:-"))
    return Approval(Decision.DENY, stripped)


class PendingApprovals:
    """Approval requests waiting for the person's answer, oldest first.

    Args:
        on_change: called (from any thread) when a request arrives or goes away.

    Attributes:
        clock: the monotonic time source for the guard (`time.monotonic`; tests set
            one they move by hand).
    """

    def __init__(self, on_change: Callable[[], None]) -> None:
        self._queue: deque[tuple[dict[str, Any], Future[object], float]] = deque()
        self._lock = threading.Lock()
        self._on_change = on_change
        self.clock: Callable[[], float] = time.monotonic

    def __bool__(self) -> bool:
        with self._lock:
            self._drop_done()
            return bool(self._queue)

    def add(self, details: dict[str, Any], future: Future[object]) -> None:
        """Queue a request; a cancelled one (the run was interrupted) leaves by itself."""
        with self._lock:
            self._queue.append((details, future, self.clock()))
        future.add_done_callback(lambda _: self._on_change())
        self._on_change()

    def current(self) -> dict[str, Any] | None:
        """The details of the request the next answer is for."""
        with self._lock:
            self._drop_done()
            return self._queue[0][0] if self._queue else None

    def armed(self) -> bool:
        """Whether the guard time after the oldest open question has passed."""
        with self._lock:
            self._drop_done()
            return bool(self._queue) and self.clock() >= self._queue[0][2] + GUARD_SECONDS

    def may_answer(self, began: float | None) -> bool:
        """Whether a line whose first key came at `began` (clock time) may answer.

        A line begun before the oldest open question was printed, or within
        `GUARD_SECONDS` of it, may not; nor may one whose start is unknown.
        """
        with self._lock:
            self._drop_done()
            if not self._queue or began is None:
                return False
            return began >= self._queue[0][2] + GUARD_SECONDS

    def answer(self, approval: Approval) -> bool:
        """Resolve the oldest open request; False when there was none."""
        with self._lock:
            self._drop_done()
            if not self._queue:
                return False
            future = self._queue.popleft()[1]
        try:
            future.set_result(approval)
        except Exception:  # cancelled by the engine in the meantime
            return False
        return True

    def _drop_done(self) -> None:
        while self._queue and self._queue[0][1].done():
            self._queue.popleft()


def describe_request(details: dict[str, Any]) -> list[str]:
    """The lines that show a request: who asks, the command, what it is for."""
    who = f"subagent {details['agent_id']}" if details.get("agent_id") else "the agent"
    lines = [f"{who} wants to run, in the sandbox ({details.get('cwd') or '.'}):"]
    if details.get("server"):  # an MCP tool: it runs in the server, not in the sandbox
        lines = [f"{who} wants to call a tool of the MCP server {details['server']}:"]
    lines.append(f"  $ {details.get('command', '')}")
    if details.get("description"):
        lines.append(f"  {details['description']}")
    if details.get("reason"):
        lines.append(f"  why it asks: {details['reason']}")
    # A command or an MCP tool's description holding escape sequences could move the
    # cursor and draw another command over the one that would run.
    return [inert(line) for line in lines]


class OutputTail:
    """Live output of running commands, by call id: the first lines, then a count."""

    def __init__(self) -> None:
        self._partial: dict[str, str] = {}
        self._shown: dict[str, int] = {}
        self._hidden: dict[str, int] = {}

    def feed(self, call_id: str, delta: str) -> list[str]:
        """The complete lines of `delta` worth printing now."""
        text = self._partial.get(call_id, "") + delta
        *lines, self._partial[call_id] = text.split("\n")
        return self._take(call_id, lines)

    def finish(self, call_id: str) -> tuple[list[str], int]:
        """The last partial line (if shown) and how many lines were not shown."""
        rest = self._partial.pop(call_id, "")
        lines = self._take(call_id, [rest] if rest else [])
        self._shown.pop(call_id, None)
        return lines, self._hidden.pop(call_id, 0)

    def _take(self, call_id: str, lines: list[str]) -> list[str]:
        shown = self._shown.get(call_id, 0)
        room = max(0, SHOWN_OUTPUT_LINES - shown)
        self._shown[call_id] = shown + min(room, len(lines))
        if len(lines) > room:
            self._hidden[call_id] = self._hidden.get(call_id, 0) + len(lines) - room
        return lines[:room]


def verdict(approval: Approval) -> str:
    """How an answer is echoed: `allowed once`, `denied — reason`, ..."""
    said = {"allow": "allowed once", "allow_session": "allowed for this session"}
    reason = f" — {approval.reason}" if approval.reason else ""
    return said.get(approval.decision, "denied") + reason
