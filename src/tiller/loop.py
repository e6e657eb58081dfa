"""The agent loop: one `Run` per `send`, reading top to bottom.

user turn -> drain steering -> repeat { limits and cancel -> compact when the
context is full -> model call -> assistant turn -> tools -> results turn ->
drain steering -> loop check } -> next follow-up -> PROCESSING_END.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

from tiller.compaction import CompactReason, compact_history
from tiller.errors import AuthError, CompactionError, ContextOverflowError, ProviderError
from tiller.events import EDIT_TOOLS, SKIPPED_OUTPUTS, EventKind
from tiller.history import AssistantTurn, ToolResultsTurn, UserKind, UserTurn
from tiller.loop_detection import LOOP_WARNING, LoopDetector
from tiller.model import ModelResponse, ToolCall, Usage
from tiller.tools.base import ToolContext
from tiller.tools.edit_diff import EditCapture
from tiller.tools.registry import ToolResult

if TYPE_CHECKING:
    from tiller.events import Event
    from tiller.session import Reply, Session

INTERRUPTED_MARK = "[interrupted by the user]"

SKIPPED = SKIPPED_OUTPUTS["steering"]
CANCELLED = SKIPPED_OUTPUTS["cancelled"]
SKIP_REASONS = {text: reason for reason, text in SKIPPED_OUTPUTS.items()}
"""`TOOL_CALL_END`'s `skipped` value for a call that never ran, by its result text."""


class Run:
    """Executes one `send`: the input, then each queued follow-up."""

    def __init__(self, session: Session, on_chunk: Callable[[str], None] | None) -> None:
        self.s = session
        self.on_chunk = on_chunk
        self.rounds = 0
        self.usage = Usage()
        self.text = ""
        self.error: str | None = None
        self.loops = LoopDetector(session.config.loop_detection_window)
        self.warned_context = False
        self.auto_compact = True
        self.just_compacted = False
        # perf_counter() when the person approved a call, by call id: a tool's duration
        # starts there, not while the approval dialog waited.
        self.approved_at: dict[str, float] = {}

    def execute(self, text: str) -> Reply:
        from tiller.session import Reply, SessionState

        s = self.s
        stop = "completed"
        unsubscribe = self.watch_approvals()
        try:
            stop = self.run_input(text, "user")
            while stop == "completed" and (next_input := s.take_follow_up()) is not None:
                stop = self.run_input(next_input, "follow_up")
        except AuthError as exc:
            s.emit(EventKind.ERROR, message=str(exc), fatal=True)
            s.emit(EventKind.PROCESSING_END, stop_reason="error", rounds=self.rounds)
            s._finish_close()
            raise
        finally:
            unsubscribe()
            if s.state is SessionState.PROCESSING:
                s.state = SessionState.IDLE
        s.emit(EventKind.PROCESSING_END, stop_reason=stop, rounds=self.rounds)
        if s.closing:
            s._finish_close()
        return Reply(
            text=self.text,
            files=s.files(),
            stop_reason=stop,
            rounds=self.rounds,
            usage=self.usage,
            error=self.error,
        )

    def run_input(self, text: str, kind: UserKind) -> str:
        """Run one input to a stop reason."""
        s = self.s
        s.workspace.checkpoint()
        s.add_turn(UserTurn(text, kind))
        s.emit(EventKind.USER_INPUT, text=text, kind=kind)
        self.drain_steering()
        turns = 0
        while True:
            if s.cancel_token.is_set():
                return "cancelled"
            if turns >= s.max_turns:
                s.emit(EventKind.TURN_LIMIT, max_turns=s.max_turns, rounds=turns)
                return "turn_limit"
            if self.context_full() and not self.compact("auto"):
                if s.cancel_token.is_set():
                    return "cancelled"
                # The call may still fit: go on with the whole history, and say why.
                self.auto_compact = False
                s.emit(EventKind.WARNING, message=f"{self.error} Continuing without compacting.")
                self.error = None
            response = self.call_model()
            if response is None:
                return "error" if self.error is not None else "cancelled"
            turns += 1
            text = response.text
            if response.finish_reason == "cancelled":
                # The next request must not read a reply cut mid-word as a finished one.
                text = f"{text}\n\n{INTERRUPTED_MARK}" if text else INTERRUPTED_MARK
            s.add_turn(
                AssistantTurn(text, tuple(response.tool_calls), tuple(response.thinking_blocks))
            )
            if response.finish_reason == "cancelled":
                return "cancelled"
            self.text = response.text
            if not response.tool_calls:
                return "completed"
            results = self.run_tools(response.tool_calls)
            s.add_turn(ToolResultsTurn(tuple(results)))
            self.drain_steering()
            self.check_loop(response.tool_calls)

    # -- steps ----------------------------------------------------------------

    def context_full(self) -> bool:
        """Whether the last request used more than `compact_ratio` of the window."""
        s = self.s
        if not self.auto_compact:
            return False
        return s.last_input_tokens > s.config.compact_ratio * s.context_window

    def compact(self, reason: CompactReason) -> bool:
        """Compact the history; False (with `self.error` set) when it could not."""
        try:
            result = compact_history(self.s, reason=reason)
        except CompactionError as exc:
            self.error = str(exc)
            return False
        self.usage.add(result.usage)
        self.just_compacted = True
        return True

    def call_model(self, *, retry_overflow: bool = True) -> ModelResponse | None:
        """One streamed model call; None when it failed (already reported).

        A context overflow compacts the history and retries the call once.
        """
        s = self.s
        request = s.build_request()
        started = False

        def on_text(delta: str) -> None:
            nonlocal started
            if not started:
                started = True
                s.emit(EventKind.ASSISTANT_TEXT_START)
            s.emit(EventKind.ASSISTANT_TEXT_DELTA, delta=delta)
            if self.on_chunk is not None:
                self.on_chunk(delta)

        def on_reasoning(delta: str) -> None:
            s.emit(EventKind.ASSISTANT_REASONING_DELTA, delta=delta)

        def on_retry(message: str) -> None:
            s.emit(EventKind.WARNING, message=message, retry=True)

        if not getattr(s.client, "ready", True):
            # The first call waits seconds for litellm's import: front ends say why.
            s.emit(
                EventKind.MODEL_CLIENT_LOADING,
                message="loading model client…",
                transport=s.transport,
            )
        try:
            response = s.client.complete(
                request,
                on_text=on_text,
                cancel=s.cancel_token,
                on_retry=on_retry,
                on_reasoning=on_reasoning,
            )
        except AuthError:
            raise
        except ContextOverflowError as exc:
            if retry_overflow:
                s.emit(EventKind.WARNING, message=f"{exc}; compacting the conversation to retry.")
                if self.compact("overflow"):
                    return self.call_model(retry_overflow=False)
                if s.cancel_token.is_set():
                    self.error = None
                    return None
                message = f"Context window exceeded and compaction failed: {self.error}"
            else:
                message = f"The conversation does not fit even after compacting: {exc}"
            self.error = message
            s.emit(EventKind.ERROR, message=message, fatal=False)
            return None
        except ProviderError as exc:
            self.error = str(exc)
            if exc.partial_text:
                # What streamed before the failure was seen; keep it in the history.
                s.emit(EventKind.ASSISTANT_TEXT_END, text=exc.partial_text)
                s.add_turn(AssistantTurn(exc.partial_text, ()))
                self.text = exc.partial_text
            s.emit(EventKind.ERROR, message=str(exc), fatal=False)
            return None
        self.rounds += 1
        if started:
            s.emit(EventKind.ASSISTANT_TEXT_END, text=response.text)
        self.record_usage(response.usage)
        return response

    def record_usage(self, usage: Usage) -> None:
        s = self.s
        self.usage.add(usage)
        s.usage.add(usage)
        s.last_input_tokens = usage.input_tokens
        if self.just_compacted and self.context_full():
            # Compacting did not bring the context under the threshold (a huge
            # system prompt, a huge newest turn): compacting again would not either.
            self.auto_compact = False
            s.emit(
                EventKind.WARNING,
                message="The context is still full after compacting; "
                "it compacts again only if the provider refuses a request.",
            )
        self.just_compacted = False
        window = s.context_window
        s.emit(
            EventKind.USAGE,
            **usage.to_dict(),
            total=s.usage.to_dict(),
            context_window=window,
        )
        if not self.warned_context and usage.input_tokens > s.config.context_warning_ratio * window:
            self.warned_context = True
            share = round(100 * usage.input_tokens / window)
            s.emit(
                EventKind.WARNING,
                message=f"Context is {share}% full ({usage.input_tokens:,} of {window:,} tokens).",
            )

    def run_tools(self, calls: list[ToolCall]) -> list[ToolResult]:
        """Run a round of calls; every call gets a result, in call order."""
        s = self.s
        registry = s.registry
        if (
            s.config.parallel_tools
            and s.profile.parallel_tool_calls
            and len(calls) > 1
            and all(
                (tool := registry.get(c.name)) is not None and tool.parallel_safe for c in calls
            )
        ):
            for call in calls:
                self.loops.record(call)
                s.emit(
                    EventKind.TOOL_CALL_START,
                    call_id=call.id,
                    name=call.name,
                    arguments=call.arguments,
                )
            with ThreadPoolExecutor(max_workers=min(8, len(calls))) as pool:
                results = list(pool.map(self.execute_tool, calls))
            for result in results:
                self.finish_tool(result, 0.0)
            return results

        results: list[ToolResult] = []
        for index, call in enumerate(calls):
            if s.cancel_token.is_set():
                results.extend(self.skipped(c, CANCELLED) for c in calls[index:])
                break
            self.loops.record(call)
            s.emit(
                EventKind.TOOL_CALL_START, call_id=call.id, name=call.name, arguments=call.arguments
            )
            results.append(self.run_one(call))
            if s.queued[0] and index + 1 < len(calls):
                results.extend(self.skipped(c, SKIPPED) for c in calls[index + 1 :])
                break
        return results

    def run_one(self, call: ToolCall) -> ToolResult:
        """Run one call and announce its end.

        An edit's event carries the diff it made; the duration counts from the
        approval on, not while the approval dialog waited.
        """
        capture = EditCapture(self.s.workspace, call.name, call.arguments)
        started = time.perf_counter()
        result = self.execute_tool(call)
        ended = time.perf_counter()
        started = max(started, self.approved_at.pop(call.id, started))
        diff = capture.diff() if call.name in EDIT_TOOLS and not result.is_error else None
        self.finish_tool(result, ended - started, diff=diff)
        return result

    def execute_tool(self, call: ToolCall) -> ToolResult:
        s = self.s

        def on_output(delta: str) -> None:
            s.emit(EventKind.TOOL_CALL_OUTPUT_DELTA, call_id=call.id, delta=delta)

        ctx = ToolContext(call_id=call.id, cancel=s.cancel_token, on_output=on_output)
        return s.registry.execute(call, ctx)

    def finish_tool(
        self, result: ToolResult, seconds: float, *, diff: str | None = None, skipped: str = ""
    ) -> None:
        """Emit `TOOL_CALL_END`: the full output, and for an edit the diff of that call.

        `skipped` says why a call never ran (`steering`, `cancelled`); `duration_ms`
        leaves out the time an approval dialog waited.
        """
        extra: dict[str, str] = {}
        if diff is not None:
            extra["diff"] = diff
        if skipped:
            extra["skipped"] = skipped
        self.s.emit(
            EventKind.TOOL_CALL_END,
            call_id=result.call_id,
            name=result.name,
            output=result.output,
            is_error=result.is_error,
            duration_ms=round(seconds * 1000, 1),
            **extra,
        )

    def watch_approvals(self) -> Callable[[], None]:
        """Note when each of this session's approval requests is answered.

        Approvals are emitted by the root session (a subagent asks through its
        parent, adding its own id as `agent_id`), so the root is watched.
        """
        s = self.s
        root = s
        while root.parent is not None:
            root = root.parent
        own = None if root is s else s.id

        def on_event(event: Event) -> None:
            data = event.data
            if event.kind is not EventKind.APPROVAL_REQUESTED or data.get("agent_id") != own:
                return
            future, call_id = data.get("future"), str(data.get("call_id", ""))

            def answered(_: object) -> None:
                self.approved_at[call_id] = time.perf_counter()

            if call_id and future is not None:
                future.add_done_callback(answered)

        return root.subscribe(on_event)

    def skipped(self, call: ToolCall, reason: str) -> ToolResult:
        """A result for a call that never ran, announced like any other."""
        s = self.s
        s.emit(EventKind.TOOL_CALL_START, call_id=call.id, name=call.name, arguments=call.arguments)
        result = ToolResult(
            call_id=call.id, name=call.name, output=reason, model_output=reason, is_error=True
        )
        self.finish_tool(result, 0.0, skipped=SKIP_REASONS.get(reason, ""))
        return result

    def drain_steering(self) -> None:
        """Deliver queued steering as user messages before the next model call."""
        s = self.s
        for text in s.take_steering():
            s.add_turn(UserTurn(text, "steering"))
            s.emit(EventKind.STEERING_INJECTED, text=text)

    def check_loop(self, calls: list[ToolCall]) -> None:
        period = self.loops.looping()
        if period is None:
            return
        s = self.s
        s.add_turn(UserTurn(LOOP_WARNING, "loop_warning"))
        s.emit(EventKind.LOOP_DETECTION, pattern_length=period, message=LOOP_WARNING)
        self.loops.reset()
