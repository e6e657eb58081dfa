"""End to end: typing into the real `tiller` in tmux as a fast person does.

Enter typed before the UI is up, `tiller "PROMPT"`, a burst with Ctrl+J, Tab
completing an `@path`, typing during a run when an approval dialog appears (the
keys typed before it must not answer it), and Up for the last prompt. Waits
poll the screen with a deadline; nothing sleeps for a fixed time.
"""

from __future__ import annotations

import os
import shutil
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tiller.testing.server import serve_script_process
from tiller.testing.tmux import TmuxPane

TILLER = Path(sys.executable).parent / "tiller"
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed"),
    pytest.mark.skipif(not TILLER.exists(), reason="the tiller console script is not installed"),
]


def wait_until(condition: Callable[[], bool], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {condition}"
        time.sleep(0.05)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    (root / "docs").mkdir(parents=True)
    (root / "README.md").write_text("# Demo\n")
    (root / "docs" / "guide.md").write_text("guide\n")
    return root


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """Replies: a greeting, then a shell call held until `release` exists, then its answer."""
    release = tmp_path / "release"
    shell = {"command": "touch made.txt && echo hi", "description": "Say hi"}
    script = {
        "replies": [
            {"text": "Hello from the fake model."},
            {"tool_calls": [["shell", shell]], "hold_until_file": str(release)},
            {"text": "Said hi for you."},
        ],
        "default": {"text": "(no more scripted replies)"},
    }
    with serve_script_process(script, tmp_path) as base_url:
        yield base_url, release


def start(base_url: str, root: Path, tmp_path: Path, *args: str) -> TmuxPane:
    env = {"OPENAI_API_KEY": "sk-test", "HOME": str(tmp_path), "TERM": "xterm-256color"}
    env["PATH"] = os.environ.get("PATH", "")
    env["TILLER_DATA_DIR"] = str(tmp_path / "data")
    env["TILLER_CONFIG_DIR"] = str(tmp_path / "config")
    command = [str(TILLER), "--shell", "--model", "openai/fake-model", "--api-base", base_url]
    return TmuxPane([*command, *args], root, env, size=(140, 40))


def test_typing_fast_in_tmux(project: Path, server: tuple[str, Path], tmp_path: Path) -> None:
    """Early Enter is sent; a burst keeps its order; Tab completes `@READ`; keys typed
    during a run stay in the prompt when an approval appears; Up recalls a prompt."""
    base_url, release = server
    tui = start(base_url, project, tmp_path)
    try:
        tui.type("hi")  # before the UI is up
        tui.keys("Enter")
        tui.wait_for("Hello from the fake model.")

        tui.keys("a", "b", "c", "C-j", "d", "e", "f")
        screen = tui.wait_for("abc", "def")
        rows = [row.split("│")[0].strip() for row in screen.splitlines()]
        assert rows[rows.index("abc") + 1] == "def"
        tui.keys("C-c")
        tui.wait_for("Ask Tiller")

        tui.type("read @READ")
        tui.keys("Tab")
        tui.wait_for("read @README.md")
        tui.keys("Enter")
        tui.wait_for("working")
        tui.type("yes and no")  # y, a and n answer an approval: these must not
        tui.wait_for("yes and no")
        release.touch()
        tui.wait_for("Allow the agent to run this shell command?", "touch made.txt")
        # The dialog answers keys only once its hints show (after a quiet moment).
        screen = tui.wait_for("y allow · a for the session")
        assert "yes and no" in screen and "awaiting approval" in screen
        tui.keys("y")
        tui.wait_for("Said hi for you.")
        assert "yes and no" in tui.screen()

        tui.keys("C-c")
        tui.wait_for("Ask Tiller")
        tui.keys("Up")
        tui.wait_for("read @README.md ")
        history = (tmp_path / "data" / "chat_history").read_text()
        assert "+read @README.md" in history and "+hi\n" in history

        tui.keys("C-q")
        tui.wait_for("Quit with unflushed changes?")  # made.txt is only in the overlay
        tui.keys("y")
        wait_until(lambda: not tui.alive())
    finally:
        tui.kill()


def test_a_prompt_on_the_command_line_in_tmux(
    project: Path, server: tuple[str, Path], tmp_path: Path
) -> None:
    """`tiller "say hello"` opens the TUI and sends it."""
    base_url, _ = server
    tui = start(base_url, project, tmp_path, "say hello")
    try:
        tui.wait_for("say hello", "Hello from the fake model.")
        tui.keys("C-q")
        wait_until(lambda: not tui.alive())
    finally:
        tui.kill()
