"""End to end: the real `tiller` binary in tmux against the local OpenAI-compatible server.

A person's session: type a prompt, watch the answer stream in and the new file
appear in the tree, steer while a response is held, export a patch that
`git apply` accepts in a clean clone, flush, and quit. Waits poll the screen
with a deadline; nothing sleeps for a fixed time.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tiller.testing.server import serve_script_process
from tiller.testing.tmux import TmuxPane

TILLER = Path(sys.executable).parent / "tiller"
HELLO = "print('hello')\n"
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed"),
    pytest.mark.skipif(not TILLER.exists(), reason="the tiller console script is not installed"),
    pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed"),
]


def git(cwd: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.email=t@example.com", "-c", "user.name=t", *args],
        cwd=cwd,
        check=True,
        capture_output=True,
    )


def wait_until(condition: Callable[[], bool], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {condition}"
        time.sleep(0.05)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    root.mkdir()
    (root / "README.md").write_text("# Demo\n")
    git(root, "init", "-q")
    git(root, "add", ".")
    git(root, "commit", "-qm", "base")
    return root


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[str, Path, Path]]:
    """The fake server's CLI on a script; yields (base_url, release file for the held reply,
    the file the server records each request to as it arrives)."""
    release = tmp_path / "release"
    script = {
        "replies": [
            {"tool_calls": [["write_file", {"file_path": "hello.py", "content": HELLO}]]},
            {"text": "Created hello.py for you; it prints a greeting.", "chunk_delay": 0.01},
            {
                "tool_calls": [["write_file", {"file_path": "notes.txt", "content": "notes\n"}]],
                "hold_until_file": str(release),
            },
            {"text": "Understood, tabs it is."},
        ],
        "default": {"text": "(no more scripted replies)"},
    }
    record = tmp_path / "requests.jsonl"
    with serve_script_process(script, tmp_path, record=record) as base_url:
        yield base_url, release, record


def requests_in(record: Path) -> int:
    return len(record.read_text().splitlines()) if record.exists() else 0


def test_a_session_in_tmux(repo: Path, server: tuple[str, Path, Path], tmp_path: Path) -> None:
    """Prompt, stream, tree, steer while held, export + git apply, flush, quit."""
    base_url, release, record = server
    env = {"OPENAI_API_KEY": "sk-test", "HOME": str(tmp_path), "TERM": "xterm-256color"}
    env["PATH"] = os.environ.get("PATH", "")
    env["TILLER_DATA_DIR"] = str(tmp_path / "data")
    command = [str(TILLER), "--model", "openai/fake-model", "--api-base", base_url]
    tui = TmuxPane(command, repo, env, size=(140, 45))
    try:
        tui.wait_for("Ask Tiller", "README.md")

        tui.type("create hello.py")
        tui.keys("Enter")
        tui.wait_for("Created hello.py for you", "hello.py A")

        tui.type("add notes")
        tui.keys("Enter")
        tui.wait_for("working")
        # Steering sent before the request went out joins it; this one must wait its turn.
        wait_until(lambda: requests_in(record) == 3)
        tui.type("use tabs")
        tui.keys("Enter")
        tui.wait_for("queued steer: use tabs")
        release.touch()
        tui.wait_for("You (steering)", "Understood, tabs it is.", "notes.txt A")

        tui.keys("C-x")
        tui.wait_for("Exported 2 change(s)")
        (patch,) = (tmp_path / "data" / "patches").glob("*.patch")
        assert not list(repo.glob("*.patch"))
        clone = tmp_path / "clone"
        git(tmp_path, "clone", "-q", str(repo), str(clone))
        git(clone, "apply", str(patch))
        assert (clone / "hello.py").read_text() == "print('hello')\n"
        assert (clone / "notes.txt").read_text() == "notes\n"

        tui.keys("C-s")
        tui.wait_for("Flush to disk", "hello.py", "notes.txt")
        tui.keys("Enter")
        tui.wait_for("Flushed 2 file(s)", "0 unflushed")
        assert (repo / "hello.py").read_text() == "print('hello')\n"
        assert (repo / "notes.txt").read_text() == "notes\n"

        tui.keys("C-q")
        wait_until(lambda: not tui.alive())
    finally:
        tui.kill()


@pytest.fixture
def shell_server(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A script that runs two shell commands: one to allow, one to deny with a reason."""
    record = tmp_path / "requests.jsonl"
    build = {"command": "echo built > build.txt && cat README.md", "description": "Build it"}
    remove = {"command": "rm README.md", "description": "Remove the readme"}
    script = {
        "replies": [
            {"tool_calls": [["shell", build]]},
            {"text": "Built: build.txt is in the workspace."},
            {"tool_calls": [["shell", remove]]},
            {"text": "Fine, I left README.md alone."},
        ],
        "default": {"text": "(no more scripted replies)"},
    }
    with serve_script_process(script, tmp_path, record) as base_url:
        yield base_url, record


def test_shell_commands_in_tmux(repo: Path, shell_server: tuple[str, Path], tmp_path: Path) -> None:
    """--shell: approve a command (its file lands in the tree, not on disk), deny one with a
    reason the model reads, then flush."""
    base_url, record = shell_server
    env = {"OPENAI_API_KEY": "sk-test", "HOME": str(tmp_path), "TERM": "xterm-256color"}
    env["PATH"] = os.environ.get("PATH", "")
    command = [str(TILLER), "--shell", "--model", "openai/fake-model", "--api-base", base_url]
    tui = TmuxPane(command, repo, env, size=(140, 45))
    try:
        tui.wait_for("Ask Tiller", "README.md")
        tui.type("build it")
        tui.keys("Enter")
        tui.wait_for("echo built > build.txt", "Build it", "y allow · a for the session")
        tui.keys("y")
        tui.wait_for("Built: build.txt is in the workspace.", "build.txt A")
        assert not (repo / "build.txt").exists()

        tui.type("clean up")
        tui.keys("Enter")
        tui.wait_for("rm README.md", "Remove the readme", "y allow · a for the session")
        tui.keys("n")
        tui.type("the readme stays")
        tui.keys("Enter")
        tui.wait_for("Fine, I left README.md alone.")
        last = json.loads(record.read_text().splitlines()[-1])
        assert "the readme stays" in json.dumps(last)
        assert (repo / "README.md").exists()

        tui.keys("C-s")
        tui.wait_for("Flush to disk", "build.txt")
        tui.keys("Enter")
        tui.wait_for("Flushed 1 file(s)")
        assert (repo / "build.txt").read_text() == "built\n"
        tui.keys("C-q")
        wait_until(lambda: not tui.alive())
    finally:
        tui.kill()
