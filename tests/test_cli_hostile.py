"""Hostile text in headless output and listings: data to a pipe, never commands to a terminal."""

from __future__ import annotations

import io
import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from rich.console import Console
from typer.testing import CliRunner

from tiller.batch.tasks import TaskResult
from tiller.cli import app
from tiller.cli_batch import _summary_table
from tiller.cli_progress import progress_line
from tiller.events import Event, EventKind
from tiller.journal import Journal
from tiller.json_lines import dumps_line
from tiller.session import Session
from tiller.terminal_text import for_stream
from tiller.testing.scripted import ScriptedModel
from tiller.testing.server import FakeOpenAIServer, ServerReply

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

OSC_TITLE = "\x1b]0;PWNED\x07"
BOLD = "\x1b[1mbold\x1b[0m"


def invoke(*args: str) -> object:
    return CliRunner().invoke(app, list(args))


@pytest.fixture
def terminal() -> Iterator[io.TextIOWrapper]:
    """A real terminal (a pseudo-terminal's side a program writes to)."""
    leader, follower = os.openpty()
    stream = open(follower, "w", encoding="utf-8")  # noqa: SIM115 - closed below
    try:
        yield stream
    finally:
        stream.close()
        os.close(leader)


def journaled(root: Path, prompt: str, answer: str) -> Session:
    root.mkdir()
    session = Session(ScriptedModel([answer], model="scripted/claude-test"), root=root)
    Journal.attach(session)
    session.send(prompt)
    session.close()
    return session


def test_output_for_a_pipe_keeps_every_byte() -> None:
    """The model's text to a pipe is data: its escape sequences stay as they were."""
    read, write = os.pipe()
    with open(write, "w") as stream:
        shown = for_stream(f"a {BOLD}", stream)
    os.close(read)
    assert shown == f"a {BOLD}"


def test_output_for_a_terminal_drops_escape_sequences(terminal: io.TextIOWrapper) -> None:
    """The model's text to a terminal loses its escape sequences."""
    assert for_stream(f"a {BOLD}{OSC_TITLE}", terminal) == "a bold"


def test_run_to_a_pipe_prints_the_answer_unchanged(
    fake_server: FakeOpenAIServer, tmp_path: Path
) -> None:
    """`tiller run > file` gets the model's answer byte for byte."""
    fake_server.add(ServerReply(text=f"a {BOLD}"))
    args = ["run", "--model", "openai/fake", "--api-base", fake_server.base_url]
    args += ["--root", str(tmp_path), "--skills-dir", str(tmp_path / "none"), "go"]
    result = CliRunner().invoke(app, args, env={"OPENAI_API_KEY": "sk-test"})
    assert (result.exit_code, result.stdout) == (0, f"a {BOLD}\n")


def test_progress_line_shows_a_hostile_tool_name_escaped() -> None:
    """A tool name with an OSC sequence is shown as `\\x1b`, never written raw to stderr."""
    out = io.StringIO()
    show = progress_line(out)
    show(Event(EventKind.TOOL_CALL_START, "s", data={"name": f"x{OSC_TITLE}"}))
    assert ("\x1b]" in out.getvalue(), "x\\x1b]0;PWNED\\x07" in out.getvalue()) == (False, True)


def test_sessions_list_shows_a_hostile_title_escaped(tmp_path: Path) -> None:
    """A first prompt holding a title-setting sequence is listed with it shown as `\\x1b`."""
    journaled(tmp_path / "p", f"hi{OSC_TITLE}", "ok")
    result = invoke("sessions", "list")
    assert ("hi\\x1b]0;PWNED\\x07" in result.output, "\x1b" in result.output) == (True, False)


def test_sessions_show_drops_escape_sequences_from_answers(tmp_path: Path) -> None:
    """`sessions show` prints a saved answer's words without its escape sequences."""
    journaled(tmp_path / "p", "hi", f"fine{OSC_TITLE} {BOLD}")
    session_id = invoke("sessions", "list", "--json").output.split('"id": "')[1].split('"')[0]
    result = invoke("sessions", "show", session_id)
    assert ("Assistant> fine bold" in result.output, "\x1b" in result.output) == (True, False)


def test_skills_list_shows_no_escape_from_a_skill(tmp_path: Path) -> None:
    """A repository's skill whose description holds an escape sequence lists without it."""
    path = tmp_path / "skills" / "evil" / "SKILL.md"
    path.parent.mkdir(parents=True)
    # YAML's double quotes spell an escape as `\e`: the description holds a real one.
    path.write_text('---\nname: evil\ndescription: "Helps\\e]0;PWNED\\a you."\n---\nBody.\n')
    result = invoke("skills", "list", "--skills-dir", str(tmp_path / "skills"))
    assert ("Helps you." in result.output, "\x1b" in result.output) == (True, False)


def test_json_lines_escape_c1_controls_and_bidi_overrides() -> None:
    """A `--json` line carries no raw C1 CSI or bidi override, and reads back the same."""
    line = dumps_line({"text": "a\x9b2J\u202eb"})
    assert (line, json.loads(line)["text"]) == ('{"text":"a\\u009b2J\\u202eb"}', "a\x9b2J\u202eb")


def test_batch_summary_shows_a_task_error_as_plain_text() -> None:
    """A task's error holding Rich markup and an escape prints literally, without the escape."""
    error = f"[link=https://evil.example]clone failed[/link]{OSC_TITLE}"
    out = io.StringIO()
    Console(file=out, width=200).print(_summary_table([TaskResult("t", "error", error=error)], 0))
    assert (
        "[link=https://evil.example]clone failed[/link]" in out.getvalue(),
        "\x1b" in out.getvalue(),
    ) == (True, False)
