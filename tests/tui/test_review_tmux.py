"""End to end: review mode in the real `tiller` binary in tmux against the local server.

Two files change; F4 shows the diff full screen; one file is reverted there;
Esc goes back to the prompt; the flush writes only the file that stayed.
Waits poll the screen with a deadline; nothing sleeps for a fixed time.
"""

from __future__ import annotations

import os
import shutil
import sys
import time
from collections.abc import Iterator
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
README = "# Demo\n\nA tiny project.\n"
README_NEW = "# Demo\n\nA tiny project, reviewed in tmux.\n"


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    root.mkdir()
    (root / "README.md").write_text(README)
    return root


@pytest.fixture
def server(tmp_path: Path) -> Iterator[str]:
    writes = [
        ["write_file", {"file_path": "README.md", "content": README_NEW}],
        ["write_file", {"file_path": "hello.py", "content": "print('hello')\n"}],
    ]
    script = {
        "replies": [{"tool_calls": writes}, {"text": "Changed two files."}],
        "default": {"text": "(no more scripted replies)"},
    }
    with serve_script_process(script, tmp_path) as base_url:
        yield base_url


def test_review_revert_and_flush_in_tmux(project: Path, server: str, tmp_path: Path) -> None:
    """F4 maximises the diff, r reverts one file, Esc returns, Ctrl+S writes only the other."""
    env = {"OPENAI_API_KEY": "sk-test", "HOME": str(tmp_path), "TERM": "xterm-256color"}
    env["PATH"] = os.environ.get("PATH", "")
    env["TILLER_DATA_DIR"] = str(tmp_path / "data")
    command = [str(TILLER), "--model", "openai/fake-model", "--api-base", server]
    tui = TmuxPane(command, project, env, size=(160, 45))
    try:
        tui.wait_for("Ask Tiller", "README.md")
        tui.type("change two files")
        tui.keys("Enter")
        tui.wait_for("Changed two files.", "hello.py A", "2 unflushed")

        tui.keys("F4")
        tui.wait_for("Review  2 changed file(s)", "side by side", "]/[ hunk")
        tui.keys("p", "n")  # the second file, whichever the sidebar showed
        tui.wait_for("file 2 of 2", "hello.py  +1 -0")
        tui.keys("r")
        tui.wait_for("Review  1 changed file(s)", "README.md  +1 -1")

        tui.keys("Escape")
        tui.wait_for("Ask Tiller", "Reverted hello.py", "1 unflushed")
        tui.type("zqz")  # typing lands in the prompt again
        tui.wait_for("zqz")
        tui.keys("BSpace", "BSpace", "BSpace")
        tui.keys("C-s")
        tui.wait_for("Flush to disk", "Write 1 change(s)")
        tui.keys("Enter")
        tui.wait_for("Flushed 1 file(s)", "0 unflushed")
        assert (sorted(p.name for p in project.iterdir()), (project / "README.md").read_text()) == (
            ["README.md"],
            README_NEW,
        )
        tui.keys("C-q")
        deadline = time.monotonic() + 30
        while tui.alive():
            assert time.monotonic() < deadline, "tiller did not quit"
            time.sleep(0.05)  # a poll interval
    finally:
        tui.kill()
