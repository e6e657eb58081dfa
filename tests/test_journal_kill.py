"""kill -9 at random points of a journaled session: every journal resumes to a valid context."""

from __future__ import annotations

import random
import signal
import subprocess
import sys
from pathlib import Path

from context_checks import unanswered_calls
from tiller.journal import load_journal, restore_session
from tiller.testing.scripted import ScriptedModel

ROUNDS = 30
BIG_LINES = 3000
KILLS = 20
AT_ONCE = 4

# The child: rounds of several tool calls (parallel reads, writes, edits of a file big
# enough to be journaled as deltas), then a step that never answers, so it is always
# alive when killed; every other child runs the rounds in a resumed session. Every
# event is printed so the parent can pick a point to kill at.
CHILD = f"""
import sys, threading
from tiller.journal import Journal, restore_session
from tiller.session import Session
from tiller.testing.scripted import ScriptedModel, Step

root, sid, resume = sys.argv[1:4]
steps = []
for i in range({ROUNDS}):
    steps.append(Step(text=f"round {{i}}", tool_calls=[
        ("read_file", {{"file_path": "big.txt", "limit": 5}}),
        ("write_file", {{"file_path": f"f{{i}}.txt", "content": f"file {{i}}\\n"}}),
        ("edit_file", {{"file_path": "big.txt", "old_string": f"line {{i * 7}}\\n",
                       "new_string": f"edit {{i}}\\n"}}),
        ("read_file", {{"file_path": f"f{{i}}.txt"}}),
    ]))
steps.append(Step(text="never", gate=threading.Event()))
if resume == "resume":  # a finished first run, then the rounds in a resumed session
    first = Session(ScriptedModel([Step(tool_calls=[
        ("write_file", {{"file_path": "pre.txt", "content": "pre\\n"}})]), "pre done"]),
        root=root, session_id=sid)
    Journal.attach(first, fsync=False)
    first.send("before")
    first.close()
    session = restore_session(sid, client=ScriptedModel(steps), max_turns={ROUNDS + 5})
else:
    session = Session(ScriptedModel(steps), root=root, session_id=sid, max_turns={ROUNDS + 5})
    Journal.attach(session, fsync=False)
session.subscribe(lambda e: print(e.kind.value, flush=True))
session.send("go")
"""


def big_file_states() -> list[str]:
    lines = [f"line {i}\n" for i in range(BIG_LINES)]
    states = ["".join(lines)]
    for i in range(ROUNDS):
        lines[i * 7] = f"edit {i}\n"
        states.append("".join(lines))
    return states


def start(root: Path, session_id: str, resume: bool) -> subprocess.Popen[str]:
    root.mkdir()
    (root / "big.txt").write_text(big_file_states()[0])
    mode = "resume" if resume else "new"
    return subprocess.Popen(
        [sys.executable, "-c", CHILD, str(root), session_id, mode],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )


def kill_after(process: subprocess.Popen[str], lines: int) -> None:
    """SIGKILL `process` once it has printed `lines` events (or stopped printing)."""
    assert process.stdout is not None
    for _ in range(lines):
        if not process.stdout.readline():
            break
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    process.stdout.close()


def check_resumable(session_id: str, root: Path, states: list[str]) -> None:
    data = load_journal(session_id)
    assert data.damaged <= 1, session_id
    restored = restore_session(session_id, client=ScriptedModel(["ok"]))
    assert unanswered_calls(restored.context()) == [], session_id
    files = restored.files()
    assert files.get("big.txt", states[0]) in states, session_id
    assert all(files[f"f{i}.txt"] == f"file {i}\n" for i in range(ROUNDS) if f"f{i}.txt" in files)
    assert files.get("pre.txt", "pre\n") == "pre\n"
    assert restored.send("go on").text == "ok"
    restored.close()
    again = restore_session(session_id, client=ScriptedModel(), journal=False)
    assert (unanswered_calls(again.context()), again.files()) == ([], restored.files())
    assert (root / "big.txt").read_text() == states[0]  # nothing reached the disk


def test_random_kills_leave_resumable_journals(tmp_path: Path) -> None:
    """20 SIGKILLs at random points of new and resumed sessions: each journal resumes validly."""
    rng = random.Random()
    seed = rng.randrange(1 << 30)
    rng.seed(seed)
    states = big_file_states()
    # about 10 events a round (text start and end, 4 tool starts and ends, usage...)
    batches = [range(b, min(b + AT_ONCE, KILLS)) for b in range(0, KILLS, AT_ONCE)]
    for batch in batches:
        running = [start(tmp_path / f"p{n}", f"kill{n:02d}", n % 2 == 1) for n in batch]
        try:
            for process in running:
                kill_after(process, rng.randrange(1, ROUNDS * 10))
                assert process.returncode == -signal.SIGKILL, f"seed {seed}"
        finally:
            for process in running:
                if process.poll() is None:
                    process.kill()
                    process.wait()
        for n in batch:
            check_resumable(f"kill{n:02d}", tmp_path / f"p{n}", states)
