"""Writing overlay changes to the root: conflict checks, atomic writes, deletes."""

from __future__ import annotations

import os
import secrets
import stat as stat_module
import time
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path

from tiller.errors import FlushError
from tiller.workspace.base import MISSING, BaseTree, Snapshot, signature
from tiller.workspace.flush_lock import TEMP_SUFFIX, record_intent, remove_leftovers
from tiller.workspace.paths import parent


@dataclass(frozen=True)
class PendingChange:
    """One path to flush.

    Attributes:
        path: the workspace path.
        data: the new bytes, or None to delete the file.
        seen: what the workspace saw on disk before changing the path.
    """

    path: str
    data: bytes | None
    seen: Snapshot


def _blocked_by_file(tree: BaseTree, path: str, deleting: set[str]) -> bool:
    """Whether an ancestor of `path` exists on disk as a non-directory that stays."""
    ancestor = parent(path)
    while ancestor:
        full = tree.abspath(ancestor)
        if os.path.lexists(full) and not os.path.isdir(full):
            return ancestor not in deleting
        ancestor = parent(ancestor)
    return False


def resolve_targets(tree: BaseTree, changes: list[PendingChange]) -> None:
    """Check, before anything is written, that every path still resolves inside the root.

    Raises:
        PathEscapeError: a symlink along some path now points outside the root.
    """
    for change in changes:
        tree.resolve(change.path)


def _emptied_dir(tree: BaseTree, path: str, deleting: set[str]) -> bool:
    """Whether `path` is a directory on disk holding only files this flush deletes."""
    full = tree.abspath(path)
    if os.path.islink(full) or not os.path.isdir(full):
        return False
    for directory, _, names in os.walk(full):
        relative = os.path.relpath(directory, tree.root_real)
        for name in names:
            if os.path.normpath(os.path.join(relative, name)) not in deleting:
                return False
    return True


def find_conflicts(tree: BaseTree, changes: list[PendingChange], quick: bool = False) -> list[str]:
    """Every path whose disk state differs from what the workspace saw, sorted.

    A file to be written where the disk has a directory is fine only when the
    flush deletes everything in it (ignored files included). `quick` trusts an
    unchanged stat signature instead of reading the file (for markers drawn on
    every refresh; a flush always compares content).
    """
    deleting = {change.path for change in changes if change.data is None}
    conflicts = []
    for change in changes:
        target = tree.resolve(change.path)
        if change.data is not None and not change.seen.exists and os.path.isdir(target):
            matches = _emptied_dir(tree, change.path, deleting)
        elif quick and _unchanged_signature(change.seen, target):
            matches = True
        else:
            matches = change.seen.matches_disk(target)
        if not matches or (
            change.data is not None and _blocked_by_file(tree, change.path, deleting)
        ):
            conflicts.append(change.path)
    return sorted(conflicts)


def _unchanged_signature(seen: Snapshot, target: str) -> bool:
    """Whether a stat alone proves the file still holds what `seen` read."""
    if not seen.exists:
        return False
    try:
        return seen.trusted_signature(os.stat(target))
    except OSError:
        return False


def temp_name(target: str) -> str:
    """A fresh hidden temp file name next to `target` (short enough for any file system)."""
    directory, name = os.path.split(target)
    stem = os.fsdecode(os.fsencode(name)[:200])
    return os.path.join(directory, f".{stem}.{secrets.token_hex(4)}{TEMP_SUFFIX}")


def write_atomic(target: str, data: bytes, temp: str | None = None) -> None:
    """Write `data` to `target` via a temp file in the same directory and `os.replace`.

    An existing file keeps its permission bits; a new one gets the umask default.
    No fsync: the rename makes the write atomic for readers, and durability is
    left to the OS, as git does by default.
    """
    directory = os.path.dirname(target)
    os.makedirs(directory, exist_ok=True)
    try:
        mode: int | None = stat_module.S_IMODE(os.stat(target).st_mode)
    except FileNotFoundError:
        mode = None
    temp = temp or temp_name(target)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
    fd = os.open(temp, flags, 0o666 if mode is None else 0o600)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        if mode is not None:
            os.chmod(temp, mode)
        os.replace(temp, target)
    except BaseException:
        with suppress(OSError):
            os.unlink(temp)
        raise


def remove_file(tree: BaseTree, path: str) -> None:
    """Delete a file (a symlink itself, not its target) and prune emptied directories."""
    directory = tree.resolve(parent(path))
    target = os.path.join(directory, path.rpartition("/")[2])
    with suppress(FileNotFoundError):
        os.unlink(target)
    root = tree.root_real
    while directory != root and directory.startswith(root.rstrip("/") + "/"):
        try:
            os.rmdir(directory)
        except OSError:
            break
        directory = os.path.dirname(directory)


def apply_changes(
    tree: BaseTree, changes: list[PendingChange], done: dict[str, Snapshot], intent: Path
) -> None:
    """Apply deletes, then writes, recording each flushed path's new snapshot in `done`.

    The temp file names are recorded in `intent` before any is created, so a
    kill part way leaves a list of what to clean up; the list goes once the
    flush ends.

    Raises:
        FlushError: an OS error stopped the flush part way; `done` holds what finished.
    """
    ordered = sorted(changes, key=lambda change: (change.data is not None, change.path))
    targets = {c.path: tree.resolve(c.path) for c in ordered if c.data is not None}
    temps = {path: temp_name(target) for path, target in targets.items()}
    if temps:
        try:
            record_intent(intent, temps.values())
        except OSError as exc:
            raise FlushError(f"Flush not started: {exc.strerror or exc}", []) from exc
    try:
        for change in ordered:
            try:
                if change.data is None:
                    remove_file(tree, change.path)
                    done[change.path] = MISSING
                else:
                    target = targets[change.path]
                    write_atomic(target, change.data, temps[change.path])
                    done[change.path] = snapshot_of_written(target, change.data)
            except OSError as exc:
                raise FlushError(
                    f"Flush stopped at {change.path}: {exc.strerror or exc}; "
                    f"already flushed: {', '.join(sorted(done)) or 'nothing'}",
                    sorted(done),
                ) from exc
    except BaseException:
        remove_leftovers(intent)
        raise
    if temps:
        with suppress(OSError):
            intent.unlink()


def snapshot_of_written(target: str, data: bytes) -> Snapshot:
    """The snapshot of a file we just wrote, without reading it back."""
    st = os.stat(target)
    return Snapshot(data, signature(st), stat_module.S_IMODE(st.st_mode), time.time_ns())
