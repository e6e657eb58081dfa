"""One flush at a time per root, across threads and processes, and cleaning up after a killed one.

A flush holds an exclusive `fcntl.flock` on a lock file in the user data
directory, named by a hash of the root's real path, from its conflict check to
its last rename; a second workspace on the same root waits, then finds the
first one's writes as conflicts. Roots can nest (one Tiller in a project, one
in its `src/`), so a flush also holds a shared lock on each ancestor directory's
lock file, taken from the top down (one order for everyone: no deadlock): a
flush on a root waits for flushes on any directory inside it, and the other way
round, while flushes on sibling directories still run side by side.

Before creating temp files a flush records their names in an intent file next
to the lock; a flush that finishes removes it, so one left behind means a flush
was killed, and the next workspace on the root (or the next flush) deletes the
temp files it lists.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path

from tiller.errors import FlushError

TEMP_SUFFIX = ".tiller-tmp"
"""Every temp file a flush creates ends with this (and starts with a dot)."""


def _locks_dir() -> Path:
    # Imported here: journal imports the tools, which import the workspace.
    from tiller.journal import data_dir

    return data_dir() / "locks"


def _fallback_dir() -> Path:
    return Path(tempfile.gettempdir()) / f"tiller-locks-{os.getuid()}"


def _key(root_real: str) -> str:
    return hashlib.sha256(os.fsencode(root_real)).hexdigest()[:32]


def lock_paths(root_real: str) -> tuple[Path, Path]:
    """The lock file and the intent file for a root, their directory created (0700)."""
    name = _key(root_real)
    for directory in (_locks_dir(), _fallback_dir()):
        try:
            directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        except OSError:
            continue
        if os.access(directory, os.W_OK):
            return directory / f"{name}.lock", directory / f"{name}.intent"
    raise FlushError(f"Cannot create a flush lock for {root_real}: no writable data directory", [])


def is_temp_name(name: str) -> bool:
    """Whether a file name is one of a flush's temp files (never a workspace file)."""
    return name.startswith(".") and name.endswith(TEMP_SUFFIX)


@contextlib.contextmanager
def root_lock(root_real: str) -> Iterator[Path]:
    """Hold the root's flush lock (blocking); yields the intent file path.

    Shared locks on every ancestor directory's lock file come first (see above).
    Leftovers of a killed flush are removed first, under the lock.

    Raises:
        FlushError: no lock file could be created.
    """
    lock, intent = lock_paths(root_real)
    ancestors = [lock.with_name(f"{_key(str(p))}.lock") for p in reversed(Path(root_real).parents)]
    with contextlib.ExitStack() as held:
        for path in ancestors:
            held.enter_context(_flock(path, fcntl.LOCK_SH))
        held.enter_context(_flock(lock, fcntl.LOCK_EX))
        remove_leftovers(intent)
        yield intent


@contextlib.contextmanager
def _flock(lock: Path, mode: int) -> Iterator[None]:
    """Hold `flock(mode)` on a lock file, created if missing; closing releases it."""
    try:
        fd = os.open(lock, os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o600)
    except OSError as exc:
        raise FlushError(f"Cannot open the flush lock {lock}: {exc.strerror or exc}", []) from exc
    try:
        fcntl.flock(fd, mode)
        yield
    finally:
        os.close(fd)


def clean_if_idle(root_real: str) -> None:
    """Remove a killed flush's temp files when no flush on the root is running (never waits)."""
    try:
        lock, intent = lock_paths(root_real)
    except FlushError:
        return
    if not intent.exists():
        return
    try:
        fd = os.open(lock, os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o600)
    except OSError:
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        return  # a flush is running; it cleans up when it takes the lock
    try:
        remove_leftovers(intent)
    finally:
        os.close(fd)


def record_intent(intent: Path, temps: Iterable[str]) -> None:
    """Write the temp file names a flush is about to create (one JSON string per line)."""
    lines = "".join(json.dumps(os.fsencode(t).decode("latin-1")) + "\n" for t in temps)
    fd = os.open(intent, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_CLOEXEC", 0), 0o600)
    try:
        os.write(fd, lines.encode("ascii", "backslashreplace"))
    finally:
        os.close(fd)


def remove_leftovers(intent: Path) -> None:
    """Delete the temp files an intent file lists, then the intent file."""
    try:
        text = intent.read_text(encoding="ascii", errors="replace")
    except FileNotFoundError:
        return
    except OSError:
        return
    for line in text.splitlines():
        try:
            name = os.fsdecode(json.loads(line).encode("latin-1"))
        except (ValueError, UnicodeEncodeError):
            continue  # a line torn by the kill: its temp file was never created
        if is_temp_name(os.path.basename(name)):
            with contextlib.suppress(OSError):
                os.unlink(name)
    with contextlib.suppress(OSError):
        intent.unlink()
