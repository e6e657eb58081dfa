"""End to end: closing the terminal under a running `tiller` closes its session cleanly.

tmux's server going away hangs up its panes (SIGHUP), as closing a terminal
window does. Before, the default action killed Tiller on the spot: the shell
sandbox copy stayed behind until the next start swept it, and the journal had
no end. Waits poll with a deadline; nothing sleeps for a fixed time.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tiller.testing.processes import live_processes
from tiller.testing.server import serve_script_process
from tiller.testing.tmux import TmuxPane

TILLER = Path(sys.executable).parent / "tiller"
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed"),
    pytest.mark.skipif(shutil.which("bwrap") is None, reason="bubblewrap is not installed"),
    pytest.mark.skipif(not TILLER.exists(), reason="the tiller console script is not installed"),
]


@pytest.fixture
def server(tmp_path: Path) -> Iterator[str]:
    script = {
        "replies": [{"tool_calls": [["shell", {"command": "sleep 300"}]]}],
        "default": {"text": "(no more scripted replies)"},
    }
    with serve_script_process(script, tmp_path) as base_url:
        yield base_url


def eventually(condition: Callable[[], bool], timeout: float = 60.0) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)  # a poll interval
    return True


def last_kind(data: Path) -> str:
    journals = list((data / "sessions").glob("*.jsonl"))
    if not journals:
        return ""
    lines = journals[0].read_text().splitlines()
    record = json.loads(lines[-1]) if lines else {}
    return str(record.get("event", {}).get("kind", ""))


@pytest.mark.parametrize("front_end", ["tui", "chat"])
def test_a_hangup_mid_command_ends_the_session_and_removes_the_sandbox(
    tmp_path: Path, server: str, front_end: str
) -> None:
    """SIGHUP while a shell command runs: the journal ends, no sandbox copy is left, it exits."""
    project, data, temp = tmp_path / "project", tmp_path / "data", tmp_path / "tmp"
    for directory in (project, temp):
        directory.mkdir()
    (project / "README.md").write_text("# demo\n")
    env = {"OPENAI_API_KEY": "sk-test", "HOME": str(tmp_path), "TERM": "xterm-256color"}
    env.update(PATH=os.environ.get("PATH", ""), TILLER_DATA_DIR=str(data), TMPDIR=str(temp))
    options = ["--shell", "--yes", "-m", "openai/fake-model", "--api-base", server]
    marker = server  # its port marks this test's process
    prompt = "sleep for a while"
    if front_end == "tui":
        tui = TmuxPane([str(TILLER), *options, prompt], project, env, size=(120, 30))
    else:
        tui = TmuxPane([str(TILLER), "chat", *options], project, env, size=(120, 30))
        tui.wait_for("Ctrl+D quits")
        tui.line(prompt)

    def after() -> tuple[str, list[Path], list[int]]:
        running = [pid for pid, line in live_processes() if marker in line]
        return last_kind(data), sorted(temp.glob("tiller-sandbox-*")), running

    try:
        # The command is running: the TUI shows its row, the REPL its steering prompt.
        tui.wait_for(*(("sleep 300", "working") if front_end == "tui" else ("steer›",)))
        assert eventually(lambda: any(temp.glob("tiller-sandbox-*")))
        tui.kill()  # the terminal goes away: SIGHUP to Tiller
        assert eventually(lambda: after() == ("session_end", [], [])), after()
    finally:
        tui.kill()
