"""The front-end controller's decisions, on the scripted model (no front end involved)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tiller.chat import Chat, Notice, missing_key_message
from tiller.errors import AuthError
from tiller.history import UserTurn
from tiller.journal import data_dir, latest_for, list_journals, restore_session
from tiller.session import Session
from tiller.testing.scripted import ScriptedModel, Step, call
from tiller.workspace import Workspace

NOW = 1_790_000_000.0


def make_chat(model: ScriptedModel, root: Path, *, journal: bool = False) -> Chat:
    """A controller whose sessions run on `model` over `root`."""

    def make(workspace: Workspace | None, resume: str | None) -> Session:
        if resume is not None:
            return restore_session(resume, client=model, skills_dirs=[])
        where: dict[str, object] = {"files": workspace} if workspace else {"root": root}
        return Session(model, skills_dirs=[], **where)  # type: ignore[arg-type]

    return Chat(make, journal=journal, cwd=root / "sub", clock=lambda: NOW)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    (root / "sub").mkdir(parents=True)
    (root / "app.py").write_text("print('old')\n")
    return root


@pytest.fixture
def model() -> ScriptedModel:
    return ScriptedModel()


@pytest.fixture
def chat(model: ScriptedModel, project: Path) -> Iterator[Chat]:
    controller = make_chat(model, project)
    controller.open()
    yield controller
    for session in controller.sessions.values():
        session.close()


def run(chat: Chat, text: str) -> None:
    """What a front end's worker does with a `start`."""
    submitted = chat.submit(text, running=False)
    assert submitted.action == "start"
    ready = chat.begin(submitted.text)
    assert isinstance(ready, str)
    session = chat.session
    reply = session.send(ready)
    chat.finish(session, reply, None)


WRITE = call("write_file", file_path="app.py", content="print('new')\n")


def test_plain_text_starts_a_run(chat: Chat) -> None:
    """Idle, text means a new run of that text."""
    assert chat.submit("hello", running=False).action == "start"


def test_text_while_running_steers(chat: Chat) -> None:
    """While a run goes, Enter queues the text as steering on the session."""
    assert chat.submit("use tabs", running=True).action == "steer"
    assert chat.session.take_queued() == ["use tabs"]


def test_follow_up_mode_queues_a_follow_up(chat: Chat) -> None:
    """While a run goes, Tab's mode queues a follow-up."""
    assert chat.submit("then docs", running=True, mode="follow_up").action == "follow_up"
    assert chat.session.queued == ([], ["then docs"])


def test_a_known_command_is_a_command(chat: Chat) -> None:
    """`/export out.patch` is the export command with its argument."""
    submitted = chat.submit("/export out.patch", running=False)
    assert (submitted.action, submitted.command and submitted.command.name, submitted.argument) == (
        "command",
        "export",
        "out.patch",
    )


def test_a_command_that_needs_idle_is_refused_while_running(chat: Chat) -> None:
    """/undo during a run is refused with a reason."""
    submitted = chat.submit("/undo", running=True)
    assert (submitted.action, submitted.notice is not None) == ("refused", True)


def test_an_unknown_command_is_not_sent(chat: Chat) -> None:
    """`/frobnicate` is unknown, not a prompt."""
    assert chat.submit("/frobnicate", running=False).action == "unknown"


def test_double_slash_sends_a_leading_slash(chat: Chat) -> None:
    """`//etc/hosts please` is sent as `/etc/hosts please`."""
    assert chat.submit("//etc", running=False).text == "/etc"


def test_missing_key_refuses_before_sending(monkeypatch: pytest.MonkeyPatch, project: Path) -> None:
    """A provider model without its key is refused up front, naming the variable."""
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    session = Session("openai/gpt-5", root=project, skills_dirs=[])
    assert "set OPENAI_API_KEY" in (missing_key_message(session) or "")
    session.close()


def test_a_local_api_base_needs_no_key(monkeypatch: pytest.MonkeyPatch, project: Path) -> None:
    """With --api-base on the lean transport no key is demanded (the server decides)."""
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    session = Session(
        "openai/local",
        root=project,
        skills_dirs=[],
        transport="openai",
        api_base="http://127.0.0.1:9/v1",
    )
    assert missing_key_message(session) is None
    session.close()


def test_a_scripted_client_needs_no_key(chat: Chat) -> None:
    """A client that is not a provider transport is never asked for a key."""
    assert missing_key_message(chat.session) is None


def test_steering_left_after_the_final_answer_is_the_next_prompt(
    chat: Chat, model: ScriptedModel
) -> None:
    """Steering queued as the run completes comes back as the next prompt."""
    model.add("Done.")
    session = chat.session
    reply = session.send("hi")
    session.steer("and docs")
    assert chat.finish(session, reply, None).next_prompt == "and docs"


def test_queued_text_after_an_interrupt_goes_back_to_the_prompt(
    chat: Chat, model: ScriptedModel
) -> None:
    """After an interrupt, queued steering is restored, not sent."""
    session = chat.session
    model.add(interrupted_step(session))
    reply = session.send("hi")
    session.steer("later")
    finished = chat.finish(session, reply, None)
    assert (finished.next_prompt, finished.restore) == (None, ("later",))


def interrupted_step(session: Session) -> Step:
    """A reply the person interrupts after its first chunk."""
    return Step(text="Half an ans", chunks=["Half ", "an ans"], on_chunk=lambda i: session.cancel())


def test_an_interrupted_reply_is_marked_in_history(chat: Chat, model: ScriptedModel) -> None:
    """A reply cut off by an interrupt is marked as such for the model's next request."""
    session = chat.session
    model.add(interrupted_step(session))
    session.send("hi")
    assert session.history[-1].text.endswith("[interrupted by the user]")


def test_auth_recovery_keeps_every_turn_in_the_journal(model: ScriptedModel, project: Path) -> None:
    """After an auth error the new session's journal holds the whole conversation."""
    chat = make_chat(model, project, journal=True)
    chat.open()
    model.add("First answer.")
    run(chat, "hi")
    model.add(Step(error=AuthError("401 bad key")))
    session = chat.session
    ready = chat.begin("retry")
    assert isinstance(ready, str)
    with pytest.raises(AuthError):
        session.send(ready)
    finished = chat.finish(session, None, AuthError("401 bad key"))
    assert finished.replaced is chat.session
    model.add("Works now.")
    run(chat, "again")
    fresh = chat.session.id
    chat.session.close()
    restored = restore_session(fresh, client=model, journal=False)
    prompts = [t.text for t in restored.history if isinstance(t, UserTurn)]
    restored.close()
    assert prompts == ["hi", "retry", "again"]


def test_auth_error_is_said_once_with_the_model(chat: Chat) -> None:
    """The auth notice names the model and keeps the conversation."""
    session = chat.session
    finished = chat.finish(session, None, AuthError("401 bad key"))
    assert [n.level for n in finished.notices] == ["error"]
    assert "The conversation is kept" in finished.notices[0].text


def test_no_journal_until_the_first_prompt(model: ScriptedModel, project: Path) -> None:
    """Opening a window journals nothing; the first prompt starts the journal."""
    chat = make_chat(model, project, journal=True)
    chat.open()
    assert list_journals(project) == []
    model.add("Hello.")
    run(chat, "hi")
    assert [s.id for s in list_journals(project)] == [chat.session.id]
    chat.session.close()


def test_continue_skips_empty_sessions(model: ScriptedModel, project: Path) -> None:
    """`--continue` picks the newest session that has a prompt."""
    from tiller.journal import Journal

    chat = make_chat(model, project, journal=True)
    chat.open()
    model.add("Hello.")
    run(chat, "hi")
    real = chat.session.id
    empty = Session(model, root=project, skills_dirs=[])
    Journal.attach(empty)
    empty.close()
    chat.session.close()
    found = latest_for(project)
    assert found is not None and found.id == real


def test_export_without_a_path_goes_to_the_data_dir(chat: Chat, model: ScriptedModel) -> None:
    """A bare export writes into Tiller's data dir, never the project."""
    model.add(WRITE, "Wrote it.")
    run(chat, "write")
    chat.export()
    stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(NOW))
    patch = data_dir() / "patches" / f"{chat.session.id}-{stamp}.patch"
    assert patch.read_text() == chat.session.workspace.diff()


def test_export_to_a_relative_path_is_from_the_cwd(
    chat: Chat, model: ScriptedModel, project: Path
) -> None:
    """`/export out.patch` from a subdirectory writes there, not at the root."""
    model.add(WRITE, "Wrote it.")
    run(chat, "write")
    chat.export("out.patch")
    assert (project / "sub" / "out.patch").is_file()


def test_export_never_replaces_a_file_that_is_not_a_patch(
    chat: Chat, model: ScriptedModel, project: Path
) -> None:
    """`/export notes.md` over the person's notes refuses and leaves them as they were."""
    model.add(WRITE, "Wrote it.")
    run(chat, "write")
    (project / "sub" / "notes.md").write_text("my notes\n")
    chat.export("notes.md")
    assert (project / "sub" / "notes.md").read_text() == "my notes\n"


def test_export_replaces_an_earlier_patch(chat: Chat, model: ScriptedModel, project: Path) -> None:
    """Exporting to the same patch file again refreshes it."""
    model.add(WRITE, "Wrote it.")
    run(chat, "write")
    chat.export("out.patch")
    chat.session.workspace.write("more.txt", "more\n")
    chat.export("out.patch")
    assert (project / "sub" / "out.patch").read_text() == chat.session.workspace.diff()


def test_export_warns_when_a_file_changed_on_disk(
    chat: Chat, model: ScriptedModel, project: Path
) -> None:
    """A file changed on disk since read is named: the patch may not apply."""
    model.add(WRITE, "Wrote it.")
    run(chat, "write")
    (project / "app.py").write_text("print('theirs')\n")
    notices = chat.export("out.patch")
    assert [n.level for n in notices] == ["info", "warning"]


def test_export_with_nothing_to_export(chat: Chat) -> None:
    """No changes: nothing is written, and it says so."""
    assert chat.export() == [Notice("Nothing to export: the workspace matches the disk.")]


def test_undo_names_the_reverted_files(chat: Chat, model: ScriptedModel) -> None:
    """Undo returns the paths it moved."""
    model.add(WRITE, "Wrote it.")
    run(chat, "write")
    assert chat.undo().touched == ("app.py",)


def test_undo_with_nothing_to_undo_says_so(chat: Chat) -> None:
    """Undo on a fresh workspace says there is nothing to undo."""
    assert chat.undo().notice == Notice("Nothing to undo.")


def test_undo_after_a_flush_says_it_cannot(chat: Chat, model: ScriptedModel) -> None:
    """After a flush the turn's edits are on disk: undo says so instead of claiming success."""
    model.add(WRITE, "Wrote it.")
    run(chat, "write")
    chat.session.workspace.flush()
    moved = chat.undo()
    assert (moved.touched, moved.notice.level) == ((), "warning")


def test_the_model_is_told_about_an_undo(chat: Chat, model: ScriptedModel) -> None:
    """The request after an undo carries a note naming the reverted file."""
    model.add(WRITE, "Wrote it.")
    run(chat, "write")
    chat.undo()
    model.add("Noted.")
    run(chat, "what now?")
    last_user = [m["content"] for m in model.requests[-1].messages if m["role"] == "user"][-1]
    assert "undid your edits to app.py" in last_user and last_user.endswith("what now?")


def test_redo_clears_the_undo_note(chat: Chat, model: ScriptedModel) -> None:
    """Undo then redo: the model is told nothing (its edits stand)."""
    model.add(WRITE, "Wrote it.")
    run(chat, "write")
    chat.undo()
    chat.redo()
    assert chat.begin("next") == "next"


def test_new_keeps_the_model_chosen_last(chat: Chat) -> None:
    """/model then /new: the new conversation stays on the chosen model."""
    chat.session.set_model("scripted/other")
    assert chat.new().model == "scripted/other"


def test_new_shares_the_workspace(chat: Chat) -> None:
    """/new keeps the workspace (and its unflushed changes)."""
    first = chat.session
    assert chat.new().workspace is first.workspace


def test_saved_lists_journaled_sessions_with_their_first_prompt(
    model: ScriptedModel, project: Path
) -> None:
    """/sessions shows a saved conversation of this project with its first prompt."""
    earlier = make_chat(model, project, journal=True)
    earlier.open()
    model.add("Hello.")
    run(earlier, "the first question")
    earlier.session.close()
    chat = make_chat(model, project, journal=True)
    chat.open()
    saved = {s.id: s for s in chat.saved()}
    assert saved[earlier.session.id].first_prompt == "the first question"
    chat.session.close()


def test_switch_opens_a_saved_session(model: ScriptedModel, project: Path) -> None:
    """/resume ID restores a saved conversation into this window."""
    earlier = make_chat(model, project, journal=True)
    earlier.open()
    model.add("Hello.")
    run(earlier, "the first question")
    sid = earlier.session.id
    earlier.session.close()
    chat = make_chat(model, project, journal=True)
    chat.open()
    opened = chat.switch(sid)
    assert isinstance(opened, Session) and opened.history[0] == UserTurn("the first question")
    for session in chat.sessions.values():
        session.close()


def test_quit_warning_says_where_changes_are_kept(model: ScriptedModel, project: Path) -> None:
    """With unflushed changes the quit warning names the session and `--resume`."""
    chat = make_chat(model, project, journal=True)
    chat.open()
    model.add(WRITE, "Wrote it.")
    run(chat, "write")
    warning = chat.quit_warning() or ""
    assert f"tiller --resume {chat.session.id}" in warning
    chat.session.close()


def test_no_quit_warning_without_changes(chat: Chat) -> None:
    """Nothing unflushed: quitting needs no question."""
    assert chat.quit_warning() is None


def test_cost_names_tokens_and_price(chat: Chat, model: ScriptedModel) -> None:
    """/cost reports the conversation's tokens."""
    model.add("Hi.")
    run(chat, "hi")
    assert chat.cost().startswith("This conversation: 10 input, 5 output")


def test_saved_sessions_count_their_unflushed_changes(model: ScriptedModel, project: Path) -> None:
    """A saved conversation that left an edit in memory lists one unflushed change."""
    earlier = make_chat(model, project, journal=True)
    earlier.open()
    model.add(WRITE, "Wrote it.")
    run(earlier, "write")
    earlier.session.close()
    chat = make_chat(model, project, journal=True)
    chat.open()
    saved = {s.id: s for s in chat.saved()}
    assert saved[earlier.session.id].unflushed == 1
    chat.session.close()


# -- a /model switch to a litellm model loads litellm at once -----------------------------

SWITCH = """
import os, sys
from tiller.chat import Chat
from tiller.session import Session

session = Session("openai/fake-model", files={}, skills_dirs=[], api_base="http://127.0.0.1:9/v1")
chat = Chat(lambda workspace, resume: session)
chat.adopt(session)
before = "tiller.llm" in sys.modules and sys.modules["tiller.llm"].preload_thread() is not None
chat.set_model(sys.argv[1])
import tiller.llm
print(before, session.transport, tiller.llm.preload_thread() is not None, flush=True)
os._exit(0)  # the import need not finish
"""


def switched(model: str, tmp_path: Path) -> str:
    """What a fresh process says after `Chat.set_model(model)`: preload before, transport, after."""
    env = {**os.environ, "TILLER_CONFIG_DIR": str(tmp_path), "TILLER_DATA_DIR": str(tmp_path)}
    done = subprocess.run(
        [sys.executable, "-c", SWITCH, model], capture_output=True, text=True, env=env, check=True
    )
    return done.stdout.strip()


def test_switching_to_a_litellm_model_starts_loading_litellm(tmp_path: Path) -> None:
    """`/model anthropic/...` starts litellm's import in the background at once."""
    assert switched("anthropic/claude-sonnet-4-5", tmp_path) == "False litellm True"


def test_switching_to_an_openai_compatible_model_loads_nothing(tmp_path: Path) -> None:
    """A switch that stays on the lean client starts no litellm import."""
    assert switched("openai/gpt-5", tmp_path) == "False openai False"


def test_an_interrupt_with_nothing_queued_says_only_interrupted(
    chat: Chat, model: ScriptedModel
) -> None:
    """No queued messages: the notice does not claim any came back."""
    session = chat.session
    model.add(interrupted_step(session))
    reply = session.send("hi")
    assert [n.text for n in chat.finish(session, reply, None).notices] == ["Interrupted."]


def test_interrupt_hands_back_the_queue_and_finish_says_so(
    chat: Chat, model: ScriptedModel
) -> None:
    """`interrupt` returns what was queued; the finished run's notice mentions it."""
    session = chat.session
    session.steer("later")
    assert chat.interrupt() == ("later",)
    model.add(interrupted_step(session))
    reply = session.send("hi")
    assert [n.text for n in chat.finish(session, reply, None).notices] == [
        "Interrupted. Queued messages are back in the prompt."
    ]
