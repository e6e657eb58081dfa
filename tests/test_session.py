"""Engine tests with the scripted model: the loop, queues, limits, cancel, events."""

from __future__ import annotations

import threading
import time

import pytest

from tiller import EventKind, Session, SessionBusy, SessionClosed, SessionConfig
from tiller.errors import AuthError, ProviderError
from tiller.events import Event
from tiller.loop import SKIPPED
from tiller.session import SessionState
from tiller.testing.scripted import ScriptedModel, Step, call
from tiller.tools.base import FunctionTool, ToolContext


def make(steps: list[Step | str], **kwargs: object) -> tuple[Session, ScriptedModel, list[Event]]:
    model = ScriptedModel(steps)
    session = Session(model, skills_dirs=[], **kwargs)  # type: ignore[arg-type]
    events: list[Event] = []
    session.subscribe(events.append)
    return session, model, events


def kinds(events: list[Event]) -> list[EventKind]:
    return [event.kind for event in events]


def test_write_then_answer_stays_in_memory(tmp_path) -> None:
    """A write lands in the workspace, not on disk."""
    session, _, _ = make(
        [call("write_file", file_path="a.txt", content="hi\n"), "done"], root=tmp_path
    )
    reply = session.send("make a.txt")
    assert (reply.stop_reason, reply.text, reply.files, list(tmp_path.iterdir())) == (
        "completed",
        "done",
        {"a.txt": "hi\n"},
        [],
    )


def test_on_chunk_streams_every_round() -> None:
    """on_chunk sees the text of every round, in order."""
    session, _, _ = make(
        [
            Step(
                chunks=["Let me ", "write. "],
                tool_calls=[("write_file", {"file_path": "x", "content": ""})],
            ),
            Step(chunks=["Do", "ne"]),
        ]
    )
    chunks: list[str] = []
    session.send("go", on_chunk=chunks.append)
    assert "".join(chunks) == "Let me write. Done"


def test_event_order_of_two_round_run() -> None:
    """A tool round then an answer emits events in the documented order."""
    session, _, events = make([Step(text="ok", tool_calls=[("list_dir", {})]), "bye"])
    session.send("hi")
    assert [k for k in kinds(events) if k is not EventKind.ASSISTANT_TEXT_DELTA] == [
        EventKind.SESSION_START,
        EventKind.USER_INPUT,
        EventKind.ASSISTANT_TEXT_START,
        EventKind.ASSISTANT_TEXT_END,
        EventKind.USAGE,
        EventKind.TOOL_CALL_START,
        EventKind.TOOL_CALL_END,
        EventKind.ASSISTANT_TEXT_START,
        EventKind.ASSISTANT_TEXT_END,
        EventKind.USAGE,
        EventKind.PROCESSING_END,
    ]


def test_unknown_tool_becomes_error_result() -> None:
    """An unknown tool is answered with an error the model sees."""
    session, model, _ = make([call("nope"), "sorry"])
    session.send("x")
    assert model.requests[1].messages[-1]["content"].startswith("Unknown tool: nope")


def test_malformed_arguments_become_error_result() -> None:
    """Arguments that are not JSON are answered with an error the model sees."""
    session, model, _ = make([Step(tool_calls=[("read_file", "{not json")]), "sorry"])
    session.send("x")
    assert (
        model.requests[1]
        .messages[-1]["content"]
        .startswith("Invalid arguments for tool: read_file")
    )


def test_steering_skips_rest_of_round_and_reaches_next_request() -> None:
    """Steering after the first call skips the second and is the next user message."""
    writes = [
        ("write_file", {"file_path": "a", "content": "1"}),
        ("write_file", {"file_path": "b", "content": "2"}),
    ]
    session, model, _ = make([Step(tool_calls=writes), "steered"])

    def steer_once(event: Event) -> None:
        if event.kind is EventKind.TOOL_CALL_END and event.data["call_id"] == "call_1":
            session.steer("stop that")

    session.subscribe(steer_once)
    session.send("x")
    last = model.requests[1].messages
    assert (last[-2]["content"], last[-1], session.files()) == (
        SKIPPED,
        {"role": "user", "content": "stop that"},
        {"a": "1"},
    )


def test_steer_while_idle_is_delivered_with_next_send() -> None:
    """Steering sent while idle arrives right after the next user message."""
    session, model, _ = make(["ok"])
    session.steer("remember tabs")
    session.send("hello")
    assert [m["content"] for m in model.requests[0].messages[-2:]] == ["hello", "remember tabs"]


def test_steering_from_another_thread_while_model_is_held() -> None:
    """Steering sent while the model is thinking reaches the next request."""
    gate = threading.Event()
    first = Step(tool_calls=[("list_dir", {})], gate=gate)
    session, model, _ = make([first, "done"])
    worker = threading.Thread(target=session.send, args=("go",))
    worker.start()
    first.reached.wait(5)
    session.steer("use spaces")
    gate.set()
    worker.join(5)
    assert model.requests[1].messages[-1] == {"role": "user", "content": "use spaces"}


def test_follow_up_runs_after_first_input() -> None:
    """A follow-up queued during a run is the next input, after the first answer."""
    gate = threading.Event()
    first = Step(text="one", gate=gate)
    session, model, _ = make([first, "two"])
    worker = threading.Thread(target=session.send, args=("first",))
    worker.start()
    first.reached.wait(5)
    session.follow_up("second")
    gate.set()
    worker.join(5)
    assert [m["content"] for m in model.requests[1].messages[-3:]] == ["first", "one", "second"]


def test_turn_limit_stops_with_reason() -> None:
    """Reaching max_turns stops with turn_limit and a TURN_LIMIT event."""
    session, _, events = make([call("list_dir"), call("glob", pattern="*"), "never"], max_turns=2)
    reply = session.send("loop")
    assert (reply.stop_reason, EventKind.TURN_LIMIT in kinds(events)) == ("turn_limit", True)


def test_loop_detection_injects_warning() -> None:
    """The same call repeated across the window raises LOOP_DETECTION."""
    config = SessionConfig(loop_detection_window=4)
    session, model, events = make([call("list_dir")] * 4 + ["ok"], config=config)
    session.send("x")
    assert (EventKind.LOOP_DETECTION in kinds(events), model.requests[-1].messages[-1]["role"]) == (
        True,
        "user",
    )


def test_cancel_while_held_returns_cancelled() -> None:
    """cancel() during a held model call ends the run as cancelled and idle."""
    gate = threading.Event()
    step = Step(text="never", gate=gate)
    session, _, _ = make([step])
    result: list[str] = []
    worker = threading.Thread(target=lambda: result.append(session.send("x").stop_reason))
    worker.start()
    step.reached.wait(5)
    session.cancel()
    worker.join(5)
    assert (result, session.state.value) == (["cancelled"], "idle")


def test_cancel_between_tools_answers_every_call() -> None:
    """Calls after a cancel still get results, so the history stays valid."""
    writes = [
        ("write_file", {"file_path": "a", "content": "1"}),
        ("write_file", {"file_path": "b", "content": "2"}),
    ]
    session, _, events = make([Step(tool_calls=writes), "x"])
    session.subscribe(lambda e: session.cancel() if e.kind is EventKind.TOOL_CALL_END else None)
    reply = session.send("x")
    ends = [e.data["call_id"] for e in events if e.kind is EventKind.TOOL_CALL_END]
    assert (reply.stop_reason, ends) == ("cancelled", ["call_1", "call_2"])


def test_send_while_processing_raises_busy() -> None:
    """send() during a run raises SessionBusy."""
    gate = threading.Event()
    step = Step(text="x", gate=gate)
    session, _, _ = make([step])
    worker = threading.Thread(target=session.send, args=("x",))
    worker.start()
    step.reached.wait(5)
    with pytest.raises(SessionBusy):
        session.send("again")
    gate.set()
    worker.join(5)


def test_send_after_close_raises_closed() -> None:
    """send() on a closed session raises SessionClosed."""
    session, _, events = make([])
    session.close()
    with pytest.raises(SessionClosed):
        session.send("x")
    assert kinds(events)[-1] is EventKind.SESSION_END


def test_auth_error_closes_session() -> None:
    """An auth error is raised and closes the session."""
    session, _, _ = make([Step(error=AuthError("bad key"))])
    with pytest.raises(AuthError):
        session.send("x")
    assert session.state.value == "closed"


def test_provider_error_ends_run_with_error() -> None:
    """A provider error ends the run with stop_reason error, not an exception."""
    session, _, events = make([Step(error=ProviderError("503 upstream"))])
    reply = session.send("x")
    assert (reply.stop_reason, reply.error, EventKind.ERROR in kinds(events)) == (
        "error",
        "503 upstream",
        True,
    )


def test_context_warning_past_80_percent() -> None:
    """A request using over 80% of the window raises a WARNING."""
    from tiller.model import Usage

    model = ScriptedModel([Step(text="x", usage=Usage(900, 1))], window=1000)
    session = Session(model, skills_dirs=[])
    events: list[Event] = []
    session.subscribe(events.append)
    session.send("x")
    assert any(e.kind is EventKind.WARNING and "90%" in e.data["message"] for e in events)


def test_model_change_takes_effect_on_next_call() -> None:
    """set_model and llm_options changes apply to the next request."""
    session, model, _ = make(["a", "b"])
    session.send("x")
    session.set_model("scripted/claude-other")
    session.llm_options["reasoning_effort"] = "high"
    session.send("y")
    request = model.requests[1]
    assert (request.model, request.options) == (
        "scripted/claude-other",
        {"reasoning_effort": "high"},
    )


def test_full_output_in_event_truncated_for_model() -> None:
    """A 100 KB read is whole in TOOL_CALL_END and truncated for the model."""
    big = "".join(f"line {i} " + "x" * 90 + "\n" for i in range(1000))
    session, model, events = make(
        [call("read_file", file_path="big.txt"), "ok"], files={"big.txt": big}
    )
    session.send("read")
    end = next(e for e in events if e.kind is EventKind.TOOL_CALL_END)
    to_model = model.requests[1].messages[-1]["content"]
    assert (len(end.data["output"]) > 100_000, len(to_model) < 51_000, "omitted" in to_model) == (
        True,
        True,
        True,
    )


def test_undo_reverts_last_turn() -> None:
    """workspace.undo() after a send reverts that send's edits."""
    session, _, _ = make([call("write_file", file_path="a", content="1"), "ok"], files={"a": "0"})
    session.send("x")
    session.workspace.undo()
    assert session.files() == {"a": "0"}


def test_workspace_changed_event() -> None:
    """A write emits WORKSPACE_CHANGED."""
    session, _, events = make([call("write_file", file_path="a", content="1"), "ok"])
    session.send("x")
    assert EventKind.WORKSPACE_CHANGED in kinds(events)


def blocking_tool(started: threading.Event, finished: threading.Event) -> FunctionTool:
    """A tool that runs until the run is cancelled (a long shell command, say)."""

    def handler(args: dict[str, object], ctx: ToolContext) -> str:
        started.set()
        ctx.cancel.wait(30)
        finished.set()
        return "stopped"

    return FunctionTool("block", "Block until cancelled.", {"type": "object"}, handler)


def test_abort_cancels_a_running_tool_before_waiting_for_anything() -> None:
    """abort() ends a running tool at once, makes no further model call and stops "cancelled"."""
    started, finished = threading.Event(), threading.Event()
    session, model, _ = make([call("block"), "never"], tools=[blocking_tool(started, finished)])
    # Closing a shell runner waits for its command: abort must cancel before closing.
    session.on_close(lambda: finished.wait(30))
    replies: list[str] = []
    worker = threading.Thread(target=lambda: replies.append(session.send("go").stop_reason))
    worker.start()
    assert started.wait(10)
    aborted = time.monotonic()
    session.abort()
    worker.join(10)
    assert time.monotonic() - aborted < 5.0  # the tool would block for 30 s
    assert (replies, len(model.requests), session.state) == (
        ["cancelled"],
        1,
        SessionState.CLOSED,
    )


def test_session_end_is_last_even_when_a_subagent_is_slow_to_stop() -> None:
    """A child still stopping when its parent closes reports before the parent's SESSION_END."""
    started, closing, ended = threading.Event(), threading.Event(), threading.Event()

    def slow_to_stop(index: int) -> None:
        started.set()
        closing.wait(30)
        ended.wait(0.5)  # still busy while the parent closes

    def hold(args: dict[str, object], ctx: ToolContext) -> str:
        started.wait(10)  # the parent's next call comes after the child's first
        return "held"

    model = ScriptedModel(
        [
            Step(tool_calls=[("spawn_agent", {"task": "work"}), ("hold", {})]),
            Step(chunks=["still ", "working"], on_chunk=slow_to_stop),
            "parent done",
        ]
    )
    parent = Session(
        model, skills_dirs=[], tools=[FunctionTool("hold", "Hold.", {"type": "object"}, hold)]
    )
    events: list[Event] = []
    parent.subscribe(events.append)
    parent.subscribe(lambda event: event.kind is EventKind.SESSION_END and ended.set())
    parent.send("delegate")
    parent.on_close(closing.set)  # runs before the children are closed
    parent.close()
    assert [e.kind for e in events][-2:] == [EventKind.SUBAGENT_FINISHED, EventKind.SESSION_END]
