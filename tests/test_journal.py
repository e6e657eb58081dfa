"""The session journal: append-only JSONL, restore, secrets, crashes."""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from tiller.history import UserTurn
from tiller.journal import (
    Journal,
    JournalError,
    journal_path,
    latest_for,
    list_journals,
    load_journal,
    restore_session,
)
from tiller.model import Usage
from tiller.session import Session
from tiller.testing.scripted import ScriptedModel, Step, call
from tiller.testing.server import FakeOpenAIServer, ServerReply

SECRET = "sk-test-0123456789abcdef-SECRET"


@pytest.fixture(autouse=True)
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Journals go to a temp dir, never the user's."""
    directory = tmp_path / "data"
    monkeypatch.setenv("TILLER_DATA_DIR", str(directory))
    return directory


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    root.mkdir()
    (root / "keep.txt").write_text("keep\n")
    (root / "gone.txt").write_text("to delete\n")
    (root / "edit.txt").write_text("one\ntwo\n")
    return root


def scripted_session(root: Path, steps: list[Step | str], **options: object) -> Session:
    model = ScriptedModel(steps)
    return Session(model, root=root, **options)  # type: ignore[arg-type]


def busy_script() -> list[Step | str]:
    return [
        call("write_file", file_path="new.txt", content="hello\n"),
        call("edit_file", file_path="edit.txt", old_string="two", new_string="TWO"),
        Step(text="Reading.", tool_calls=[("read_file", {"file_path": "keep.txt"})]),
        "Done with the first.",
        call("write_file", file_path="later.txt", content="later\n"),
        Step(text="Second done.", usage=Usage(100, 20)),
    ]


def test_round_trip_restores_history_files_changes_and_usage(project: Path) -> None:
    """A journaled session restores to the same context, overlay, changes and usage."""
    session = scripted_session(project, busy_script())
    Journal.attach(session)
    session.workspace.delete("gone.txt")
    session.send("first task")
    session.send("second task")
    session.workspace.undo()
    before = (session.context(), session.files(), session.workspace.changes())

    restored = restore_session(session.id, client=ScriptedModel(), journal=False)

    assert restored.id == session.id
    assert restored.history == session.history
    assert (restored.context(), restored.files(), restored.workspace.changes()) == before
    assert restored.usage == session.usage
    assert restored.workspace.diff() == session.workspace.diff()


def test_undo_redo_and_flush_are_replayed(project: Path) -> None:
    """The overlay after undo, redo and a partial flush is the one restored."""
    session = scripted_session(
        project,
        [
            call("write_file", file_path="a.txt", content="a\n"),
            "ok",
            call("write_file", file_path="b.txt", content="b\n"),
            "ok",
        ],
    )
    Journal.attach(session)
    session.send("one")
    session.send("two")
    session.workspace.undo()
    session.workspace.redo()
    session.workspace.flush(["a.txt"])
    restored = restore_session(session.id, client=ScriptedModel(), journal=False)
    assert restored.files() == session.files() == {"b.txt": "b\n"}
    assert restored.workspace.changes() == [("b.txt", "added")]


def test_seeded_files_are_journaled() -> None:
    """Files seeded before attaching survive too (in-memory workspace)."""
    session = Session(ScriptedModel(["hi"]), files={"a.py": "x = 1\n"})
    Journal.attach(session)
    session.send("hello")
    restored = restore_session(session.id, client=ScriptedModel(), journal=False)
    assert restored.files() == {"a.py": "x = 1\n"}
    assert restored.history == session.history


def test_file_and_directory_modes(project: Path, data_dir: Path) -> None:
    """Journals are 0600 in a 0700 directory."""
    session = scripted_session(project, ["hi"])
    journal = Journal.attach(session)
    assert stat.S_IMODE(journal.path.stat().st_mode) == 0o600
    assert stat.S_IMODE((data_dir / "sessions").stat().st_mode) == 0o700


def test_torn_last_line_is_tolerated(project: Path) -> None:
    """A half-written last line (a kill mid-write) is skipped, the rest restored."""
    session = scripted_session(project, [call("write_file", file_path="n.txt", content="n"), "ok"])
    Journal.attach(session)
    session.send("go")
    path = journal_path(session.id)
    with open(path, "a", encoding="utf-8") as handle:
        handle.write('{"type":"turn","turn":{"role":"user","te')
    data = load_journal(session.id)
    assert data.damaged == 1
    assert data.turns == session.history
    assert data.files == {"n.txt": "n"}


@pytest.mark.parametrize(
    ("source",),
    [("environment",), ("api_key",)],
)
def test_api_key_never_in_journal(
    project: Path, monkeypatch: pytest.MonkeyPatch, source: str
) -> None:
    """Neither a provider key from the environment nor `api_key=` reaches the file."""
    options: dict[str, object] = {"api_base": "http://127.0.0.1:1/v1"}
    if source == "environment":
        monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    else:
        options["api_key"] = SECRET
    steps: list[Step | str] = [
        call("write_file", file_path="k.txt", content=f"key={SECRET}\n"),
        f"I saw {SECRET}",
    ]
    session = scripted_session(project, steps, **options)
    Journal.attach(session)
    session.send(f"here is my key {SECRET}")
    text = journal_path(session.id).read_text()
    assert SECRET not in text
    assert "[redacted]" in text
    assert "127.0.0.1:1" in text  # harmless options are kept for resuming


def test_resume_appends_to_the_same_journal(project: Path) -> None:
    """A restored session keeps journaling; restoring again sees both runs."""
    session = scripted_session(project, ["first answer"])
    Journal.attach(session)
    session.send("first")
    session.close()

    resumed = restore_session(session.id, client=ScriptedModel(["second answer"]))
    resumed.send("second")
    resumed.close()

    again = restore_session(session.id, client=ScriptedModel(), journal=False)
    texts = [t.text for t in again.history if isinstance(t, UserTurn)]
    assert texts == ["first", "second"]
    assert again.usage == Usage(20, 10)
    lines = journal_path(session.id).read_text().splitlines()
    assert sum(json.loads(line)["type"] == "header" for line in lines) == 1


def test_list_latest_and_prefix(project: Path, tmp_path: Path) -> None:
    """Listing filters by root, newest first; an id prefix finds a journal."""
    other = tmp_path / "other"
    other.mkdir()
    ids = []
    for root, prompt in [(project, "p1"), (other, "o1"), (project, "p2")]:
        session = scripted_session(root, ["ok"])
        Journal.attach(session)
        session.send(prompt)
        ids.append(session.id)
    assert [s.id for s in list_journals(project)] == [ids[2], ids[0]]
    assert len(list_journals()) == 3
    latest = latest_for(project)
    assert latest is not None and latest.first_prompt == "p2"
    assert load_journal(ids[1][:8]).first_prompt == "o1"
    with pytest.raises(JournalError):
        load_journal("nope")


def test_events_are_lifecycle_only(project: Path) -> None:
    """Text deltas stay out of the journal; processing ends are in it."""
    session = scripted_session(project, [Step(text="abc", chunks=["a", "b", "c"])])
    Journal.attach(session)
    session.send("hi")
    kinds = [e["kind"] for e in load_journal(session.id).events]
    assert "assistant_text_delta" not in kinds
    assert "processing_end" in kinds


# -- a real crash ----------------------------------------------------------------


def tiller_command() -> list[str]:
    script = Path(sys.executable).with_name("tiller")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-c", "from tiller.cli import main; main()"]


def wait_for(predicate: object, timeout: float = 20.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return True
        time.sleep(0.02)
    return False


def test_sigkill_after_first_edit_then_resume(
    project: Path, data_dir: Path, tmp_path: Path
) -> None:
    """`tiller run` killed with SIGKILL after an edit resumes with the edit and the conversation."""
    gate = threading.Event()
    args = json.dumps({"file_path": "edit.txt", "content": "one\n2\n"})
    env = {**os.environ, "TILLER_DATA_DIR": str(data_dir), "OPENAI_API_KEY": SECRET}
    env.pop("TILLER_MODEL", None)
    with FakeOpenAIServer() as server:
        server.add(ServerReply(tool_calls=[("write_file", args)]), ServerReply(text="x", gate=gate))
        process = subprocess.Popen(
            [
                *tiller_command(),
                "run",
                "make two a digit",
                "--model",
                "openai/gpt-test",
                "--api-base",
                server.base_url,
                "--root",
                str(project),
            ],
            cwd=project,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        try:
            assert server.held(timeout=60), process.stderr
            process.send_signal(signal.SIGKILL)
            process.wait(timeout=10)
        finally:
            gate.set()
            if process.poll() is None:
                process.kill()
        assert process.returncode == -signal.SIGKILL

    assert (project / "edit.txt").read_text() == "one\ntwo\n"  # never flushed
    [summary] = list_journals(project)
    assert SECRET not in summary.path.read_text()
    restored = restore_session(summary.id, client=ScriptedModel(["Finished."]))
    assert restored.files() == {"edit.txt": "one\n2\n"}
    assert restored.workspace.changes() == [("edit.txt", "modified")]
    roles = [type(t).__name__ for t in restored.history]
    assert roles == ["UserTurn", "AssistantTurn", "ToolResultsTurn"]
    assert restored.history[0] == UserTurn("make two a digit")
    assert restored.history[2].results[0].is_error is False  # type: ignore[union-attr]
    assert restored.send("go on").text == "Finished."


def test_model_switch_is_remembered(project: Path) -> None:
    """After `set_model`, a restored session (and the listing) uses the new model."""
    session = scripted_session(project, ["one", "two"])
    Journal.attach(session)
    session.send("first")
    session.set_model("scripted/gpt-other")
    session.send("second")
    restored = restore_session(session.id, client=ScriptedModel(), journal=False)
    assert restored.model == "scripted/gpt-other"
    assert list_journals()[0].model == "scripted/gpt-other"


def test_session_end_is_journaled_and_closes(project: Path) -> None:
    """Closing the session records SESSION_END and stops journaling."""
    session = scripted_session(project, ["hi"])
    journal = Journal.attach(session)
    session.send("hello")
    session.close()
    session.workspace.write("after.txt", "not journaled")
    data = load_journal(session.id)
    assert data.events[-1]["kind"] == "session_end"
    assert data.files == {}
    journal.close()  # idempotent


def test_concurrent_writes_journal_the_latest_content() -> None:
    """Many threads writing the same files: the restored overlay equals the live one."""
    session = Session(ScriptedModel(), files={})
    Journal.attach(session, fsync=False)
    barrier = threading.Barrier(8)

    def writer(n: int) -> None:
        barrier.wait()
        for i in range(200):
            session.workspace.write(f"f{i % 3}.txt", f"{n}-{i}")

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert load_journal(session.id).files == session.files()


def test_resume_after_a_torn_line_keeps_new_records_readable(project: Path) -> None:
    """Appending after a torn line starts a new line, so only the torn fragment is lost."""
    session = scripted_session(project, ["one"])
    Journal.attach(session)
    session.send("first")
    with open(journal_path(session.id), "a", encoding="utf-8") as handle:
        handle.write('{"type":"turn","turn":{"ro')
    resumed = restore_session(session.id, model="scripted/other", client=ScriptedModel(["two"]))
    resumed.send("second")
    data = load_journal(session.id)
    assert (data.damaged, [t.text for t in data.turns]) == (1, ["first", "one", "second", "two"])
    assert data.model == "scripted/other"  # the resume record after the torn line survived


# -- formats and sizes -------------------------------------------------------------

FIXTURE = Path(__file__).parent / "fixtures" / "journal_v1.jsonl"


def test_format_1_journal_still_restores(project: Path, data_dir: Path) -> None:
    """A journal written by the format-1 code (whole files, no withheld) restores as it did."""
    lines = [json.loads(line) for line in FIXTURE.read_text().splitlines()]
    lines[0]["root"] = str(project)
    (data_dir / "sessions").mkdir(parents=True)
    text = "".join(json.dumps(line) + "\n" for line in lines)
    (data_dir / "sessions" / "oldformat01.jsonl").write_text(text)
    restored = restore_session("oldformat01", client=ScriptedModel(), journal=False)
    files = {"edit.txt": "one\nTWO\n", "new.txt": "hello\n", "third.txt": "3\n"}
    changes = [
        ("edit.txt", "modified"),
        ("gone.txt", "deleted"),
        ("new.txt", "added"),
        ("third.txt", "added"),
    ]
    assert (restored.files(), restored.workspace.changes()) == (files, changes)
    assert (len(restored.history), restored.usage.input_tokens) == (14, 160)


def test_repeated_edits_of_a_big_file_stay_small(project: Path) -> None:
    """50 small edits of a 200 KB file add far less than 50 copies of it, and restore exactly."""
    big = "".join(f"row {i}\n" for i in range(25_000))
    (project / "big.txt").write_text(big)
    session = scripted_session(project, [])
    Journal.attach(session, fsync=False)
    for i in range(50):
        session.workspace.edit("big.txt", f"row {i * 400}\n", f"ROW {i}\n")
    session.workspace.undo()  # nothing checkpointed: a no-op
    assert journal_path(session.id).stat().st_size < 2 * len(big)
    assert load_journal(session.id).files == session.files()


def test_delta_chain_survives_undo_redo_and_resume(project: Path) -> None:
    """Deltas journaled across undo, redo and a resume replay to the live overlay."""
    big = "".join(f"row {i}\n" for i in range(2_000))
    session = scripted_session(project, [])
    Journal.attach(session, fsync=False)
    session.workspace.write("big.txt", big)
    session.workspace.checkpoint()
    session.workspace.edit("big.txt", "row 5\n", "five\n")
    session.workspace.undo()
    session.workspace.redo()
    session.close()
    resumed = restore_session(session.id, client=ScriptedModel())
    resumed.workspace.edit("big.txt", "row 1999\n", "last\n")
    assert load_journal(session.id).files == resumed.files()


def test_delta_without_its_base_is_dropped_not_guessed(project: Path) -> None:
    """A delta whose base record is unreadable drops that file's change, with a warning."""
    big = "".join(f"row {i}\n" for i in range(2_000))
    session = scripted_session(project, [])
    Journal.attach(session, fsync=False)
    session.workspace.write("big.txt", big)
    session.workspace.edit("big.txt", "row 7\n", "seven\n")
    session.close()
    path = journal_path(session.id)
    lines = path.read_text().splitlines(keepends=True)
    [full] = [i for i, line in enumerate(lines) if '"content":"row 0' in line]
    lines[full] = lines[full][:40] + "\n"
    path.write_text("".join(lines))
    told: list[str] = []
    restored = restore_session(session.id, client=ScriptedModel(), on_warning=told.append)
    assert (restored.files(), told[0]) == (
        {},
        "big.txt: its change was not restored because the file has a journal record "
        "that could not be read back; the file on disk is untouched",
    )
