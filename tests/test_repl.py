"""The plain REPL (`tiller chat`) driven through prompt-toolkit's pipe input."""

from __future__ import annotations

import io
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from prompt_toolkit.completion import CompleteEvent
from prompt_toolkit.document import Document
from prompt_toolkit.history import InMemoryHistory
from prompt_toolkit.input import PipeInput, create_pipe_input
from prompt_toolkit.output import DummyOutput
from rich.console import Console

from tiller import Session, SessionConfig, Workspace
from tiller.commands import COMMANDS
from tiller.errors import ProviderError
from tiller.repl import Repl, ReplCompleter
from tiller.repl_approvals import GUARD_SECONDS
from tiller.testing.clock import ManualClock
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


@contextmanager
def running(session: Session) -> Iterator[Driver]:
    """Run a REPL over `session` on a thread; stop it on the way out."""
    with create_pipe_input() as pipe:
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
            session.close()


@pytest.fixture
def model() -> ScriptedModel:
    return ScriptedModel()


@pytest.fixture
def chat(model: ScriptedModel, tmp_path: Path) -> Iterator[Driver]:
    (tmp_path / "app.py").write_text("print('old')\n")
    with running(Session(model, root=tmp_path, skills_dirs=[])) as driver:
        yield driver


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


def test_trailing_backslash_continues_the_line(chat: Driver, model: ScriptedModel) -> None:
    """A line ending in a backslash goes on to the next line before sending."""
    model.add("Two lines received.")
    chat.type("first\\" + ENTER + "second" + ENTER)
    chat.wait_runs(1)
    assert model.requests[0].messages[-1]["content"] == "first\nsecond"


def test_flush_writes_after_yes(chat: Driver, model: ScriptedModel, tmp_path: Path) -> None:
    """/flush lists the changes, asks, and writes them to disk on yes."""
    model.add(call("write_file", file_path="app.py", content="print('new')\n"), "Edited.")
    chat.line("Change the message")
    chat.wait_runs(1)
    chat.line("/flush")
    chat.line("y")
    assert chat.repl.wait_until(lambda: "Wrote 1 file(s)." in chat.text), chat.text
    assert "M app.py" in chat.text
    assert (tmp_path / "app.py").read_text() == "print('new')\n"


def test_provider_error_is_printed(chat: Driver, model: ScriptedModel) -> None:
    """A provider failure is one readable line, not a traceback."""
    model.add(Step(error=ProviderError("HTTP 400: bad request")))
    chat.line("Hello")
    chat.wait_runs(1)
    assert "Provider error: HTTP 400: bad request" in chat.text
    assert "Traceback" not in chat.text


def test_new_starts_an_empty_conversation(chat: Driver, model: ScriptedModel) -> None:
    """/new keeps the workspace but the next prompt goes without the old history."""
    model.add("First answer.", "Second answer.")
    chat.line("First")
    chat.wait_runs(1)
    first = chat.session
    chat.line("/new")
    assert chat.repl.wait_until(lambda: chat.session is not first)
    chat.line("Second")
    chat.wait_runs(2)
    users = [m["content"] for m in model.requests[1].messages if m["role"] == "user"]
    assert users == ["Second"]
    assert chat.session.workspace is first.workspace


def test_missing_api_key_names_the_variable(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Without the provider's key a prompt is not sent; the variable to set is named."""
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with running(Session("openai/gpt-5", root=tmp_path, skills_dirs=[])) as chat:
        chat.line("Hello")
        chat.line("/cost")
        assert chat.repl.wait_until(lambda: "This conversation:" in chat.text), chat.text
        assert "No API key for openai/gpt-5: set OPENAI_API_KEY" in chat.text
        assert "--model" in chat.text
        assert chat.session.history == []


def test_completes_slash_commands() -> None:
    """Typing `/u` offers /undo with its help."""
    completer = ReplCompleter(lambda: Workspace())
    found = list(completer.get_completions(Document("/u"), CompleteEvent()))
    assert [c.text for c in found] == ["/undo"]


def test_completes_workspace_paths_after_at() -> None:
    """`@src/m` completes from the workspace, not the disk."""
    completer = ReplCompleter(lambda: Workspace({"src/main.py": "", "src/util.py": ""}))
    found = list(completer.get_completions(Document("look at @src/m"), CompleteEvent()))
    assert [c.text for c in found] == ["src/main.py"]


def test_chat_command_takes_the_global_options() -> None:
    """`tiller chat --help` lists the same options as `tiller run`."""
    from typer.testing import CliRunner

    from tiller.cli import app

    result = CliRunner().invoke(app, ["chat", "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    for option in ("--model", "--profile", "--max-turns", "--root", "--skills-dir", "--api-base"):
        assert option in result.output
    assert "--resume" in result.output
    assert "--continue" in result.output


def test_text_streams_into_the_preview(chat: Driver, model: ScriptedModel) -> None:
    """Deltas show in the live preview before the message ends, then it clears."""
    seen: list[str] = []
    model.add(Step(chunks=["Hel", "lo"], on_chunk=lambda i: seen.append(chat.repl.preview)))
    chat.line("Greet me")
    chat.wait_runs(1)
    assert seen == ["Hel", "Hello"]
    assert chat.repl.preview == ""


def test_steering_during_the_final_answer_runs_next(chat: Driver, model: ScriptedModel) -> None:
    """A line typed while the last answer is held is sent as the next prompt."""
    held = Step(gate=threading.Event(), text="First answer.")
    model.add(held, "Second answer.")
    chat.line("Start")
    assert held.reached.wait(5)
    chat.line("and one more thing")
    assert chat.repl.wait_until(lambda: chat.session.queued[0] == ["and one more thing"])
    assert held.gate is not None
    held.gate.set()
    chat.wait_runs(2)
    assert model.requests[1].messages[-1]["content"] == "and one more thing"
    assert "Second answer." in chat.text


def test_turn_limit_offers_continue(tmp_path: Path) -> None:
    """Hitting --max-turns says so and /continue goes on."""
    model = ScriptedModel([call("list_dir", path=""), "Finished."])
    with running(Session(model, root=tmp_path, skills_dirs=[], max_turns=1)) as chat:
        chat.line("Look around")
        chat.wait_runs(1)
        assert "Stopped at the round limit (1, --max-turns); /continue goes on." in chat.text
        chat.line("/continue")
        chat.wait_runs(2)
        assert "Finished." in chat.text


def test_chat_without_a_terminal_points_to_run() -> None:
    """`tiller chat` with piped input exits with the usage code and names `tiller run -`."""
    from typer.testing import CliRunner

    from tiller.cli import app

    result = CliRunner().invoke(app, ["chat"], input="hello\n")
    assert result.exit_code == 2
    assert "tiller run -" in result.output


def test_ctrl_c_with_text_only_clears_the_line(chat: Driver) -> None:
    """Ctrl+C on a typed line clears it instead of counting towards quitting."""
    chat.type("draft" + CTRL_C + CTRL_C)
    chat.line("/cost")
    assert chat.repl.wait_until(lambda: "This conversation:" in chat.text), chat.text
    assert chat.thread.is_alive()
    assert "draft" not in chat.text


def test_diff_of_a_path_outside_the_workspace_is_an_error_line(chat: Driver) -> None:
    """/diff with an escaping path prints the refusal and the REPL goes on."""
    chat.line("/diff ../../etc/passwd")
    chat.line("/cost")
    assert chat.repl.wait_until(lambda: "This conversation:" in chat.text), chat.text
    assert "Traceback" not in chat.text
    assert chat.thread.is_alive()


def test_flush_names_conflicts_and_writes_nothing_on_no(
    chat: Driver, model: ScriptedModel, tmp_path: Path
) -> None:
    """A file changed on disk since the agent read it is flagged; answering no keeps the disk."""
    model.add(
        call("read_file", file_path="app.py"),
        call("edit_file", file_path="app.py", old_string="old", new_string="new"),
        "Edited.",
    )
    chat.line("Change the message")
    chat.wait_runs(1)
    (tmp_path / "app.py").write_text("print('someone else')\n")
    chat.line("/flush")
    chat.line("n")
    assert chat.repl.wait_until(lambda: "Nothing written." in chat.text), chat.text
    assert "M app.py  (changed on disk since read)" in chat.text
    assert (tmp_path / "app.py").read_text() == "print('someone else')\n"


def test_overwriting_listed_conflicts_keeps_a_file_edited_while_asked(
    chat: Driver, model: ScriptedModel, tmp_path: Path
) -> None:
    """Yes overwrites the conflicts listed; a file edited on disk while asking keeps the edit."""
    (tmp_path / "other.py").write_text("x = 1\n")
    model.add(
        call("write_file", file_path="app.py", content="print('new')\n"),
        call("write_file", file_path="other.py", content="x = 2\n"),
        "Edited.",
    )
    chat.line("Change both")
    chat.wait_runs(1)
    (tmp_path / "app.py").write_text("print('someone else')\n")
    chat.line("/flush")
    assert chat.repl.wait_until(lambda: "(changed on disk since read)" in chat.text), chat.text
    (tmp_path / "other.py").write_text("x = 'mine'\n")
    chat.line("y")
    assert chat.repl.wait_until(lambda: "Flush failed" in chat.text), chat.text
    assert (tmp_path / "other.py").read_text() == "x = 'mine'\n"


# -- the shell: approvals in a line, live output -------------------------------------------


@pytest.fixture
def shell_chat(model: ScriptedModel, tmp_path: Path) -> Iterator[Driver]:
    session = Session(model, root=tmp_path, skills_dirs=[], config=SessionConfig(shell=True))
    with running(session) as driver:
        driver.repl.approvals.clock = ManualClock()
        yield driver


def answer(chat: Driver, text: str) -> None:
    """Wait for the question, let its guard time pass, then type `text` and Enter."""
    assert chat.repl.wait_until(lambda: bool(chat.repl.approvals)), chat.text
    clock = chat.repl.approvals.clock
    assert isinstance(clock, ManualClock)
    clock.advance(GUARD_SECONDS)
    chat.line(text)


def test_yes_runs_the_command(shell_chat: Driver, model: ScriptedModel) -> None:
    """`y` to the approval question runs the command; its file lands in the workspace."""
    model.add(call("shell", command="echo hi > hi.txt"), "Made it.")
    shell_chat.line("make hi.txt")
    answer(shell_chat, "y")
    shell_chat.wait_runs(1)
    assert shell_chat.session.files() == {"hi.txt": "hi\n"}


def test_the_question_shows_its_keys(shell_chat: Driver, model: ScriptedModel) -> None:
    """The approval question prints its [y] / [a] / [n] keys (not eaten as markup)."""
    model.add(call("shell", command="touch x"), "ok")
    shell_chat.line("go")
    answer(shell_chat, "y")
    shell_chat.wait_runs(1)
    assert "[y]es once" in shell_chat.text


def test_no_with_reason_reaches_the_model(shell_chat: Driver, model: ScriptedModel) -> None:
    """`n <reason>` denies; the model's tool result carries the reason."""
    model.add(call("shell", command="rm -rf build"), "Understood.")
    shell_chat.line("clean up")
    answer(shell_chat, "n keep the build directory")
    shell_chat.wait_runs(1)
    assert "keep the build directory" in str(model.requests[1].messages[-1]["content"])


def test_command_output_is_printed(shell_chat: Driver, model: ScriptedModel) -> None:
    """The command's output lines print under the call."""
    shell_chat.session.approvals.mode = "allow"
    model.add(call("shell", command="echo from-the-sandbox"), "Ran.")
    shell_chat.line("run it")
    shell_chat.wait_runs(1)
    assert "│ from-the-sandbox" in shell_chat.text


def test_ctrl_c_while_asking_ends_the_run(shell_chat: Driver, model: ScriptedModel) -> None:
    """Interrupting while approval is pending cancels the request; nothing hangs."""
    model.add(call("shell", command="echo never > n.txt"), "unused")
    shell_chat.line("try")
    assert shell_chat.repl.wait_until(lambda: bool(shell_chat.repl.approvals)), shell_chat.text
    shell_chat.type(CTRL_C)
    shell_chat.wait_runs(1)
    assert (shell_chat.session.files(), bool(shell_chat.repl.approvals)) == ({}, False)


def test_a_line_typed_as_the_question_appears_is_not_an_answer(
    shell_chat: Driver, model: ScriptedModel
) -> None:
    """`a` + Enter within the guard time after the question neither allows nor denies."""
    model.add(call("shell", command="touch x"), "ok")
    shell_chat.line("go")
    assert shell_chat.repl.wait_until(lambda: bool(shell_chat.repl.approvals)), shell_chat.text
    shell_chat.line("a")
    assert shell_chat.repl.wait_until(lambda: "Kept for after the question" in shell_chat.text)
    assert (bool(shell_chat.repl.approvals), shell_chat.session.files()) == (True, {})


def test_the_question_is_still_answered_after_type_ahead(
    shell_chat: Driver, model: ScriptedModel
) -> None:
    """After a kept type-ahead line, a deliberate `y` answers and the command runs."""
    model.add(call("shell", command="touch x"), "ok")
    shell_chat.line("go")
    assert shell_chat.repl.wait_until(lambda: bool(shell_chat.repl.approvals)), shell_chat.text
    shell_chat.line("n")
    assert shell_chat.repl.wait_until(lambda: "Kept for after the question" in shell_chat.text)
    answer(shell_chat, "y")
    shell_chat.wait_runs(1)
    assert shell_chat.session.files() == {"x": ""}


def test_text_typed_before_the_question_comes_back_after_it(
    shell_chat: Driver, model: ScriptedModel
) -> None:
    """A half-typed line is set aside when the question appears and is the next prompt's text."""
    gate = threading.Event()
    held = Step(tool_calls=call("shell", command="touch x").tool_calls, gate=gate)
    model.add(held, "ok", "second answer")
    shell_chat.line("go")
    assert held.reached.wait(5)
    shell_chat.type("lets add a t")
    buffer = shell_chat.repl.prompt.default_buffer
    assert shell_chat.repl.wait_until(lambda: buffer.text == "lets add a t")
    gate.set()
    answer(shell_chat, "y")
    shell_chat.wait_runs(1)
    shell_chat.line("est")
    shell_chat.wait_runs(2)
    assert model.requests[-1].messages[-1]["content"] == "lets add a test"


def test_type_ahead_continues_the_half_typed_line(shell_chat: Driver, model: ScriptedModel) -> None:
    """A half-typed line and the keys typed just after the question rejoin as one line."""
    gate = threading.Event()
    held = Step(tool_calls=call("shell", command="touch x").tool_calls, gate=gate)
    model.add(held, "ok", "second answer")
    shell_chat.line("go")
    assert held.reached.wait(5)
    shell_chat.type("also")
    buffer = shell_chat.repl.prompt.default_buffer
    assert shell_chat.repl.wait_until(lambda: buffer.text == "also")
    gate.set()
    assert shell_chat.repl.wait_until(lambda: bool(shell_chat.repl.approvals))
    shell_chat.line(" a note")
    assert shell_chat.repl.wait_until(lambda: shell_chat.text.count("Kept for after") == 2)
    answer(shell_chat, "y")
    shell_chat.wait_runs(1)
    shell_chat.line("!")
    shell_chat.wait_runs(2)
    assert model.requests[-1].messages[-1]["content"] == "also a note!"


def test_compact_command_summarises_and_says_so(chat: Driver, model: ScriptedModel) -> None:
    """/compact [focus] replaces the history with the summary and prints the marker."""
    model.add("First answer.", "The **summary**.")
    chat.line("hello")
    chat.wait_runs(1)
    chat.line("/compact the tests")
    chat.wait_runs(2)
    assert "── context compacted:" in chat.text and "The summary." in chat.text
    assert str(model.requests[1].messages[-1]["content"]).endswith("the tests")
    assert [turn.kind for turn in chat.session.history] == ["summary"]  # type: ignore[union-attr]


def test_reasoning_command_sets_the_effort(chat: Driver) -> None:
    """`/reasoning high` changes the session's effort and says so."""
    chat.line("/reasoning high")
    assert chat.repl.wait_until(lambda: "Reasoning effort: high" in chat.text), chat.text
    assert chat.session.reasoning_effort == "high"


def test_reasoning_command_refuses_an_unknown_effort(chat: Driver) -> None:
    """`/reasoning extreme` names the choices and changes nothing."""
    chat.line("/reasoning extreme")
    assert chat.repl.wait_until(lambda: "none, low, medium, high" in chat.text), chat.text
    assert chat.session.reasoning_effort is None


def test_thinking_is_printed_before_the_answer(chat: Driver, model: ScriptedModel) -> None:
    """The model's thinking is printed (dimmed) ahead of its answer."""
    model.add(Step(text="Forty-two.", reasoning="Let me count."))
    chat.line("How many?")
    chat.wait_runs(1)
    assert chat.text.index("Let me count.") < chat.text.index("Forty-two.")


def test_mcp_command_lists_servers(chat: Driver) -> None:
    """/mcp says when no MCP server is configured."""
    chat.line("/mcp")
    assert chat.repl.wait_until(lambda: "No MCP servers configured" in chat.text), chat.text


def test_every_command_of_the_table_has_a_handler(chat: Driver) -> None:
    """Each command in the shared table does something in the REPL (a new one needs a line)."""
    assert set(chat.repl._commands) == {command.name for command in COMMANDS}


def test_a_second_request_is_shown_only_once_the_first_is_answered(
    shell_chat: Driver,
) -> None:
    """With two requests open (parallel subagents), the answer typed is always for the
    command printed last: the second is printed after the first is answered."""
    session, repl = shell_chat.session, shell_chat.repl
    answers: dict[str, object] = {}

    def ask(command: str) -> None:
        answers[command] = session.request_approval({"tool": "shell", "command": command})

    first = threading.Thread(target=ask, args=("touch a",))
    first.start()
    assert repl.wait_until(lambda: len(repl.approvals) == 1), shell_chat.text
    second = threading.Thread(target=ask, args=("touch b",))
    second.start()
    assert repl.wait_until(lambda: len(repl.approvals) == 2), shell_chat.text
    shown_before = "$ touch b" in shell_chat.text
    answer(shell_chat, "y")
    assert repl.wait_until(lambda: "$ touch b" in shell_chat.text), shell_chat.text
    answer(shell_chat, "n")
    first.join(5)
    second.join(5)
    decisions = {command: str(got.decision) for command, got in answers.items()}  # type: ignore[attr-defined]
    assert (shown_before, decisions) == (False, {"touch a": "allow", "touch b": "deny"})


def test_the_answer_echo_names_the_command(shell_chat: Driver, model: ScriptedModel) -> None:
    """`↪ allowed once: touch x`: the echo says which request the answer went to."""
    model.add(call("shell", command="touch x"), "ok")
    shell_chat.line("go")
    answer(shell_chat, "y")
    shell_chat.wait_runs(1)
    assert "↪ allowed once: touch x" in shell_chat.text
