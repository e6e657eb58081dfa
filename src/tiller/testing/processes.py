"""Looking for processes a test's command may have left running on the host."""

from __future__ import annotations

import os
import sys
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


def interruptible(argv: list[str]) -> list[str]:
    """`argv` run so that SIGINT is a KeyboardInterrupt in it, whatever its parent ignores.

    A suite started as a background job (`cmd &` in a script) runs with SIGINT
    ignored, and children inherit that: a Ctrl+C test would then wait forever.
    The wrapper restores the default before exec'ing the real program.
    """
    reset = (
        "import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_DFL); "
        "os.execv(sys.argv[1], sys.argv[1:])"
    )
    return [sys.executable, "-c", reset, *argv]
