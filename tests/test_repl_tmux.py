"""End to end: `tiller chat` in tmux against the local OpenAI-compatible server.

A person's session in the plain REPL: prompt and answer, steer while a reply is
held, look at the diff, flush after the confirm, quit with Ctrl+D. Waits poll
the screen with a deadline; nothing sleeps for a fixed time.
"""

from __future__ import annotations

import json
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


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[str, Path, Path]]:
    """The fake server on a script; yields (base_url, release file, recorded requests)."""
    release = tmp_path / "release"
    record = tmp_path / "requests.jsonl"
    content = "def greet():\n    return 'hello'\n"
    script = {
        "replies": [
            {"text": "Here is the **plan**: change `greet`."},
            {
                "text": "Editing.",
                "tool_calls": [["write_file", {"file_path": "app.py", "content": content}]],
                "hold_until_file": str(release),
            },
            {"text": "Done, and kept it short."},
        ],
        "default": {"text": "(no more scripted replies)"},
    }
    with serve_script_process(script, tmp_path, record) as base_url:
        yield base_url, release, record


def test_a_chat_in_tmux(server: tuple[str, Path, Path], tmp_path: Path) -> None:
    """Prompt, steer while held, /diff, /flush with a confirm, Ctrl+D."""
    base_url, release, record = server
    root = tmp_path / "project"
    root.mkdir()
    (root / "app.py").write_text("def greet():\n    return 'hi'\n")
    env = {
        "OPENAI_API_KEY": "sk-test",
        "HOME": str(tmp_path),
        "TERM": "xterm-256color",
        "PATH": os.environ.get("PATH", ""),
        "TILLER_DATA_DIR": os.environ.get("TILLER_DATA_DIR", str(tmp_path / "data")),
    }
    command = [str(TILLER), "chat", "-m", "openai/fake-model", "--api-base", base_url]
    chat = TmuxPane([*command, "--root", str(root)], root, env, report_exit=True)
    try:
        chat.wait_for("Tiller · openai/fake-model", "idle")
        chat.line("plan it")
        chat.wait_for("Here is the plan: change greet.")

        chat.line("say hello instead")
        chat.wait_for("working")
        # Steer only once the server holds the second request: typed earlier, the
        # steer would ride along with the prompt instead of following the tool round.
        deadline = time.monotonic() + 20
        while not record.exists() or len(record.read_text().splitlines()) < 2:
            assert time.monotonic() < deadline, "the second request never reached the server"
            time.sleep(0.05)  # a poll interval, not a wait for something to happen
        chat.line("keep it short")
        chat.wait_for("↪ steering: keep it short")
        release.touch()
        chat.wait_for("✓ write_file app.py", "Done, and kept it short.", "1 unflushed")
        last = json.loads(record.read_text().splitlines()[-1])
        assert last["body"]["messages"][-1] == {"role": "user", "content": "keep it short"}

        chat.line("/diff")
        chat.wait_for("-    return 'hi'", "+    return 'hello'")

        chat.line("/flush")
        chat.wait_for("M app.py", "Flush? [y/N]")
        chat.line("y")
        chat.wait_for("Wrote 1 file(s).", "0 unflushed")
        assert (root / "app.py").read_text() == "def greet():\n    return 'hello'\n"

        chat.keys("C-d")
        chat.wait_for("EXITED 0")
    finally:
        chat.kill()
