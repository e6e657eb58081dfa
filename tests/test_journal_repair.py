"""Resume after a crash mid-tool: every tool call gets a result, torn lines are skipped."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest

from context_checks import unanswered_calls
from tiller.journal import Journal, journal_path, load_journal, restore_session
from tiller.session import Session
from tiller.testing.scripted import ScriptedModel, Step
from tiller.tools.base import FunctionTool, ToolContext

pytestmark = pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")


def hanging_tool(started: threading.Event, release: threading.Event) -> FunctionTool:
    """A tool that stands still until released: the state of a process killed mid-tool."""

    def run(args: dict[str, Any], ctx: ToolContext) -> str:
        started.set()
        release.wait(30)
        return "done"

    return FunctionTool("hang", "Hangs.", {"type": "object", "properties": {}}, run)


@pytest.fixture
def cut_off(tmp_path: Path) -> Any:
    """A journaled session stopped inside a round of two tool calls (one answered later)."""
    started, release = threading.Event(), threading.Event()
    steps: list[Step | str] = [
        Step(tool_calls=[("read_file", {"file_path": "a.txt"}), ("hang", {})]),
        "never",
    ]
    session = Session(
        ScriptedModel(steps), files={"a.txt": "A\n"}, tools=[hanging_tool(started, release)]
    )
    Journal.attach(session)
    worker = threading.Thread(target=session.send, args=("go",))
    worker.start()
    assert started.wait(30)
    yield session
    release.set()
    worker.join(30)


def test_restore_answers_each_interrupted_call(cut_off: Session) -> None:
    """Every call of the cut-off round gets an "interrupted before a result" error result."""
    restored = restore_session(cut_off.id, client=ScriptedModel(), journal=False)
    tools = [m for m in restored.context() if m["role"] == "tool"]
    heads = [m["content"].split(":")[0] for m in tools]
    assert heads == ["Tool error (read_file)", "Tool error (hang)"]
    assert all("interrupted before a result" in m["content"] for m in tools)
    assert unanswered_calls(restored.context()) == []


def test_restored_session_can_go_on(cut_off: Session) -> None:
    """The next request after a repaired resume is valid, and the warning says what happened."""
    model = ScriptedModel(["back"])
    told: list[str] = []
    restored = restore_session(cut_off.id, client=model, journal=False, on_warning=told.append)
    assert restored.send("again").text == "back"
    assert unanswered_calls(model.requests[0].messages) == []
    assert told == [
        "2 tool call(s) were interrupted before a result (the session stopped); "
        "they are marked as errors"
    ]


def test_repair_is_journaled_once(cut_off: Session) -> None:
    """A resume journals its repair: the next load needs none and matches the live history."""
    restored = restore_session(cut_off.id, client=ScriptedModel(["back"]))
    restored.send("again")
    restored.close()
    data = load_journal(cut_off.id)
    assert (data.turns, data.interrupted) == (restored.history, 0)


def test_second_resume_does_not_warn_again(tmp_path: Path) -> None:
    """Problems one resume reported (a torn line) are not reported by the next."""
    session = Session(ScriptedModel(["one"]), files={})
    Journal.attach(session)
    session.send("first")
    session.close()
    with open(journal_path(session.id), "a", encoding="utf-8") as handle:
        handle.write('{"type":"turn","tu')
    told: list[str] = []
    restore_session(session.id, client=ScriptedModel(), on_warning=told.append).close()
    restore_session(session.id, client=ScriptedModel(), on_warning=told.append).close()
    assert told == ["1 unreadable journal line(s) were skipped"]


def test_torn_last_line_is_skipped_with_a_warning(tmp_path: Path) -> None:
    """A truncated final JSON line is skipped, restore says so, and the rest is kept."""
    session = Session(ScriptedModel(["one"]), files={"a.txt": "A\n"})
    Journal.attach(session)
    session.send("first")
    session.close()
    path = journal_path(session.id)
    whole = path.read_bytes()
    path.write_bytes(whole[: whole.rstrip(b"\n").rfind(b"\n") + 30])
    told: list[str] = []
    restored = restore_session(session.id, client=ScriptedModel(), on_warning=told.append)
    assert told == ["1 unreadable journal line(s) were skipped"]
    assert (restored.files(), len(restored.history)) == ({"a.txt": "A\n"}, 2)
