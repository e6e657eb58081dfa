"""How each engine event updates the main screen: one widget per event.

A mixin of `MainScreen`; `_engine_event` there dispatches through `handlers`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from tiller.events import EventKind
from tiller.terminal_text import visible
from tiller.tui.markup import escape
from tiller.tui.pending import PendingMessages
from tiller.tui.status_bar import StatusBar

if TYPE_CHECKING:
    from textual.app import App
    from textual.widget import Widget

    from tiller.tui.conversation import Conversation, Notice
    from tiller.tui.screens.approval_queue import ApprovalQueue


class EngineEventHandlers:
    """A handler per event kind shown; expects `MainScreen`'s attributes."""

    running: bool
    conversation: Conversation
    approvals: ApprovalQueue
    _calls_done: int
    loading_notice: Notice | None = None  # "loading model client…" while it shows

    if TYPE_CHECKING:
        app: App[None]

        def query_one(self, selector: type[Widget]) -> Any: ...
        def _schedule_refresh(self) -> None: ...

    def handlers(self) -> dict[EventKind, Callable[[dict[str, Any]], Awaitable[None]]]:
        """Which method draws which event (kinds not listed only reach the events pane)."""
        return {
            EventKind.ASSISTANT_TEXT_START: self._on_assistant_text_start,
            EventKind.ASSISTANT_TEXT_DELTA: self._on_assistant_text_delta,
            EventKind.ASSISTANT_REASONING_DELTA: self._on_assistant_reasoning_delta,
            EventKind.ASSISTANT_TEXT_END: self._on_assistant_text_end,
            EventKind.TOOL_CALL_START: self._on_tool_call_start,
            EventKind.TOOL_CALL_OUTPUT_DELTA: self._on_tool_call_output_delta,
            EventKind.TOOL_CALL_END: self._on_tool_call_end,
            EventKind.USER_INPUT: self._on_user_input,
            EventKind.STEERING_INJECTED: self._on_steering_injected,
            EventKind.TURN_LIMIT: self._on_turn_limit,
            EventKind.LOOP_DETECTION: self._on_loop_detection,
            EventKind.WARNING: self._on_warning,
            EventKind.MODEL_CLIENT_LOADING: self._on_model_client_loading,
            EventKind.ERROR: self._on_error,
            EventKind.USAGE: self._on_usage,
            EventKind.CONTEXT_COMPACTED: self._on_context_compacted,
            EventKind.WORKSPACE_CHANGED: self._on_workspace_changed,
            EventKind.SKILL_LOADED: self._on_skill_loaded,
            EventKind.SUBAGENT_STARTED: self._on_subagent_started,
            EventKind.SUBAGENT_FINISHED: self._on_subagent_finished,
            EventKind.APPROVAL_REQUESTED: self._on_approval_requested,
            EventKind.SESSION_END: self._on_session_end,
        }

    async def _on_assistant_text_start(self, data: dict[str, Any]) -> None:
        self.conversation.begin_assistant()

    async def _on_assistant_text_delta(self, data: dict[str, Any]) -> None:
        await self.conversation.append_assistant(data.get("delta", ""))

    async def _on_assistant_reasoning_delta(self, data: dict[str, Any]) -> None:
        self.conversation.append_reasoning(data.get("delta", ""))

    async def _on_assistant_text_end(self, data: dict[str, Any]) -> None:
        await self.conversation.end_assistant()

    async def _on_tool_call_start(self, data: dict[str, Any]) -> None:
        agent = str(data.get("agent_id") or "")
        if not agent:  # a subagent's call does not end the parent's streamed text
            await self.conversation.end_assistant()
        self.conversation.tool_started(
            data["call_id"], data["name"], data.get("arguments", ""), agent
        )

    async def _on_tool_call_output_delta(self, data: dict[str, Any]) -> None:
        self.conversation.tool_output(
            data["call_id"], data.get("delta", ""), str(data.get("agent_id") or "")
        )

    async def _on_tool_call_end(self, data: dict[str, Any]) -> None:
        self.conversation.tool_finished(
            data["call_id"],
            data.get("name", ""),
            data.get("output", ""),
            bool(data.get("is_error")),
            data.get("duration_ms"),
            diff=data.get("diff"),
            skipped=str(data.get("skipped") or ""),
            agent_id=str(data.get("agent_id") or ""),
        )

    async def _on_user_input(self, data: dict[str, Any]) -> None:
        self._calls_done = 0
        self.query_one(StatusBar).round = 1
        if data.get("kind") == "follow_up":
            self.query_one(PendingMessages).take("follow_up", data.get("text"))
            self.conversation.add_user(data.get("text", ""), "follow_up")

    async def _on_steering_injected(self, data: dict[str, Any]) -> None:
        self.query_one(PendingMessages).take("steering", data.get("text"))
        self.conversation.add_user(data.get("text", ""), "steering")

    async def _on_turn_limit(self, data: dict[str, Any]) -> None:
        self.conversation.add_turn_limit(int(data.get("max_turns", 0)))

    async def _on_loop_detection(self, data: dict[str, Any]) -> None:
        self.conversation.add_notice(
            "The agent seemed to repeat itself; Tiller asked it to change approach.", "warning"
        )

    async def _on_warning(self, data: dict[str, Any]) -> None:
        self.conversation.add_notice(str(data.get("message", "")), "warning", markup=False)

    async def _on_model_client_loading(self, data: dict[str, Any]) -> None:
        # Transient: it goes as soon as the model answers (or the run ends).
        self.loading_notice = self.conversation.add_notice(
            str(data.get("message", "")), "info", markup=False
        )

    async def drop_loading_notice(self, kind: EventKind) -> None:
        """Remove "loading model client…" once anything but usage follows it."""
        notice = self.loading_notice
        if notice is not None and kind not in (EventKind.MODEL_CLIENT_LOADING, EventKind.USAGE):
            self.loading_notice = None
            await notice.remove()

    async def _on_error(self, data: dict[str, Any]) -> None:
        if data.get("fatal"):
            return  # an auth error: the controller says it (once) when the run has ended
        message = str(data.get("message", "unknown error"))
        message += "\nSend a message to try again, or switch models with /model."
        self.conversation.add_notice(message, "error", markup=False)

    async def _on_usage(self, data: dict[str, Any]) -> None:
        self._calls_done += 1
        status = self.query_one(StatusBar)
        total = data.get("total") or {}
        status.input_tokens = int(total.get("input_tokens", 0))
        status.output_tokens = int(total.get("output_tokens", 0))
        status.cost = total.get("cost_usd")
        status.cache_read_tokens = int(total.get("cache_read_tokens", 0))
        window = data.get("context_window") or 0
        if window:
            status.context_percent = round(100 * int(data.get("input_tokens", 0)) / window)
        status.round = min(self._calls_done + self.running, status.max_turns)

    async def _on_context_compacted(self, data: dict[str, Any]) -> None:
        before, after = int(data.get("tokens_before", 0)), int(data.get("tokens_after", 0))
        self.conversation.add_compaction(str(data.get("summary", "")), (before, after))
        window = int(data.get("context_window") or 0)
        if window:
            self.query_one(StatusBar).context_percent = round(100 * after / window)

    async def _on_workspace_changed(self, data: dict[str, Any]) -> None:
        self._schedule_refresh()

    async def _on_skill_loaded(self, data: dict[str, Any]) -> None:
        name = escape(visible(str(data.get("name", ""))))
        self.conversation.add_notice(f"Loaded skill [b]{name}[/b]")

    async def _on_subagent_started(self, data: dict[str, Any]) -> None:
        self.conversation.subagent_started(
            str(data.get("agent_id", "")), str(data.get("task", "")), str(data.get("call_id", ""))
        )

    async def _on_subagent_finished(self, data: dict[str, Any]) -> None:
        self.conversation.subagent_finished(
            str(data.get("agent_id", "")),
            bool(data.get("success")),
            int(data.get("turns_used") or 0),
        )

    async def _on_approval_requested(self, data: dict[str, Any]) -> None:
        # A request the engine already gave up on (cancelled while the event
        # was queued) needs no modal; the queue checks and watches the future.
        self.approvals.add(data)
        if not data.get("agent_id"):
            self.conversation.shell_waiting(str(data.get("call_id", "")), True)

    async def _on_session_end(self, data: dict[str, Any]) -> None:
        self.query_one(StatusBar).state = "closed"
