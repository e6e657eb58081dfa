"""Looking for processes a test's command may have left running on the host."""

from __future__ import annotations

import os
from pathlib import Path


def live_processes() -> list[tuple[int, str]]:
    """`(pid, command line)` of every live host process (zombies left out).

    `bwrap` itself is left out too: its own argv names the command it confines.
    """
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            raw = Path(f"/proc/{entry}/cmdline").read_bytes()
            state = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, UnicodeDecodeError, IndexError):
            continue
        cmdline = raw.replace(b"\0", b" ").decode("utf-8", "replace")
        if state not in ("Z", "X") and "bwrap" not in cmdline:
            found.append((int(entry), cmdline))
    return found
