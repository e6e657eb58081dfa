"""The plain REPL (`tiller chat`) driven through prompt-toolkit's pipe input."""

from __future__ import annotations

import io
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from prompt_toolkit.history import InMemoryHistory
from prompt_toolkit.input import PipeInput, create_pipe_input
from prompt_toolkit.output import DummyOutput
from rich.console import Console

from tiller import Session
from tiller.repl import Repl
from tiller.testing.scripted import ScriptedModel, Step, call

ENTER = "\r"
CTRL_C = "\x03"
CTRL_D = "\x04"


@dataclass
class Driver:
    """A REPL running on a thread, its pipe input and what it printed."""

    repl: Repl
    pipe: PipeInput
    out: io.StringIO
    thread: threading.Thread

    @property
    def session(self) -> Session:
        return self.repl.session

    def type(self, text: str) -> None:
        self.pipe.send_text(text)

    def line(self, text: str) -> None:
        self.pipe.send_text(text + ENTER)

    def wait_runs(self, count: int) -> None:
        assert self.repl.wait_until(lambda: self.repl.runs_finished >= count), self.text

    def exited(self) -> bool:
        self.thread.join(timeout=5)
        return not self.thread.is_alive()

    @property
    def text(self) -> str:
        return self.out.getvalue()


def start(model: ScriptedModel, root: Path) -> Iterator[Driver]:
    with create_pipe_input() as pipe:
        session = Session(model, root=root, skills_dirs=[])
        out = io.StringIO()
        repl = Repl(
            session,
            input=pipe,
            output=DummyOutput(),
            console=Console(file=out, width=100, highlight=False),
            history=InMemoryHistory(),
        )
        thread = threading.Thread(target=repl.run, kwargs={"patch": False}, daemon=True)
        thread.start()
        driver = Driver(repl, pipe, out, thread)
        try:
            yield driver
        finally:
            session.cancel()
            if thread.is_alive():
                pipe.send_text(CTRL_C + CTRL_C)
                thread.join(timeout=5)


@pytest.fixture
def model() -> ScriptedModel:
    return ScriptedModel()


@pytest.fixture
def chat(model: ScriptedModel, tmp_path: Path) -> Iterator[Driver]:
    (tmp_path / "app.py").write_text("print('old')\n")
    yield from start(model, tmp_path)


def test_prompt_gets_an_answer(chat: Driver, model: ScriptedModel) -> None:
    """A typed prompt reaches the model and its answer is printed."""
    model.add("The answer is **42**.")
    chat.line("What is the answer?")
    chat.wait_runs(1)
    assert "The answer is 42." in chat.text
    assert model.requests[0].messages[-1]["content"] == "What is the answer?"


def test_line_typed_while_running_steers(chat: Driver, model: ScriptedModel) -> None:
    """A line typed while the model is held arrives as steering in the next request."""
    gate = threading.Event()
    held = Step(gate=gate, tool_calls=[("read_file", {"file_path": "app.py"})])
    model.add(held, "Done, using tabs.")
    chat.line("Reformat app.py")
    assert held.reached.wait(5)
    chat.line("use tabs")
    assert chat.repl.wait_until(lambda: chat.session.queued[0] == ["use tabs"])
    gate.set()
    chat.wait_runs(1)
    contents = [str(m.get("content")) for m in model.requests[1].messages]
    assert any("use tabs" in c for c in contents)
    assert "✓ read_file app.py" in chat.text


def test_ctrl_c_interrupts_the_run(chat: Driver, model: ScriptedModel) -> None:
    """Ctrl+C while the model is held cancels the run and the REPL stays open."""
    held = Step(gate=threading.Event(), text="never")
    model.add(held)
    chat.line("Think hard")
    assert held.reached.wait(5)
    chat.type(CTRL_C)
    chat.wait_runs(1)
    assert "Interrupted." in chat.text
    assert chat.thread.is_alive()


def test_diff_shows_the_changes(chat: Driver, model: ScriptedModel) -> None:
    """/diff prints the workspace diff after the agent edits a file."""
    model.add(call("write_file", file_path="app.py", content="print('new')\n"), "Edited.")
    chat.line("Change the message")
    chat.wait_runs(1)
    chat.line("/diff")
    assert chat.repl.wait_until(lambda: "+print('new')" in chat.text), chat.text
    assert "-print('old')" in chat.text


def test_undo_takes_back_the_last_turn(chat: Driver, model: ScriptedModel) -> None:
    """/undo restores the file the last turn wrote."""
    model.add(call("write_file", file_path="app.py", content="print('new')\n"), "Edited.")
    chat.line("Change the message")
    chat.wait_runs(1)
    chat.line("/undo")
    assert chat.repl.wait_until(lambda: "Undo: app.py" in chat.text), chat.text
    assert chat.session.workspace.read("app.py") == "print('old')\n"


def test_quit_command_exits(chat: Driver) -> None:
    """/quit with nothing unflushed ends the REPL."""
    chat.line("/quit")
    assert chat.exited()


def test_quit_asks_when_changes_are_unflushed(chat: Driver, model: ScriptedModel) -> None:
    """/quit with unflushed edits asks first; answering no keeps the REPL open."""
    model.add(call("write_file", file_path="new.py", content="x = 1\n"), "Added.")
    chat.line("Add new.py")
    chat.wait_runs(1)
    chat.line("/quit")
    chat.line("n")
    chat.line("/cost")
    assert chat.repl.wait_until(lambda: "This conversation:" in chat.text), chat.text
    assert chat.thread.is_alive()
    chat.line("/quit")
    chat.line("y")
    assert chat.exited()


def test_ctrl_d_exits(chat: Driver) -> None:
    """Ctrl+D on an empty line ends the REPL."""
    chat.type(CTRL_D)
    assert chat.exited()


def test_ctrl_c_twice_on_empty_line_exits(chat: Driver) -> None:
    """Idle, Ctrl+C twice on an empty line ends the REPL."""
    chat.type(CTRL_C)
    chat.type(CTRL_C)
    assert chat.exited()
