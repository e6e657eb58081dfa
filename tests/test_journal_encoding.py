"""Text that is not valid UTF-8 (lone surrogates) never breaks a journal or `--json`."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tiller.cli import app
from tiller.journal import Journal, journal_path, load_journal, restore_session
from tiller.session import Session
from tiller.testing.scripted import ScriptedModel, Step, call
from tiller.testing.server import FakeOpenAIServer, ServerReply

NAME = "caf\udce9.txt"  # what os.fsdecode makes of the Latin-1 bytes b"caf\xe9.txt"

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def every_line_parses(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_bytes().decode("utf-8").splitlines()]


def test_surrogate_file_name_keeps_every_turn(tmp_path: Path) -> None:
    """A model-chosen file name with a lone surrogate is journaled; no turn is dropped."""
    steps: list[Step | str] = [call("write_file", file_path=NAME, content="x\n"), "wrote it"]
    session = Session(ScriptedModel(steps), files={})
    Journal.attach(session)
    session.send("write it")
    every_line_parses(journal_path(session.id))
    data = load_journal(session.id)
    assert (data.turns, data.files) == (session.history, {NAME: "x\n"})


def test_surrogate_in_model_text_round_trips() -> None:
    """A lone surrogate in the model's text and tool arguments comes back unchanged."""
    steps: list[Step | str] = [
        Step(text="odd \ud800 text", tool_calls=[("read_file", {"file_path": "\udcff"})]),
        "ok",
    ]
    session = Session(ScriptedModel(steps), files={})
    Journal.attach(session)
    session.send("hi \udc80")
    restored = restore_session(session.id, client=ScriptedModel(), journal=False)
    assert restored.history == session.history


def test_non_utf8_name_on_disk(tmp_path: Path) -> None:
    """A real Latin-1 file name on disk, read and rewritten, is journaled and restored."""
    root = tmp_path / "project"
    root.mkdir()
    with open(os.path.join(os.fsencode(root), b"caf\xe9.txt"), "wb") as handle:
        handle.write(b"old\n")
    steps: list[Step | str] = [call("write_file", file_path=NAME, content="new\n"), "ok"]
    session = Session(ScriptedModel(steps), root=root)
    Journal.attach(session)
    session.send("rewrite")
    restored = restore_session(session.id, client=ScriptedModel(), journal=False)
    assert restored.workspace.changes() == [(NAME, "modified")]


def test_run_json_lines_always_parse(fake_server: FakeOpenAIServer, tmp_path: Path) -> None:
    """`tiller run --json` prints only valid JSON lines when a path holds a lone surrogate."""
    args = '{"file_path": "caf\\udce9.txt", "content": "x\\n"}'
    fake_server.add(ServerReply(tool_calls=[("write_file", args)]))
    # One round: the request encoding of the next call is not this test's business.
    command = ["run", "--json", "--max-turns", "1", "--model", "openai/fake"]
    command += ["--api-base", fake_server.base_url]
    command += ["--root", str(tmp_path), "--skills-dir", str(tmp_path / "none"), "write"]
    result = CliRunner().invoke(app, command, env={"OPENAI_API_KEY": "sk-test-json-lines"})
    events = [json.loads(line) for line in result.stdout.splitlines()]
    changed = [e["data"]["path"] for e in events if e["kind"] == "workspace_changed"]
    ends = [e["kind"] for e in events[-2:]]
    assert (changed, ends, events[-1]["data"]["files_changed"]) == (
        [NAME],
        ["session_end", "result"],
        [NAME],
    )
