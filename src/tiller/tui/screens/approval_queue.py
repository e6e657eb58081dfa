"""Approval requests waiting for the person: one modal at a time, in the order they came.

Parallel subagents can ask at once; each request gets its own answer. The engine
cancels a request's future when the run is cancelled while it waits, so the
queue never resolves a done future and closes (or skips) a withdrawn request.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, InvalidStateError
from contextlib import suppress
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from textual.message import Message

from tiller.tui.screens.approval import ApprovalScreen, Clock, KeyForward

if TYPE_CHECKING:
    from textual.screen import Screen

    from tiller.approvals import Approval


@dataclass(eq=False)
class ApprovalRequest:
    """One `APPROVAL_REQUESTED` event's details and the future that answers it."""

    details: dict[str, Any]
    future: Future[object]


class ApprovalQueue:
    """Shows requests one modal at a time and resolves each future with the answer.

    Args:
        owner: the screen that posts `Settled` to itself (its handler calls `settled`)
            and above which the modals open.
        on_waiting: told how many requests wait (the shown one included) on every change.
        forward: types a key into the prompt; keys that reach a modal before it is
            armed go there (see `ApprovalScreen`).

    Attributes:
        clock: the time source the modals measure their quiet period with
            (`time.monotonic`; a test sets one it moves by hand).
    """

    class Settled(Message):
        """A request's future is done: answered here, or cancelled by the engine.

        Posted from whichever thread finished the future (the engine's, on a
        cancel), which is why it is a message and not a direct call.
        """

        def __init__(self, request: ApprovalRequest) -> None:
            self.request = request
            super().__init__()

    def __init__(
        self,
        owner: Screen[Any],
        on_waiting: Callable[[int], None],
        forward: KeyForward | None = None,
    ) -> None:
        self._owner = owner
        self._on_waiting = on_waiting
        self._forward = forward
        self.clock: Clock = time.monotonic
        self._waiting: deque[ApprovalRequest] = deque()
        self._shown: tuple[ApprovalRequest, ApprovalScreen] | None = None

    @property
    def count(self) -> int:
        """Requests not yet answered, the one on screen included."""
        return len(self._waiting) + (self._shown is not None)

    @property
    def screen(self) -> ApprovalScreen | None:
        """The modal on screen, if any."""
        return self._shown[1] if self._shown is not None else None

    def add(self, details: dict[str, Any]) -> None:
        """Queue the request in `details` (an `APPROVAL_REQUESTED` event's data)."""
        future = details.get("future")
        if not isinstance(future, Future) or future.done():
            return
        request = ApprovalRequest(details, future)
        self._waiting.append(request)
        future.add_done_callback(lambda _: self._owner.post_message(self.Settled(request)))
        self._show_next()

    def settled(self, request: ApprovalRequest) -> None:
        """A future finished; a cancelled one leaves the screen or the queue."""
        if not request.future.cancelled():
            return
        if self._shown is not None and self._shown[0] is request:
            self._shown[1].withdraw()
        elif request in self._waiting:
            self._waiting.remove(request)
            self._on_waiting(self.count)

    def _show_next(self) -> None:
        if self._shown is None:
            while self._waiting and self._waiting[0].future.done():
                self._waiting.popleft()
            if self._waiting:
                request = self._waiting.popleft()
                screen = ApprovalScreen(request.details, clock=self.clock, forward=self._forward)
                self._shown = (request, screen)
                self._owner.app.push_screen(
                    screen, callback=lambda answer: self._answered(request, answer)
                )
        self._on_waiting(self.count)

    def _answered(self, request: ApprovalRequest, answer: Approval | None) -> None:
        self._shown = None
        if answer is not None and not request.future.done():
            # The engine may have cancelled it a moment ago; its Settled is on the way.
            with suppress(InvalidStateError):
                request.future.set_result(answer)
        self._show_next()
