"""One writer per journal: a session open in one Tiller is not resumed or deleted by another."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tiller.cli import app
from tiller.journal import Journal, JournalError, journal_path, load_journal, restore_session
from tiller.session import Session
from tiller.testing.scripted import ScriptedModel, call

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

# Another Tiller process with the session open: it resumes it, says so, and waits.
HOLDER = (
    "import sys; from tiller.journal import restore_session; "
    "from tiller.testing.scripted import ScriptedModel; "
    "s = restore_session(sys.argv[1], client=ScriptedModel([])); "
    "print('open', flush=True); sys.stdin.read(); s.close()"
)


@pytest.fixture
def saved_id(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """The id of a finished, journaled session that wrote a.txt."""
    monkeypatch.setenv("TILLER_DATA_DIR", str(tmp_path / "data"))
    root = tmp_path / "project"
    root.mkdir()
    model = ScriptedModel([call("write_file", file_path="a.txt", content="A\n"), "done"])
    session = Session(model, root=root)
    Journal.attach(session)
    session.send("make a.txt")
    session.close()
    return session.id


@pytest.fixture
def open_elsewhere(saved_id: str) -> Iterator[str]:
    """`saved_id`, open in another process for the length of the test."""
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLDER, saved_id],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None and proc.stdout.readline() == "open\n"
        yield saved_id
    finally:
        proc.kill()
        proc.wait()


def test_a_session_open_in_another_process_is_not_resumed(open_elsewhere: str) -> None:
    """Two writers would interleave two histories and two chains of file deltas in one file."""
    with pytest.raises(JournalError) as caught:
        restore_session(open_elsewhere, client=ScriptedModel([]))
    assert str(caught.value) == (
        f"Session {open_elsewhere} is open in another Tiller process; close it there first"
    )


def test_rm_refuses_a_session_open_in_another_process(open_elsewhere: str) -> None:
    """`sessions rm ID` while the session runs elsewhere: exit 1, the journal kept."""
    result = CliRunner().invoke(app, ["sessions", "rm", open_elsewhere])
    assert (result.exit_code, result.stderr, journal_path(open_elsewhere).is_file()) == (
        1,
        f"tiller: Session {open_elsewhere} is open in another Tiller process; "
        "close it there first\n",
        True,
    )


def test_a_session_resumed_again_in_one_process_takes_the_journal_over(saved_id: str) -> None:
    """Within a process the newest opener journals; the session it replaced no longer does."""
    first = restore_session(saved_id, client=ScriptedModel(["old answer"]))
    second = restore_session(saved_id, client=ScriptedModel(["new answer"]))
    try:
        second.send("new prompt")
        first.send("old prompt")
    finally:
        first.close()
        second.close()
    texts = [getattr(turn, "text", None) for turn in load_journal(saved_id).turns]
    assert texts[-2:] == ["new prompt", "new answer"]


def test_a_closed_session_resumes_again(saved_id: str) -> None:
    """Closing the session lets the journal go: the next resume works."""
    restore_session(saved_id, client=ScriptedModel([])).close()
    again = restore_session(saved_id, client=ScriptedModel([]))
    again.close()
    assert again.files() == {"a.txt": "A\n"}
