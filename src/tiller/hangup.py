"""After a hang-up, the process ends even if its front end cannot finish exiting.

A closed terminal (SIGHUP) or SIGTERM makes the TUI and the REPL close their
sessions first (journal ended, shell sandbox removed), then exit normally. That
normal exit writes to a terminal that is gone; under load it was seen to hang
(the sessions already closed, the process still alive a minute later). Nothing
is left to save by then, so a short grace period later the process ends anyway.
"""

from __future__ import annotations

import os
import threading

GRACE_SECONDS = 5.0


def exit_after_grace(signum: int, grace: float = GRACE_SECONDS) -> None:
    """End the process with status 128 + `signum` in `grace` seconds unless it ended first."""
    timer = threading.Timer(grace, os._exit, (128 + signum,))
    timer.daemon = True  # a process that exits on its own is not held up by it
    timer.start()
