"""Appending result lines: one whole line per finished task, never a torn file."""

from __future__ import annotations

import fcntl
import os
import threading
from pathlib import Path

from tiller.batch.tasks import TaskResult
from tiller.json_lines import dumps_line


class ResultWriter:
    """Appends `TaskResult`s to a JSON-lines file, one `write` of one whole line each.

    The file is opened `O_APPEND`, each line goes out in a single `os.write` under a
    thread lock and an `flock` (two batches on one file never interleave), and is
    fsynced, so a killed batch leaves only whole lines behind. A file whose last
    line was cut short by a crash elsewhere gets a newline first, so the next line
    starts clean.

    Args:
        path: the results file (created when missing).
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o644)
        self._end_torn_line()

    def _end_torn_line(self) -> None:
        size = os.fstat(self._fd).st_size
        if size == 0:
            return
        with self.path.open("rb") as fh:
            fh.seek(size - 1)
            if fh.read(1) != b"\n":
                os.write(self._fd, b"\n")

    def write(self, result: TaskResult) -> None:
        """Append `result` as one line and make it durable."""
        data = (dumps_line(result.to_dict()) + "\n").encode("utf-8")
        with self._lock:
            fcntl.flock(self._fd, fcntl.LOCK_EX)
            try:
                written = os.write(self._fd, data)
                while written < len(data):  # a short write on a full disk or a signal
                    written += os.write(self._fd, data[written:])
                os.fsync(self._fd)
            finally:
                fcntl.flock(self._fd, fcntl.LOCK_UN)

    def close(self) -> None:
        """Close the file."""
        with self._lock:
            if self._fd >= 0:
                os.close(self._fd)
                self._fd = -1

    def __enter__(self) -> ResultWriter:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()
