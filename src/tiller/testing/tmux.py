"""Drive a real terminal program in a detached tmux session, reading it as a person would."""

from __future__ import annotations

import shlex
import subprocess
import time
import uuid
from pathlib import Path


class TmuxPane:
    """One detached tmux session running `command` in `cwd` with `env` added.

    Args:
        command: the program and its arguments.
        cwd: where it runs.
        env: extra environment variables.
        size: (columns, rows) of the pane.
        report_exit: after the program ends, print `EXITED <code>` and keep the
            pane open so a test can read its last screen.
    """

    def __init__(
        self,
        command: list[str],
        cwd: Path,
        env: dict[str, str],
        *,
        size: tuple[int, int] = (120, 40),
        report_exit: bool = False,
    ) -> None:
        self.name = f"tiller-{uuid.uuid4().hex[:8]}"
        # A private server per pane: never the user's own tmux, and nothing shared between tests.
        self._tmux = ["tmux", "-L", self.name]
        exports = " ".join(f"{key}={shlex.quote(value)}" for key, value in env.items())
        # COLUMNS/LINES (pytest exports 80x24) would override the pane's real size.
        shell = f"env -u COLUMNS -u LINES {exports} {shlex.join(command)}"
        if report_exit:
            shell += "; echo EXITED $?; sleep 60"
        columns, rows = size
        geometry = ["-x", str(columns), "-y", str(rows), "-c", str(cwd)]
        start = [*self._tmux, "new-session", "-d", "-s", self.name, *geometry, shell]
        subprocess.run(start, check=True)

    def screen(self) -> str:
        """What the pane shows now."""
        probe = [*self._tmux, "capture-pane", "-p", "-t", self.name]
        return subprocess.run(probe, capture_output=True, text=True).stdout

    def keys(self, *keys: str) -> None:
        """Press keys by tmux name (`Enter`, `C-s`, `Escape`, ...)."""
        subprocess.run([*self._tmux, "send-keys", "-t", self.name, *keys], check=True)

    def type(self, text: str) -> None:
        """Type `text` literally."""
        subprocess.run([*self._tmux, "send-keys", "-t", self.name, "-l", text], check=True)

    def line(self, text: str) -> None:
        """Type `text` and press Enter."""
        self.type(text)
        self.keys("Enter")

    def wait_for(self, *texts: str, timeout: float = 60.0) -> str:
        """Poll until every text is on screen; fail with the screen after `timeout`."""
        deadline = time.monotonic() + timeout
        while True:
            screen = self.screen()
            if all(text in screen for text in texts):
                return screen
            if time.monotonic() > deadline:
                raise AssertionError(f"never saw {texts!r}; the screen was:\n{screen}")
            time.sleep(0.05)  # a poll interval, not a wait for something to happen

    def alive(self) -> bool:
        """Whether the tmux session still exists."""
        probe = [*self._tmux, "has-session", "-t", self.name]
        return subprocess.run(probe, capture_output=True).returncode == 0

    def kill(self) -> None:
        """End the program and this pane's tmux server."""
        subprocess.run([*self._tmux, "kill-server"], capture_output=True)
