"""The controller's per-file revert (review mode) and how undo and the model's note follow it."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from tiller.chat import Chat
from tiller.journal import Journal, restore_session
from tiller.session import Session
from tiller.testing.scripted import ScriptedModel, Step, call
from tiller.workspace import Workspace

WRITE = call("write_file", file_path="app.py", content="print('new')\n")


@pytest.fixture
def model() -> ScriptedModel:
    return ScriptedModel()


@pytest.fixture
def chat(model: ScriptedModel, tmp_path: Path) -> Iterator[Chat]:
    (tmp_path / "app.py").write_text("print('old')\n")

    def make(workspace: Workspace | None, resume: str | None) -> Session:
        where: dict[str, object] = {"files": workspace} if workspace else {"root": tmp_path}
        return Session(model, skills_dirs=[], **where)  # type: ignore[arg-type]

    controller = Chat(make)
    controller.open()
    yield controller
    for session in controller.sessions.values():
        session.close()


def _run(chat: Chat, model: ScriptedModel, *steps: object) -> None:
    model.add(*steps)  # type: ignore[arg-type]
    ready = chat.begin("go")
    assert isinstance(ready, str)
    session = chat.session
    chat.finish(session, session.send(ready), None)


def _last_prompt(model: ScriptedModel) -> str:
    return [m["content"] for m in model.requests[-1].messages if m["role"] == "user"][-1]


def test_revert_names_the_file_and_drops_the_change(chat: Chat, model: ScriptedModel) -> None:
    """revert() returns the reverted paths and the workspace is back to the disk."""
    _run(chat, model, WRITE, "Wrote it.")
    moved = chat.revert(["app.py"])
    assert (moved.touched, chat.session.workspace.changes()) == (("app.py",), [])


def test_revert_of_nothing_says_so(chat: Chat) -> None:
    """Reverting an unchanged file changes nothing and says so."""
    moved = chat.revert(["app.py"])
    assert (moved.touched, moved.notice.text.startswith("Nothing to revert")) == ((), True)


def test_the_model_hears_about_a_revert(chat: Chat, model: ScriptedModel) -> None:
    """The prompt after a revert carries the note naming the file."""
    _run(chat, model, WRITE, "Wrote it.")
    chat.revert(["app.py"])
    _run(chat, model, "Noted.")
    assert "undid your edits to app.py" in _last_prompt(model)


def test_undoing_a_revert_clears_the_note(chat: Chat, model: ScriptedModel) -> None:
    """Revert then undo: the model's edit is back, so it is told nothing."""
    _run(chat, model, WRITE, "Wrote it.")
    chat.revert(["app.py"])
    moved = chat.undo()
    assert (moved.touched, chat.begin("next")) == (("app.py",), "next")


def test_a_revert_survives_a_resume(
    chat: Chat, model: ScriptedModel, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The journal records the revert: a resumed session has the file back at its base."""
    monkeypatch.setenv("TILLER_DATA_DIR", str(tmp_path / "data"))
    Journal.attach(chat.session)
    model.add(call("write_file", file_path="other.py", content="x = 1\n"))
    _run(chat, model, WRITE, "Wrote them.")
    chat.revert(["app.py"])
    restored = restore_session(chat.session.id, client=ScriptedModel(), journal=False)
    assert restored.workspace.changes() == [("other.py", "added")]


def test_undo_waits_for_a_subagent_still_editing(chat: Chat, model: ScriptedModel) -> None:
    """A child left running after its parent's turn would have its edit undone: refused."""
    _run(chat, model, WRITE, "Wrote it.")
    gate = threading.Event()
    held = Step(text="still thinking", gate=gate)
    model.add(call("write_file", file_path="b.txt", content="child\n"), held)
    child = chat.session.subagents.spawn("edit more")
    held.reached.wait()
    moved = chat.undo()
    gate.set()
    child.idle.wait()
    assert (moved.touched, chat.session.workspace.changes()) == (
        (),
        [("app.py", "modified"), ("b.txt", "added")],
    )


def test_notices_name_a_non_utf8_file_printably(chat: Chat, model: ScriptedModel) -> None:
    """A file name that is not UTF-8 is shown as `\\xNN` (a terminal cannot print it raw)."""
    root = chat.session.workspace.root
    assert root is not None
    (root / os.fsdecode(b"caf\xe9.py")).write_text("old\n")
    _run(chat, model, call("write_file", file_path="caf\\xe9.py", content="new\n"), "Done.")
    reverted = chat.revert(["caf\\xe9.py"]).notice.text
    undone = chat.undo().notice.text
    assert (reverted.split(" to ")[0], undone.split(" (")[0]) == (
        "Reverted caf\\xe9.py",
        "Undo: caf\\xe9.py",
    )
