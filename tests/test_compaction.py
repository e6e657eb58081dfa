"""Compaction: on demand, above the threshold and on a context overflow (scripted model)."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from tiller import CompactionError, EventKind, Session, SessionConfig
from tiller.compaction import compact_prompt, split_history
from tiller.errors import ContextOverflowError, ProviderError
from tiller.events import Event
from tiller.history import AssistantTurn, ToolResultsTurn, Turn, UserTurn
from tiller.journal import Journal, restore_session
from tiller.model import ToolCall, Usage
from tiller.testing.scripted import ScriptedModel, Step, call
from tiller.tools.registry import ToolResult

OVERFLOW = "Context window exceeded for scripted/claude-test: prompt is too long"


@pytest.fixture(autouse=True)
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Journals go to a temp dir, never the user's."""
    monkeypatch.setenv("TILLER_DATA_DIR", str(tmp_path / "data"))
    return tmp_path / "data"


def make(
    steps: list[Step | str], *, window: int | None = None, **kwargs: object
) -> tuple[Session, ScriptedModel, list[Event]]:
    model = ScriptedModel(steps, window=window)
    session = Session(model, skills_dirs=[], **kwargs)  # type: ignore[arg-type]
    events: list[Event] = []
    session.subscribe(events.append)
    return session, model, events


def compactions(events: list[Event]) -> list[dict[str, object]]:
    return [event.data for event in events if event.kind is EventKind.CONTEXT_COMPACTED]


def last_user_text(model: ScriptedModel, index: int) -> str:
    return str(model.requests[index].messages[-1]["content"])


def roles(model: ScriptedModel, index: int) -> list[str]:
    return [message["role"] for message in model.requests[index].messages]


def long_history() -> list[Turn]:
    """Three tasks, each a user turn, a tool round and an answer; a steering turn in one."""
    turns: list[Turn] = []
    for n in range(3):
        call_ = ToolCall(f"c{n}", "read_file", '{"file_path": "a.txt"}')
        result = ToolResult(f"c{n}", "read_file", "x" * 400, "x" * 400)
        turns += [UserTurn(f"task {n}"), AssistantTurn("", (call_,)), ToolResultsTurn((result,))]
        if n == 1:
            turns.append(UserTurn("steer", "steering"))
        turns.append(AssistantTurn(f"done {n}"))
    return turns


# -- automatic, at the threshold -------------------------------------------------------------


def test_auto_compaction_at_threshold_completes_with_workspace_intact() -> None:
    """A request above compact_ratio of the window compacts before the next call; the run ends."""
    session, model, events = make(
        [
            Step(
                tool_calls=[("write_file", {"file_path": "a.py", "content": "x = 1\n"})],
                usage=Usage(900, 5),
            ),
            "SUMMARY: wrote a.py",
            "all done",
        ],
        window=1000,
    )
    reply = session.send("write a.py")
    assert (reply.stop_reason, reply.text, reply.files, len(compactions(events))) == (
        "completed",
        "all done",
        {"a.py": "x = 1\n"},
        1,
    )
    assert last_user_text(model, 1).startswith(compact_prompt()[:40])
    assert "SUMMARY: wrote a.py" in str(model.requests[2].messages[1]["content"])


def test_below_threshold_does_not_compact() -> None:
    """A request at the threshold itself does not compact."""
    session, model, events = make(
        [Step(tool_calls=[("list_dir", {"path": ""})], usage=Usage(850, 5)), "done"], window=1000
    )
    reply = session.send("look")
    assert (reply.stop_reason, len(model.requests), compactions(events)) == ("completed", 2, [])


def test_compacted_event_carries_tokens_before_and_after() -> None:
    """CONTEXT_COMPACTED says the context shrank, and why."""
    session, _, events = make(
        [
            Step(tool_calls=[("read_file", {"file_path": "big.txt"})], usage=Usage(950, 5)),
            "short summary",
            "done",
        ],
        window=1000,
        files={"big.txt": "line of text\n" * 400},
    )
    session.send("read big.txt")
    (data,) = compactions(events)
    assert (data["reason"], data["tokens_after"] < data["tokens_before"]) == ("auto", True)  # type: ignore[operator]


def test_failed_auto_compaction_warns_and_goes_on() -> None:
    """A summary call that fails leaves the history whole and the run goes on to its answer."""
    session, _, events = make(
        [
            Step(tool_calls=[("list_dir", {"path": ""})], usage=Usage(900, 5)),
            Step(error=ProviderError("summary boom")),
            "done",
        ],
        window=1000,
    )
    reply = session.send("look")
    warnings = [e.data["message"] for e in events if e.kind is EventKind.WARNING]
    assert (reply.stop_reason, len(session.history), compactions(events)) == ("completed", 4, [])
    assert any("summary boom" in str(message) for message in warnings)


# -- on a context overflow --------------------------------------------------------------------


def test_overflow_compacts_once_and_retries_once() -> None:
    """A context-overflow error triggers one compaction and one retry of the same call."""
    session, model, events = make(
        [
            call("list_dir", path=""),
            Step(error=ContextOverflowError(OVERFLOW)),
            "the summary",
            "done",
        ]
    )
    reply = session.send("look")
    assert (reply.stop_reason, reply.text, len(model.requests), len(compactions(events))) == (
        "completed",
        "done",
        4,
        1,
    )
    assert compactions(events)[0]["reason"] == "overflow"


def test_second_overflow_ends_the_run_with_a_clear_error() -> None:
    """An overflow on the retry ends the run with stop_reason error and says so."""
    session, model, events = make(
        [
            call("list_dir", path=""),
            Step(error=ContextOverflowError(OVERFLOW)),
            "the summary",
            Step(error=ContextOverflowError(OVERFLOW)),
        ]
    )
    reply = session.send("look")
    assert (reply.stop_reason, len(model.requests), len(compactions(events))) == ("error", 4, 1)
    assert reply.error is not None and reply.error.startswith(
        "The conversation does not fit even after compacting"
    )


def test_overflow_during_the_summary_drops_the_oldest_part() -> None:
    """When the summary request itself overflows, the older half is left out and it tries again."""
    steps: list[Step | str] = ["a", "b", "c", Step(error=ContextOverflowError(OVERFLOW)), "sum"]
    session, model, _ = make(steps, config=SessionConfig(compact_keep_tokens=20))
    for text in ("one", "two", "three"):
        session.send(text)
    result = session.compact()
    sent = [m["content"] for m in model.requests[4].messages if m["role"] == "user"]
    assert (result.summary, "one" in sent, "two" in sent) == ("sum", False, True)


# -- Session.compact ---------------------------------------------------------------------------


def test_compact_keeps_queues_workspace_checkpoints_and_usage() -> None:
    """compact() leaves steering, follow-ups, files and undo alone and adds the summary's usage."""
    session, _, _ = make(
        [
            call("write_file", file_path="a.py", content="x = 1\n"),
            "wrote it",
            Step(text="the summary", usage=Usage(40, 7)),
        ]
    )
    session.send("write a.py")
    session.steer("steer later")
    session.follow_up("follow later")
    usage_before = session.usage.to_dict()
    result = session.compact()
    expected_usage = {**usage_before, "input_tokens": usage_before["input_tokens"] + 40}
    expected_usage["output_tokens"] = usage_before["output_tokens"] + 7
    assert (session.queued, session.files(), session.usage.to_dict(), result.summary) == (
        (["steer later"], ["follow later"]),
        {"a.py": "x = 1\n"},
        expected_usage,
        "the summary",
    )
    assert (session.workspace.undo(), session.files()) == (True, {})


def test_compact_replaces_history_with_summary_first() -> None:
    """After compact() the history opens with the summary turn, a user message."""
    session, _, _ = make(["first answer", "the summary"])
    session.send("hello")
    session.compact()
    (turn,) = session.history
    assert (type(turn), turn.kind, "the summary" in turn.text) == (UserTurn, "summary", True)
    assert session.context()[1]["role"] == "user"


def test_compact_focus_reaches_the_summary_prompt() -> None:
    """compact(instructions) adds the focus to the summary request."""
    session, model, _ = make(["first answer", "the summary"])
    session.send("hello")
    session.compact("the parser changes")
    assert last_user_text(model, 1).endswith("Pay particular attention to: the parser changes")


def test_compact_keeps_newest_turns_that_fit() -> None:
    """The newest turns that fit the budget stay verbatim after the summary."""
    config = SessionConfig(compact_keep_tokens=20)
    session, _, _ = make(["a", "b", "c", "summary"], config=config)
    for text in ("one", "two", "three"):
        session.send(text)
    session.compact()
    assert session.history[1:] == [UserTurn("three"), AssistantTurn("c")]


def test_compact_of_empty_history_raises() -> None:
    """Nothing to compact is an error that leaves the session idle."""
    session, _, _ = make([])
    with pytest.raises(CompactionError, match="Nothing to compact"):
        session.compact()
    assert session.state == "idle"


def test_compact_failure_leaves_history_unchanged() -> None:
    """A summary call that fails raises CompactionError and keeps every turn."""
    session, _, _ = make(["answer", Step(error=ProviderError("boom"))])
    session.send("hello")
    before = list(session.history)
    with pytest.raises(CompactionError, match="boom"):
        session.compact()
    assert session.history == before


def test_cancelled_compaction_leaves_history_unchanged() -> None:
    """cancel() during the summary call stops it; the history stays as it was."""
    gate = threading.Event()
    step = Step(text="never", gate=gate)
    session, _, _ = make(["answer", step])
    session.send("hello")
    before = list(session.history)
    errors: list[Exception] = []

    def run() -> None:
        try:
            session.compact()
        except CompactionError as exc:
            errors.append(exc)

    worker = threading.Thread(target=run)
    worker.start()
    assert step.reached.wait(5)
    session.cancel()
    worker.join(5)
    assert (len(errors), session.history, session.state) == (1, before, "idle")


def test_empty_summary_is_refused() -> None:
    """A model that answers with nothing does not wipe the history."""
    session, _, _ = make(["answer", ""])
    session.send("hello")
    with pytest.raises(CompactionError, match="no summary"):
        session.compact()
    assert len(session.history) == 2


# -- where the history is cut -----------------------------------------------------------------


@pytest.mark.parametrize("budget", [0, 50, 100, 150, 200, 300, 400, 10_000])
def test_kept_tail_never_starts_with_a_tool_result(budget: int) -> None:
    """Whatever the budget, the kept turns start at a user turn (or nothing is kept)."""
    history = long_history()
    head, tail = split_history(history, budget)
    assert (head + tail == history, bool(head), not tail or isinstance(tail[0], UserTurn)) == (
        True,
        True,
        True,
    )


def test_tail_may_start_at_a_steering_turn() -> None:
    """A steering message is a user turn and a valid place to start the kept tail."""
    history = long_history()
    steer = history.index(UserTurn("steer", "steering"))
    _, tail = split_history(history, 200)
    assert tail == history[steer:]


# -- resume -----------------------------------------------------------------------------------


def test_resume_after_compaction_restores_compacted_history() -> None:
    """A restored session has the compacted history, then the turns after it."""
    session, _, _ = make(["first answer", "the summary", "second answer"])
    Journal.attach(session)
    session.send("one")
    session.compact()
    session.send("two")
    restored = restore_session(session.id, client=ScriptedModel(), journal=False)
    assert (restored.history, restored.usage) == (session.history, session.usage)
    assert restored.history[0].kind == "summary"  # type: ignore[union-attr]


def test_compact_while_running_is_refused() -> None:
    """compact() during a run raises SessionBusy; the run is not disturbed."""
    from tiller import SessionBusy

    gate = threading.Event()
    held = Step(text="done", gate=gate)
    session, _, _ = make([held])
    worker = threading.Thread(target=session.send, args=("hello",))
    worker.start()
    assert held.reached.wait(5)
    with pytest.raises(SessionBusy):
        session.compact()
    gate.set()
    worker.join(5)
    assert [type(turn) for turn in session.history] == [UserTurn, AssistantTurn]
